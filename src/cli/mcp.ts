import type { Command } from 'commander';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
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
      // A signal ends the session at once; the client closing stdin ends it once every request it sent is
      // answered (`… | gatehouse mcp` in a script writes its calls and closes stdin before the answers come).
      const closed = new Promise<void>((resolve) => {
        transport.onclose = resolve;
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.connect(transport);
      const answered = answeredAfterInput(transport);
      process.stderr.write(`gatehouse mcp: serving ${flags.readOnly ? 'read-only ' : ''}tools over stdio through ${endpoint.server}\n`);
      await Promise.race([closed, answered]);
      await server.close();
      await client.close();
    });
}

/**
 * Resolves once stdin has ended and every request that came in on it was
 * answered: counts requests in (messages with an id and a method) and
 * responses out (an id, no method) on the connected transport.
 */
export function answeredAfterInput(transport: Transport, input: NodeJS.ReadableStream = process.stdin): Promise<void> {
  const pending = new Set<string | number>();
  let ended = false;
  return new Promise((resolve) => {
    const settle = (): void => {
      if (ended && pending.size === 0) resolve();
    };
    const received = transport.onmessage;
    transport.onmessage = (message, extra) => {
      if ('id' in message && 'method' in message) pending.add(message.id);
      received?.(message, extra);
    };
    const send = transport.send.bind(transport);
    transport.send = async (message, options) => {
      await send(message, options);
      if ('id' in message && message.id !== undefined && !('method' in message)) {
        pending.delete(message.id);
        settle();
      }
    };
    input.once('end', () => {
      ended = true;
      settle();
    });
  });
}
