/**
 * What the benchmarks run against: the real control plane (started here, or
 * one handed in), a gateway in front of it (full guardrail pack, permissive
 * baseline, audit in SQLite), `kubectl proxy` and a bare Node.js proxy
 * (node-proxy.ts) in front of the same API server, and on demand a second
 * gateway recording to PostgreSQL. Each piece starts the first time a
 * benchmark asks for it.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { packageRoot } from '../../src/harness/binaries.js';
import { startCluster } from '../../src/harness/cluster.js';
import { startPostgres } from '../../src/harness/postgres.js';
import type { PostgresServer } from '../../src/harness/postgres.js';
import { startGatewayProcess } from '../../test/e2e/helpers/gateway.js';
import type { GatewayProcess } from '../../test/e2e/helpers/gateway.js';
import type { NodeProxyConfig } from './node-proxy.js';
import { clientFor } from './targets.js';
import type { Client, Target } from './targets.js';

/** The control plane's facts the benchmarks need (the harness `Cluster`'s, its `files` flat as the e2e setup provides them). */
export interface ClusterInfo {
  readonly server: string;
  readonly caPem: string;
  readonly adminToken: string;
  /**
   * A kubeconfig with {@link ClusterInfo.adminToken}: what the gateway and kubectl proxy present upstream, so every
   * side reaches the API server with the credential the direct client uses (the admin's client certificate costs the
   * API server ~150 µs more per request than the token: an x509 verification each time).
   */
  readonly adminTokenKubeconfig: string;
  /** Process groups of the API server and etcd, when the benchmark started the control plane (for their CPU). */
  readonly pids?: Readonly<Record<'kube-apiserver' | 'etcd', number>>;
}

export interface BenchEnv {
  readonly cluster: ClusterInfo;
  readonly direct: Target;
  gateway(): Promise<Target>;
  /** The same gateway as {@link BenchEnv.gateway}, called with an AI agent's Gatehouse token: its reads are masked (guardrail agent-reads). */
  gatewayAsAgent(): Promise<Target>;
  /** Another gateway like {@link BenchEnv.gateway}, just started: memory figures without what earlier benchmarks left behind. */
  freshGateway(): Promise<Target>;
  proxy(): Promise<Target>;
  /** The reference Node.js proxy (node-proxy.ts), serving with the gateway's certificate. */
  nodeProxy(): Promise<Target>;
  /** A second gateway whose audit store is PostgreSQL (started with its own server). */
  gatewayPg(): Promise<Target>;
  /** The PostgreSQL server (started on first use). */
  postgres(): Promise<PostgresServer>;
  /** An admin client straight to the API server, for setting up objects. */
  readonly admin: Client;
  stop(): Promise<void>;
}

type Log = (line: string) => void;

/**
 * How node runs the reference proxy: the compiled bench (.cache/bench) has it
 * as a sibling .js; from the TypeScript sources (the smoke test under
 * vitest) it goes through vite's module runner, as test/unit/audit/kill.test.ts
 * runs its child.
 */
function nodeProxyArgs(): string[] {
  const compiled = fileURLToPath(new URL('./node-proxy.js', import.meta.url));
  if (existsSync(compiled)) return [compiled];
  const source = fileURLToPath(new URL('./node-proxy.ts', import.meta.url));
  return ['--input-type=module', '-e', `const { runnerImport } = await import('vite'); await runnerImport(${JSON.stringify(source)});`];
}

/** Memoises an async start-up: the first caller starts it, later callers share it. */
function lazy<T>(start: () => Promise<T>): () => Promise<T> {
  let started: Promise<T> | undefined;
  return () => (started ??= start());
}

export async function openEnv(given: ClusterInfo | undefined, log: Log): Promise<BenchEnv> {
  const stops: Array<() => Promise<void>> = [];
  let cluster = given;
  if (!cluster) {
    log('starting the local control plane (harness/build.sh builds it first if it is not cached; that takes minutes)');
    const started = await startCluster({ log: (line) => log(`  ${line}`) });
    stops.push(() => started.stop());
    cluster = { ...started, adminTokenKubeconfig: started.files.adminTokenKubeconfig };
  }
  const { server, caPem, adminToken } = cluster;
  const upstreamKubeconfig = cluster.adminTokenKubeconfig;
  const direct: Target = { name: 'direct', origin: server, caPem, token: adminToken, pid: undefined };

  const asTarget = (name: 'gateway' | 'gateway-pg', gw: GatewayProcess): Target => ({
    name,
    origin: gw.url,
    caPem: readFileSync(join(gw.dataDir, 'ca.crt'), 'utf8'),
    token: gw.adminToken,
    pid: gw.pid,
  });

  const startGateway = async (): Promise<GatewayProcess> => {
    log('starting a gateway (guardrails + baseline-allow, audit in SQLite)');
    const gw = await startGatewayProcess(upstreamKubeconfig, [], { logToFile: true });
    stops.push(() => gw.stop());
    return gw;
  };
  const gatewayProcess = lazy(startGateway);
  const gateway = lazy(async () => asTarget('gateway', await gatewayProcess()));
  const gatewayAsAgent = lazy(async (): Promise<Target> => {
    const gw = await gatewayProcess();
    const tokenFile = join(gw.dataDir, 'bench-agent.token');
    execFileSync(process.execPath, [join(await packageRoot(), 'bin/gatehouse.js'), 'tokens', 'create', '--data-dir', gw.dataDir, '--name', 'bench-agent', '--kind', 'agent', '--groups', 'ai-agents', '--ttl', '1d', '-o', tokenFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    return { ...asTarget('gateway', gw), token: readFileSync(tokenFile, 'utf8').trim() };
  });

  const postgres = lazy(async () => {
    log('starting PostgreSQL (harness)');
    const pg = await startPostgres();
    stops.push(() => pg.destroy());
    return pg;
  });

  const gatewayPg = lazy(async () => {
    const url = await (await postgres()).createDatabase('gatehouse_bench');
    log('starting a second gateway recording to PostgreSQL');
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
    stops.push(() => rm(dir, { recursive: true, force: true }));
    // gatehouse.yaml is YAML, and JSON is YAML.
    const config = join(dir, 'gatehouse.yaml');
    writeFileSync(config, JSON.stringify({ store: { postgres: { url } } }));
    const gw = await startGatewayProcess(upstreamKubeconfig, ['--config', config], { logToFile: true });
    stops.push(() => gw.stop());
    return asTarget('gateway-pg', gw);
  });

  /** Starts a program that prints the port it listens on (`listening` names it in its line); stopped with the rest. */
  const startListening = async (
    what: string,
    command: string,
    args: readonly string[],
    listening: RegExp,
    options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
  ): Promise<{ port: string; pid: number | undefined }> => {
    log(`starting ${what}`);
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: options.cwd, env: options.env && { ...process.env, ...options.env } });
    stops.push(async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    });
    const port = await new Promise<string>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`${what} exited ${code}`)));
      createInterface({ input: child.stdout }).on('line', (line) => {
        const found = listening.exec(line)?.[1];
        if (found) resolve(found);
      });
    });
    return { port, pid: child.pid };
  };

  const proxy = lazy(async (): Promise<Target> => {
    const { port, pid } = await startListening('kubectl proxy', 'kubectl', ['proxy', '--kubeconfig', upstreamKubeconfig, '--address', '127.0.0.1', '--port', '0'], /Starting to serve on [\d.]+:(\d+)/);
    return { name: 'proxy', origin: `http://127.0.0.1:${port}`, caPem: undefined, token: undefined, pid };
  });

  const nodeProxy = lazy(async (): Promise<Target> => {
    const gw = await gatewayProcess();
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-node-proxy-'));
    stops.push(() => rm(dir, { recursive: true, force: true }));
    const caFile = join(dir, 'upstream-ca.pem');
    writeFileSync(caFile, caPem);
    const config: NodeProxyConfig = { certFile: join(gw.dataDir, 'tls.crt'), keyFile: join(gw.dataDir, 'tls.key'), origin: server, caFile, token: adminToken };
    const { port, pid } = await startListening('the reference Node.js proxy', process.execPath, nodeProxyArgs(), /^listening (\d+)$/, {
      env: { GATEHOUSE_BENCH_NODE_PROXY: JSON.stringify(config) },
      cwd: await packageRoot(),
    });
    return { name: 'node-proxy', origin: `https://127.0.0.1:${port}`, caPem: readFileSync(join(gw.dataDir, 'ca.crt'), 'utf8'), token: undefined, pid };
  });

  const admin = clientFor(direct, 32);
  return {
    cluster,
    direct,
    gateway,
    gatewayAsAgent,
    freshGateway: async () => asTarget('gateway', await startGateway()),
    proxy,
    nodeProxy,
    gatewayPg,
    postgres,
    admin,
    async stop() {
      await admin.close();
      // Last started, first stopped: gateways before the server they use.
      for (const stop of stops.reverse()) await stop().catch((err: unknown) => log(`stopping: ${String(err)}`));
    },
  };
}
