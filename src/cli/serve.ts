import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { parseConfig, readConfigFile } from '../config/schema.js';
import type { GatehouseConfig } from '../config/schema.js';
import { watchConfigFile } from '../config/watch.js';
import { startGateway } from '../gateway.js';
import { createLogger } from '../log/logger.js';
import { announceGateway, closeOnSignal, reloadOnSignal } from './announce.js';

interface ServeFlags {
  config?: string;
  upstreamKubeconfig?: string;
  context?: string;
  listen?: string;
  dataDir?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsSan?: string[];
  maxBodyBytes?: string;
  logLevel?: string;
  accessLog: boolean;
  metricsListen?: string;
  impersonate?: boolean;
  policy?: string[];
  guardrails: boolean;
  defaultAction?: string;
  approvals: boolean;
  approvalHold?: string;
  consoleUrl?: string;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the gateway in front of one Kubernetes API server, or the clusters named in its config (docs/config.md)')
    .addHelpText(
      'after',
      `
Examples:
  gatehouse serve --upstream-kubeconfig ~/.kube/config --context staging --listen 0.0.0.0:6443 --impersonate
  gatehouse serve -c /etc/gatehouse/gatehouse.yaml
  gatehouse serve -c gatehouse.yaml --policy ./team-policies --metrics-listen 127.0.0.1:9090`,
    )
    .option('-c, --config <file>', 'gatehouse.yaml with the full configuration (flags override it)')
    .option('--upstream-kubeconfig <file>', 'kubeconfig holding the cluster credential the gateway uses (default $KUBECONFIG or ~/.kube/config)')
    .option('--context <name>', 'context of the upstream kubeconfig (default: its current-context)')
    .option('--listen <host:port>', 'address to listen on (default 127.0.0.1:6443)')
    .option('--data-dir <dir>', 'where the CA, serving certificate and bootstrap credential live (default ~/.gatehouse)')
    .option('--tls-cert <file>', 'serving certificate (PEM); default: one issued by a generated CA')
    .option('--tls-key <file>', 'private key for --tls-cert')
    .option('--tls-san <name...>', 'extra DNS names or IPs for the generated serving certificate')
    .option('--max-body-bytes <n>', 'largest request body buffered for inspection (default 3145728)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (default info)')
    .option('--no-access-log', 'no info line per request (log.access: false)')
    .option('--metrics-listen <host:port>', 'serve Prometheus metrics at http://<host:port>/metrics (default: off)')
    .option('--policy <path...>', 'policy files or directories to load (hot-reloaded), after the built-in guardrails')
    .option('--no-guardrails', 'do not load the built-in guardrail pack')
    .option('--default-action <action>', 'outcome for requests no rule matches: deny (default), allow, review or mask')
    .option('--impersonate', "forward each caller as Impersonate-User/Group so the cluster's RBAC applies too (the gateway credential needs the impersonate verb)")
    .option('--approval-hold <seconds>', 'how long a request that needs approval waits for a decision before the client is told to retry (default 60)')
    .option('--no-approvals', 'refuse requests that need approval at once instead of holding them (GH_APPROVAL_UNAVAILABLE)')
    .option('--console-url <url>', 'the console address put in messages and notifications (default: the gateway URL + /ui)')
    .action(async (flags: ServeFlags) => {
      const config = serveConfig(flags);
      const log = createLogger(config.log.level);
      // A reload reads the file again and puts the same flags over it.
      const gateway = await startGateway(config, log, { reloadConfig: () => serveConfig(flags), configFile: flags.config === undefined ? undefined : resolve(flags.config) });
      announceGateway(gateway);
      const watching = flags.config === undefined ? undefined : watchConfigFile(flags.config, () => gateway.reload('file'), log);
      closeOnSignal(log, () => {
        watching?.close();
        return gateway.close();
      });
      reloadOnSignal(log, () => gateway.reload('signal'));
    });
}

/** The config file (if any) with the command-line flags over it, validated. */
function serveConfig(flags: ServeFlags): GatehouseConfig {
  const fromFile = (flags.config ? readConfigFile(flags.config) : {}) as Record<string, Record<string, unknown> | undefined>;
  const merged: Record<string, unknown> = { ...fromFile };
  const section = (name: string, values: Record<string, unknown>): void => {
    const defined = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
    if (Object.keys(defined).length > 0) merged[name] = { ...fromFile[name], ...defined };
  };
  const listen = flags.listen ? parseListen(flags.listen) : {};
  section('listen', listen);
  section('tls', { certFile: flags.tlsCert, keyFile: flags.tlsKey, extraSans: flags.tlsSan });
  section('upstream', {
    // The local kubeconfig is the default upstream only when the file names no cluster at all.
    kubeconfig: flags.upstreamKubeconfig ?? (fromFile.upstream?.kubeconfig === undefined && fromFile.clusters === undefined ? defaultKubeconfig() : undefined),
    context: flags.context,
  });
  section('limits', { maxBodyBytes: flags.maxBodyBytes === undefined ? undefined : Number(flags.maxBodyBytes) });
  section('log', { level: flags.logLevel, access: flags.accessLog ? undefined : false });
  section('metrics', { listen: flags.metricsListen });
  if (flags.impersonate) section('identity', { impersonation: { enabled: true } });
  const filePolicy = fromFile.policy as { paths?: string[] } | undefined;
  section('policy', {
    paths: flags.policy ? [...(filePolicy?.paths ?? []), ...flags.policy] : undefined,
    builtinGuardrails: flags.guardrails ? undefined : false,
    defaultAction: flags.defaultAction,
  });
  section('approvals', {
    enabled: flags.approvals ? undefined : false,
    holdSeconds: flags.approvalHold === undefined ? undefined : Number(flags.approvalHold),
    consoleUrl: flags.consoleUrl,
  });
  if (flags.dataDir) merged.dataDir = flags.dataDir;
  return parseConfig(merged, flags.config ?? 'command-line options');
}

export function parseListen(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value);
  if (!match) throw new Error(`--listen must be host:port, got "${value}"`);
  return { host: match[1] ?? (match[2] || '127.0.0.1'), port: Number(match[3]) };
}

export function defaultKubeconfig(): string {
  const env = process.env.KUBECONFIG?.split(':').find((p) => p.length > 0);
  return env ?? join(process.env.HOME ?? '.', '.kube', 'config');
}
