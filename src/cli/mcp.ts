import type { Command } from 'commander';
import { resolveGatewayEndpoint, withConsoleClientOptions } from './console-client.js';
import type { ConsoleClientFlags } from './console-client.js';

interface McpFlags extends ConsoleClientFlags {
  readOnly?: boolean;
  namespace?: string;
  maxOutput: string;
}

export function registerMcp(program: Command): void {
  withConsoleClientOptions(program.command('mcp'))
    .description(
      'serve Kubernetes tools to an AI agent over MCP (stdio); every tool call is a Kubernetes request through the gateway with your credential, so policy, approvals, masking and audit apply (docs/mcp.md)',
    )
    .option('--read-only', 'offer only tools that do not change the cluster')
    .option('-n, --namespace <name>', "namespace tools default to (default: the kubeconfig context's, else \"default\")")
    .option('--max-output <chars>', 'cut each tool result to this many characters', '50000')
    .addHelpText(
      'after',
      '\nExample (Claude Code):\n  claude mcp add gatehouse -- gatehouse mcp --kubeconfig ~/.kube/gatehouse-agent.kubeconfig\n\nstdout carries the MCP protocol; messages for people go to stderr.',
    )
    .action(async (flags: McpFlags) => {
      const maxOutput = Number(flags.maxOutput);
      if (!Number.isInteger(maxOutput) || maxOutput < 1000) throw new Error('--max-output must be a whole number of at least 1000');
      const endpoint = resolveGatewayEndpoint(flags);
      // A kubeconfig for one of the gateway's clusters (…/clusters/<name>) keeps the tools on that cluster.
      // Loaded here, not with the command line: the MCP SDK, undici and ws weigh ~15 MB in every other command (serve included).
      const [{ StdioServerTransport }, { createGatewayClient }, { createGatehouseMcpServer }] = await Promise.all([
        import('@modelcontextprotocol/sdk/server/stdio.js'),
        import('../mcp/gateway-client.js'),
        import('../mcp/server.js'),
      ]);
      const client = createGatewayClient(endpoint);
      const server = createGatehouseMcpServer({ client, readOnly: flags.readOnly ?? false, defaultNamespace: flags.namespace ?? endpoint.namespace, maxOutput });
      const transport = new StdioServerTransport();
      // The client closing stdin ends the session; a signal from the terminal too.
      const closed = new Promise<void>((resolve) => {
        transport.onclose = resolve;
        process.stdin.once('end', resolve);
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.connect(transport);
      process.stderr.write(`gatehouse mcp: serving ${flags.readOnly ? 'read-only ' : ''}tools over stdio through ${endpoint.server}\n`);
      await closed;
      await server.close();
      await client.close();
    });
}
