/**
 * Starts and stops a real local control plane: etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler and kwok (the fake kubelet that
 * makes logs, exec and port-forward work), all on 127.0.0.1 with fresh
 * credentials and random ports.
 */
import { appendFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { resolveBinaries, type BinaryPaths } from './binaries.js';
import { generateCredentials } from './credentials.js';
import { apiserverArgs, controllerManagerArgs, etcdArgs, kwokArgs, schedulerArgs } from './flags.js';
import { startEchoServer, type EchoServer } from './echo-server.js';
import { kubeRequest, probeHttps, type KubeTarget } from './kube-client.js';
import { writeKubeconfigs } from './kubeconfig.js';
import { criLogLine, kwokConfigYaml, kwokNode } from './kwok.js';
import { freePorts } from './ports.js';
import { startSupervised, type Supervised } from './process.js';
import { PortTakenError, waitFor } from './wait.js';
import { OWNER_FILE, prepareWorkDir } from './work-dir.js';

/** Options for {@link startCluster}. */
export interface ClusterOptions {
  /**
   * Directory holding etcd, kube-apiserver, kube-controller-manager,
   * kube-scheduler and kwok. Default: `$GATEHOUSE_HARNESS_BIN`, else what
   * `harness/build.sh` builds (cached; the first build takes minutes).
   */
  binDir?: string;
  /**
   * Working directory; must be absent or empty. Default: a new
   * `gatehouse-cluster-*` directory in the OS temp dir.
   */
  workDir?: string;
  /** Progress lines (build, start-up, readiness). Default: stderr. */
  log?: (line: string) => void;
  /** Keep the work dir (logs, certificates) after {@link Cluster.stop}. Default false. */
  keepWorkDir?: boolean;
  /** How long start-up may take once the binaries exist. Default 120 s. */
  startTimeoutMs?: number;
  /** More kube-apiserver flags, after the harness's own (e.g. `--tracing-config-file=…`). */
  apiserverArgs?: readonly string[];
}

/** Names of the control-plane processes. */
export type ComponentName = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kwok';

/** A running control plane. Every field but `stop` is plain data. */
export interface Cluster {
  /** API server URL, `https://127.0.0.1:<port>`. */
  server: string;
  /** CA that signed the API server's serving certificate (and kwok's). */
  caPem: string;
  /** Path of a kubeconfig for the admin (client certificate, group `system:masters`). */
  adminKubeconfig: string;
  /** Bearer token of the same admin (token auth file, group `system:masters`). */
  adminToken: string;
  /**
   * The work dir. Commands run through `kubectl exec` run here, as this
   * user, on this machine (kwok executes them locally), so `kubectl cp`
   * with a relative pod path reads and writes here. Logs live in `logs/`.
   */
  workDir: string;
  /** The kwok node that pods get scheduled to. */
  nodeName: string;
  /**
   * Port of a TCP echo server on 127.0.0.1: `kubectl port-forward pod/x L:P`
   * connects every pod port P to it, so bytes sent to L come back.
   */
  echoPort: number;
  /**
   * CRI-format log file served as the log of every container on the node
   * (`kubectl logs`, `-f` follows appends). Append with {@link criLogLine}.
   */
  podLogFile: string;
  /** Directory with one log file per control-plane process. */
  logDir: string;
  /** Where the control-plane binaries came from. */
  binDir: string;
  /** Process group ids of the control-plane processes (each is its watchdog's pid). */
  pids: Record<ComponentName, number>;
  /**
   * Other credentials, for tests that need them: the CA the API server trusts
   * for client certificates (and its key, to mint more users), and the
   * front-proxy client certificate that the API server accepts with
   * `X-Remote-User`/`X-Remote-Group` headers.
   */
  files: {
    clientCACert: string;
    clientCAKey: string;
    frontProxyCACert: string;
    frontProxyClientCert: string;
    frontProxyClientKey: string;
    adminTokenKubeconfig: string;
  };
  /** Stops every process, closes the echo server and removes the work dir. Idempotent. */
  stop(): Promise<void>;
}

const NODE_NAME = 'kwok-node-0';

/**
 * Starts a control plane and resolves once it is usable: the API server is
 * ready, the kwok node is Ready and the `default` ServiceAccount exists (so
 * the controller manager runs). Rejects, having stopped whatever started,
 * with the failing process's log tail; the work dir is then kept for
 * inspection (a later start removes it once this process is gone).
 *
 * Every process runs under a watchdog: if this Node process dies, even by
 * SIGKILL, the control plane is terminated within seconds.
 *
 * @example
 * ```ts
 * import { startCluster } from '../harness/index.js';
 *
 * const cluster = await startCluster({ log: (line) => console.log(line) });
 * try {
 *   // kubectl --kubeconfig <cluster.adminKubeconfig> create deployment web --image=nginx
 *   // → its pod is Running on cluster.nodeName; logs, exec and port-forward work.
 * } finally {
 *   await cluster.stop();
 * }
 * ```
 */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const log = options.log ?? ((line: string) => process.stderr.write(`[cluster] ${line}\n`));
  const binaries = await resolveBinaries(options.binDir, log);
  for (let attempt = 1; ; attempt++) {
    const workDir = await prepareWorkDir(options.workDir);
    try {
      return await startIn(workDir, binaries, options, log);
    } catch (err) {
      // Free ports are picked before the processes bind them; another process
      // can take one in between. Rare, and worth a fresh try rather than a red run.
      if (!(err instanceof PortTakenError) || attempt === 3) {
        log(`start-up failed; logs kept in ${join(workDir, 'logs')}`);
        throw err;
      }
      log(`${err.message.split(';')[0]}: its port was taken; retrying with other ports`);
      await rm(workDir, { recursive: true, force: true });
    }
  }
}

async function startIn(
  workDir: string,
  binaries: BinaryPaths,
  options: ClusterOptions,
  log: (line: string) => void,
): Promise<Cluster> {
  const timeoutMs = options.startTimeoutMs ?? 120_000;
  const t0 = performance.now();
  const since = (): string => `${((performance.now() - t0) / 1000).toFixed(1)}s`;

  const controlDir = join(workDir, 'control-plane');
  const pkiDir = join(controlDir, 'pki');
  const logDir = join(workDir, 'logs');
  await Promise.all([mkdir(pkiDir, { recursive: true }), mkdir(join(controlDir, 'kwok-home'), { recursive: true }), mkdir(logDir)]);
  await writeFile(join(workDir, OWNER_FILE), JSON.stringify({ pid: process.pid, started: new Date().toISOString() }));
  log(`starting a control plane in ${workDir}`);

  const processes: Supervised[] = [];
  let echo: EchoServer | undefined;
  const stopAll = async (): Promise<void> => {
    await Promise.all(processes.map((p) => p.stop()));
    await echo?.close();
  };

  try {
    const [credentials, [etcdPort, etcdPeerPort, apiPort, kwokPort], echoServer] = await Promise.all([
      generateCredentials(pkiDir),
      freePorts(4) as Promise<[number, number, number, number]>,
      startEchoServer(),
    ]);
    echo = echoServer;
    const server = `https://127.0.0.1:${apiPort}`;
    const target: KubeTarget = { server, caPem: credentials.clusterCA.certPem, token: credentials.adminToken };

    const kubeconfigs = await writeKubeconfigs(workDir, controlDir, server, credentials);
    const podLogFile = join(workDir, 'pod.log');
    await writeFile(podLogFile, criLogLine('gatehouse harness: container started') + criLogLine('hello from kwok'));
    const kwokConfig = join(controlDir, 'kwok.yaml');
    await writeFile(kwokConfig, kwokConfigYaml({ execDir: workDir, podLogFile, portForwardTarget: echoServer.port }));

    const start = (name: ComponentName, args: string[], env?: NodeJS.ProcessEnv): Supervised => {
      const proc = startSupervised(name, binaries[name], args, { logFile: join(logDir, `${name}.log`), env, cwd: controlDir });
      processes.push(proc);
      return proc;
    };

    // etcd
    const etcd = start('etcd', etcdArgs(controlDir, etcdPort, etcdPeerPort));
    await waitFor('etcd to be healthy', processes, timeoutMs, async () => {
      const res = await fetch(`http://127.0.0.1:${etcdPort}/health`).catch(() => undefined);
      return res?.ok === true;
    });
    log(`etcd is healthy (pid ${etcd.pid}, ${since()})`);

    // kube-apiserver
    const apiserver = start('kube-apiserver', [...apiserverArgs(credentials, { apiPort, etcdPort, controlDir }), ...(options.apiserverArgs ?? [])]);
    await waitFor('kube-apiserver /readyz', processes, timeoutMs, async () => {
      const res = await kubeRequest(target, 'GET', '/readyz').catch(() => undefined);
      return res?.status === 200;
    });
    log(`kube-apiserver is ready at ${server} (pid ${apiserver.pid}, ${since()})`);

    const created = await kubeRequest(target, 'POST', '/api/v1/nodes', kwokNode(NODE_NAME));
    if (created.status !== 201) throw new Error(`creating node ${NODE_NAME}: HTTP ${created.status} ${created.body}`);

    start('kube-controller-manager', controllerManagerArgs(credentials, kubeconfigs.controllerManager));
    start('kube-scheduler', schedulerArgs(kubeconfigs.scheduler));
    start('kwok', kwokArgs(credentials, kubeconfigs.kwok, kwokConfig, kwokPort), {
      ...process.env,
      // kwok also reads ~/.kwok/kwok.yaml; give it a home of its own.
      HOME: join(controlDir, 'kwok-home'),
    });

    await waitFor(`node ${NODE_NAME} to be Ready`, processes, timeoutMs, async () => {
      const res = await kubeRequest(target, 'GET', `/api/v1/nodes/${NODE_NAME}`);
      if (res.status !== 200) return false;
      const node = JSON.parse(res.body) as { status?: { conditions?: { type: string; status: string }[] } };
      return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
    });
    // The kubelet endpoint (logs, exec, port-forward), with the certificate the API server checks.
    await waitFor('kwok to serve the kubelet API', processes, timeoutMs, async () => {
      return (await probeHttps(`https://127.0.0.1:${kwokPort}/healthz`, credentials.clusterCA.certPem)) === 200;
    });
    log(`node ${NODE_NAME} is Ready (kwok, ${since()})`);
    await waitFor('the default ServiceAccount', processes, timeoutMs, async () => {
      const res = await kubeRequest(target, 'GET', '/api/v1/namespaces/default/serviceaccounts/default');
      return res.status === 200;
    });
    log(`control plane ready in ${since()}`);

    let stopped: Promise<void> | undefined;
    for (const proc of processes) {
      void proc.exited.then((info) => {
        if (stopped === undefined) {
          log(`${proc.name} exited unexpectedly (${info.signal ?? `code ${info.code}`}); see ${proc.logFile}`);
        }
      });
    }
    const pids = Object.fromEntries(processes.map((p) => [p.name, p.pid])) as Record<ComponentName, number>;
    return {
      server,
      caPem: credentials.clusterCA.certPem,
      adminKubeconfig: kubeconfigs.admin,
      adminToken: credentials.adminToken,
      workDir,
      nodeName: NODE_NAME,
      echoPort: echoServer.port,
      podLogFile,
      logDir,
      binDir: dirname(binaries.etcd),
      pids,
      files: {
        clientCACert: credentials.clientCAFiles.cert,
        clientCAKey: credentials.clientCAFiles.key,
        frontProxyCACert: credentials.frontProxyCAFile,
        frontProxyClientCert: credentials.frontProxyClientFiles.cert,
        frontProxyClientKey: credentials.frontProxyClientFiles.key,
        adminTokenKubeconfig: kubeconfigs.adminToken,
      },
      stop: () => {
        stopped ??= (async () => {
          const t = performance.now();
          await stopAll();
          if (!options.keepWorkDir) await rm(workDir, { recursive: true, force: true });
          log(`control plane stopped in ${((performance.now() - t) / 1000).toFixed(1)}s`);
        })();
        return stopped;
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** Appends lines to the log every container on the kwok node shows. */
export async function appendPodLog(cluster: Pick<Cluster, 'podLogFile'>, ...lines: string[]): Promise<void> {
  await appendFile(cluster.podLogFile, lines.map((line) => criLogLine(line)).join(''));
}
