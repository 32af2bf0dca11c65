import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { parseConfig, readConfigFile } from '../config/schema.js';
import { startGateway } from '../gateway.js';
import type { Gateway } from '../gateway.js';
import { createLogger } from '../log/logger.js';
import { announceGateway, closeOnSignal, reloadOnSignal } from './announce.js';
import { watchConfigFile } from '../config/watch.js';
import { defaultKubeconfig, parseListen } from './serve.js';
import { CONFIG_FILE, ensureConfig, updateConfig } from './up/config-file.js';
import type { DemoStack } from './up/demo.js';
import { ADMIN_KUBECONFIG, ensureAgentKubeconfig, refreshKubeconfig } from './up/kubeconfigs.js';
import { printNextSteps } from './up/next-steps.js';
import { checkDataDir, checkUpstream, reservePort } from './up/preflight.js';
import { createTerminal, FixableError } from './up/terminal.js';
import type { Terminal } from './up/terminal.js';

interface UpFlags {
  demo?: boolean;
  kubeconfig?: string;
  context?: string;
  listen?: string;
  dataDir?: string;
  yes?: boolean;
  approvalHold?: string;
  newAgentToken?: boolean;
  logLevel?: string;
}

export const DEFAULT_DATA_DIR = join(homedir(), '.gatehouse');
/** The demo keeps its own directory, so its tokens and record never mix with a real cluster's. */
export const DEFAULT_DEMO_DATA_DIR = join(homedir(), '.gatehouse-demo');
const DEFAULT_LISTEN = '127.0.0.1:6443';

const EXAMPLES = `
Examples:
  $ gatehouse up                          # guard the current kubectl context (asks first on a terminal)
  $ gatehouse up --context staging --yes  # guard another context, without asking
  $ gatehouse up --demo                   # no cluster? a local control plane, sample workloads and demo users
  $ gatehouse up --new-agent-token        # replace the agent's token (the old one is revoked)

The first run writes <data-dir>/gatehouse.yaml (guardrails on, requests no
rule allows refused, Secrets masked, SQLite record, approvals held for the
bootstrap admin), policies/starter.yaml, a CA and serving certificate,
admin.kubeconfig and gatehouse-agent.kubeconfig. Later runs reuse all of it.
Exit codes: 0 stopped cleanly, 1 a failed check or start (one line says how to fix it).`;

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('first run and restart: put the gateway (and console) in front of your current cluster, or a local demo, with a kubeconfig for your AI agent')
    .option('--demo', 'start a real local control plane (kube-apiserver, etcd, a kwok node) with sample workloads and a demo identity provider, and guard it; the default when there is no kubeconfig')
    .option('--kubeconfig <file>', 'kubeconfig of the cluster to guard (default $KUBECONFIG or ~/.kube/config)')
    .option('--context <name>', 'context of that kubeconfig (default: its current-context)')
    .option('-y, --yes', 'do not ask before guarding the context')
    .option('--listen <host:port>', `address the gateway listens on (default: gatehouse.yaml's, else ${DEFAULT_LISTEN})`)
    .option('--data-dir <dir>', `configuration, keys, tokens and the record (default ${DEFAULT_DATA_DIR}, or ${DEFAULT_DEMO_DATA_DIR} with --demo)`)
    .option('--approval-hold <seconds>', 'for this run: how long a request that needs approval waits for a decision (0: answer at once with the approval id)')
    .option('--new-agent-token', 'revoke the agent token and write gatehouse-agent.kubeconfig with a new one')
    .option('--log-level <level>', "gateway log on stderr: fatal|error|warn|info|debug|trace|silent (default gatehouse.yaml's log.level, else warn; every request is in the audit record anyway)")
    .addHelpText('after', EXAMPLES)
    .action((flags: UpFlags) => up(flags));
}

async function up(flags: UpFlags): Promise<void> {
  const term = createTerminal();
  const kubeconfig = resolve(flags.kubeconfig ?? defaultKubeconfig());
  // No cluster to guard and none asked for: the demo is the only useful thing to start.
  const demo =
    flags.demo === true || (!flags.kubeconfig && !flags.context && !existsSync(kubeconfig) && !existsSync(join(flags.dataDir ?? DEFAULT_DATA_DIR, CONFIG_FILE)));
  const dataDir = resolve(flags.dataDir ?? (demo ? DEFAULT_DEMO_DATA_DIR : DEFAULT_DATA_DIR));
  if (demo && !flags.demo) term.say(`no kubeconfig at ${kubeconfig}: starting the local demo (--kubeconfig or --context guard a real cluster)`);

  checkDataDir(dataDir);
  const configPath = join(dataDir, CONFIG_FILE);
  const existing = existsSync(configPath) ? (readConfigFile(configPath) as Record<string, unknown>) : undefined;
  const listen = flags.listen ? parseListen(flags.listen) : existing ? parseConfig(existing, configPath).listen : parseListen(DEFAULT_LISTEN);
  const reserved = await reservePort(listen);

  let demoStack: DemoStack | undefined;
  let upstream: { kubeconfig: string; context?: string | undefined };
  let guarding: string;
  let namespace: string | undefined;
  if (demo) {
    // Loaded only here: the bundled identity provider is a heavy import that warns on some Node versions.
    const { DEMO_NAMESPACE, startDemo } = await import('./up/demo.js');
    demoStack = await startDemo(reserved.url, term);
    upstream = { kubeconfig: demoStack.upstreamKubeconfig };
    guarding = 'the local demo control plane';
    namespace = DEMO_NAMESPACE;
  } else {
    const fromFile = existing && !flags.kubeconfig && !flags.context ? parseConfig(existing, configPath).upstream : undefined;
    upstream = fromFile ?? { kubeconfig, context: flags.context };
    const done = term.progress(`checking the cluster (${upstream.context ? `context "${upstream.context}"` : 'current context'} of ${upstream.kubeconfig})`);
    const facts = await checkUpstream(upstream.kubeconfig, upstream.context);
    done(`context "${facts.target.contextName}": ${facts.target.server.origin}, Kubernetes ${facts.version}`);
    guarding = `context "${facts.target.contextName}" (${facts.target.server.origin})`;
    namespace = facts.target.namespace;
    if (existing && !fromFile) term.detail(`for this run only: ${CONFIG_FILE} keeps its upstream (edit it to switch for good)`);
    // Guarding a cluster hands its credential to the gateway: ask, once, on a terminal.
    if (!existing && !flags.yes && process.stdin.isTTY && !(await term.confirm(`Put Gatehouse in front of ${guarding}?`))) {
      throw new FixableError('not confirmed', 'pick the cluster with --context <name>, or pass --yes');
    }
    upstream = { kubeconfig: upstream.kubeconfig, context: facts.target.contextName };
  }

  let gateway: Gateway | undefined;
  try {
    const file = ensureConfig({ dataDir, listen, upstream });
    term.say(file.created ? `wrote ${file.path} and the starter policy` : `using ${file.path}`);
    const raw = demoStack ? updateConfig(file.path, demoStack.config) : file.raw;
    const run = { upstream, port: reserved.port, listen, flags };
    const config = parseConfig(runOverrides(raw, run), file.path);
    const started = term.progress('starting the gateway');
    // A reload reads the file again and puts this run's settings over it, as at start.
    const reloadConfig = () => parseConfig(runOverrides(readConfigFile(file.path) as Record<string, unknown>, run), file.path);
    gateway = await startGateway(config, createLogger(config.log.level), { reloadConfig, configFile: file.path }).catch((err: unknown) => {
      // Taken between the check above and now.
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new FixableError(`${listen.host}:${reserved.port} is already in use`, `pass --listen ${listen.host}:<another port>`);
      throw err;
    });
    started();
    announceGateway(gateway);
    const address = { server: gateway.url, caPem: gateway.state.tls.caPem };
    refreshKubeconfig(join(dataDir, ADMIN_KUBECONFIG), address);
    const agent = await ensureAgentKubeconfig(config, address, { renew: flags.newAgentToken === true, namespace });
    printNextSteps(term, {
      gatewayUrl: gateway.url,
      guarding,
      dataDir,
      dataDirFlag: flags.dataDir ? ` --data-dir ${dataDir}` : '',
      configPath: file.path,
      agent,
      demoUsers: demoStack?.users,
    });
  } catch (err) {
    await gateway?.close();
    await demoStack?.stop();
    throw err;
  }
  const running = gateway;
  const log = term.tty ? quietLog(term) : createLogger('info');
  const watching = watchConfigFile(configPath, () => running.reload('file'), createLogger('warn'));
  closeOnSignal(log, async () => {
    watching.close();
    await running.close();
    await demoStack?.stop();
  });
  reloadOnSignal(log, () => running.reload('signal'));
}

/** This run's settings over the file's: the upstream checked above, the port reserved, the flags given. */
function runOverrides(
  raw: Record<string, unknown>,
  run: { upstream: { kubeconfig: string; context?: string | undefined }; port: number; listen: { host: string }; flags: UpFlags },
): Record<string, unknown> {
  const section = (name: string): Record<string, unknown> => (raw[name] as Record<string, unknown> | undefined) ?? {};
  const hold = run.flags.approvalHold;
  if (hold !== undefined && !/^\d+$/.test(hold)) throw new FixableError(`--approval-hold must be whole seconds, got "${hold}"`, 'pass e.g. --approval-hold 60');
  return {
    ...raw,
    upstream: run.upstream,
    listen: { host: run.listen.host, port: run.port },
    log: { level: 'warn', ...section('log'), ...(run.flags.logLevel ? { level: run.flags.logLevel } : {}) },
    approvals: { ...section('approvals'), ...(hold !== undefined ? { holdSeconds: Number(hold) } : {}) },
  };
}

/** On a terminal, shutting down is said in words, not a JSON log line. */
function quietLog(term: Terminal): { info(obj: object, msg: string): void; error(obj: object, msg: string): void } {
  return {
    info: (_obj, msg) => term.say(msg),
    error: (obj, msg) => term.say(term.red(`${msg}: ${String((obj as { err?: unknown }).err)}`)),
  };
}
