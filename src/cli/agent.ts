import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Command } from 'commander';
import { runAgent, tunnelUrl } from '../agent/connect.js';
import type { RunningAgent } from '../agent/connect.js';
import { clusterNameSchema } from '../clusters/config.js';
import { createLogger } from '../log/logger.js';
import { createHealthHandler, pingCheck } from '../proxy/health.js';
import type { HealthCheck } from '../proxy/health.js';
import { createUpstream } from '../upstream/client.js';
import { inClusterTarget, runningInCluster } from '../upstream/in-cluster.js';
import { loadKubeconfig } from '../upstream/kubeconfig.js';
import type { UpstreamTarget } from '../upstream/kubeconfig.js';
import { closeOnSignal } from './announce.js';
import { parseListen } from './serve.js';

interface AgentFlags {
  gateway?: string;
  cluster?: string;
  token?: string;
  tokenFile?: string;
  gatewayCa?: string;
  kubeconfig?: string;
  context?: string;
  proxy?: string;
  healthListen?: string;
  logLevel?: string;
}

/** What `gatehouse agent` runs with, validated. */
interface AgentSettings {
  gatewayUrl: URL;
  cluster: string;
  token: string;
  gatewayCa: Buffer | undefined;
  target: UpstreamTarget;
  proxy: URL | undefined;
  health: { host: string; port: number } | undefined;
}

// Usage errors exit with 2 (as `sh` and most CLIs do), runtime failures with 1.
const USAGE_EXIT_CODE = 2;

export function registerAgent(program: Command): void {
  program
    .command('agent')
    .description("run a cluster agent: dial out to a gateway and carry its requests to this cluster's API server with the agent's credential")
    .option('--gateway <url>', 'the gateway, https://host[:port] (the tunnel is wss://host/gatehouse/v1/tunnel)')
    .option('--cluster <name>', 'the cluster this agent serves, as named in the gateway configuration')
    .option('--token <token>', 'the agent token from `gatehouse clusters add` (visible to `ps`; prefer --token-file or $GATEHOUSE_AGENT_TOKEN)')
    .option('--token-file <path>', 'file holding the agent token')
    .option('--gateway-ca <pem>', "PEM file with the CA of the gateway's certificate (default: the system roots)")
    .option('--kubeconfig <path>', 'kubeconfig with the credential for the API server (default: the pod service account, in a cluster)')
    .option('--context <name>', 'context of --kubeconfig (default: its current-context)')
    .option('--proxy <url>', 'HTTP proxy to reach the gateway through, http://[user:pass@]host:port (default: $HTTPS_PROXY, honouring $NO_PROXY)')
    .option('--health-listen <host:port>', 'serve /livez and /readyz (200 while the tunnel is up) over plain HTTP for Kubernetes probes')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (default info)')
    .addHelpText(
      'after',
      `
Examples:
  # In a pod: the API server and credential come from its service account
  GATEHOUSE_AGENT_TOKEN=... gatehouse agent --gateway https://gatehouse.example.com --cluster prod --health-listen 0.0.0.0:8080

  # From a machine with a kubeconfig, through a corporate proxy
  gatehouse agent --gateway https://gatehouse.example.com:6443 --cluster staging --token-file staging.token \\
    --kubeconfig ~/.kube/staging --context admin --proxy http://proxy.corp:3128 --gateway-ca gatehouse-ca.pem`,
    )
    .action(async function (this: Command, flags: AgentFlags) {
      let settings: AgentSettings;
      try {
        settings = agentSettings(flags, process.env);
      } catch (err) {
        this.error(`error: ${(err as Error).message}`, { exitCode: USAGE_EXIT_CODE, code: 'gatehouse.usage' });
      }
      const log = createLogger(flags.logLevel ?? 'info');
      const upstream = createUpstream(settings.target);
      const agent = runAgent({
        gatewayUrl: settings.gatewayUrl,
        cluster: settings.cluster,
        token: settings.token,
        gatewayCa: settings.gatewayCa,
        upstream,
        proxy: settings.proxy,
        log,
        version: this.parent?.version() ?? 'unknown',
      });
      const stop = async (): Promise<void> => {
        await agent.stop();
        upstream.close();
      };
      let health: { close(): void } | undefined;
      if (settings.health) {
        try {
          health = await serveHealth(settings.health, agent);
        } catch (err) {
          await stop();
          throw err;
        }
      }
      closeOnSignal(log, async () => {
        health?.close();
        await stop();
      });
    });
}

/**
 * Validates the flags (and GATEHOUSE_AGENT_TOKEN / KUBERNETES_SERVICE_HOST)
 * into the agent's settings; every problem is a usage error with the flag named.
 */
export function agentSettings(flags: AgentFlags, env: NodeJS.ProcessEnv): AgentSettings {
  if (!flags.gateway) throw new Error('--gateway <url> is required');
  let gatewayUrl: URL;
  try {
    gatewayUrl = new URL(flags.gateway);
  } catch {
    throw new Error(`--gateway must be a URL such as https://gatehouse.example.com, got "${flags.gateway}"`);
  }
  tunnelUrl(gatewayUrl);
  if (!flags.cluster) throw new Error('--cluster <name> is required');
  const cluster = clusterNameSchema.safeParse(flags.cluster);
  if (!cluster.success) throw new Error(`--cluster "${flags.cluster}": ${cluster.error.issues[0]?.message ?? 'invalid'}`);
  return {
    gatewayUrl,
    cluster: cluster.data,
    token: agentToken(flags, env),
    gatewayCa: flags.gatewayCa ? readFile(flags.gatewayCa, '--gateway-ca') : undefined,
    target: upstreamTarget(flags, env),
    proxy: flags.proxy ? proxyUrl(flags.proxy) : undefined,
    health: flags.healthListen ? healthListen(flags.healthListen) : undefined,
  };
}

function agentToken(flags: AgentFlags, env: NodeJS.ProcessEnv): string {
  if (flags.token !== undefined && flags.tokenFile !== undefined) throw new Error('give --token or --token-file, not both');
  const token = flags.tokenFile !== undefined ? readFile(flags.tokenFile, '--token-file').toString('utf8').trim() : (flags.token ?? env.GATEHOUSE_AGENT_TOKEN)?.trim();
  if (token === undefined) throw new Error('no agent token: pass --token-file <path> or --token <token>, or set GATEHOUSE_AGENT_TOKEN');
  if (token === '') throw new Error(flags.tokenFile !== undefined ? `the token file ${flags.tokenFile} is empty` : 'the agent token is empty');
  return token;
}

function upstreamTarget(flags: AgentFlags, env: NodeJS.ProcessEnv): UpstreamTarget {
  if (flags.kubeconfig) return loadKubeconfig(flags.kubeconfig, flags.context);
  if (flags.context) throw new Error('--context goes with --kubeconfig');
  if (!runningInCluster(env)) {
    throw new Error('no API server to serve: pass --kubeconfig <path>, or run the agent in a pod of the cluster (KUBERNETES_SERVICE_HOST is not set)');
  }
  return inClusterTarget(env);
}

function proxyUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`--proxy must be a URL such as http://proxy.corp:3128, got "${value}"`);
  }
  if (url.protocol !== 'http:') throw new Error(`--proxy must be an http:// URL (the tunnel is TLS inside the proxy's CONNECT), got "${value}"`);
  return url;
}

function healthListen(value: string): { host: string; port: number } {
  try {
    return parseListen(value);
  } catch {
    throw new Error(`--health-listen must be host:port, e.g. 0.0.0.0:8080 for the kubelet's probes, got "${value}"`);
  }
}

function readFile(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`${flag} ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
}

// /livez answers while the process runs; /readyz only while the tunnel is up, with why not otherwise.
async function serveHealth(listen: { host: string; port: number }, agent: RunningAgent): Promise<{ close(): void }> {
  const tunnelCheck: HealthCheck = { name: 'tunnel', run: () => (agent.connected() ? { ok: true } : { ok: false, reason: agent.describe() }) };
  const health = createHealthHandler({ livez: [pingCheck], readyz: [tunnelCheck] });
  const server = createServer((req, res) => {
    if (!health(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot serve health checks on ${listen.host}:${listen.port}: ${err.message}`)));
    server.listen(listen.port, listen.host, resolve);
  });
  return { close: () => server.close() };
}
