import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../../src/harness/binaries.js';

export interface GatewayProcess {
  url: string;
  /** Process id of the gateway (for memory readings). */
  pid: number;
  dataDir: string;
  /** The kubeconfig the gateway wrote for its bootstrap admin on first run. */
  adminKubeconfig: string;
  adminToken: string;
  stderr(): string;
  /** Sends the signal and resolves with the signal that ended the process (crash tests: SIGKILL). */
  kill(signal: NodeJS.Signals): Promise<NodeJS.Signals | null>;
  stop(): Promise<void>;
}

/**
 * Starts the real `gatehouse serve` (the built CLI) on a free loopback port
 * in front of the given upstream kubeconfig (none: the config names its
 * clusters), and waits until it listens. `prefix` runs it under another
 * command, e.g. `ip netns exec <ns>`.
 */
export async function startGatewayProcess(
  upstreamKubeconfig: string | undefined,
  extraArgs: string[] = [],
  options: {
    prefix?: string[];
    /**
     * Its stderr (the access log) goes to a file in its data directory instead of a pipe this process reads: a
     * benchmark's client then does no work per request the gateway logs, as it does none for the API server.
     */
    logToFile?: boolean;
  } = {},
): Promise<GatewayProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-'));
  const logFile = options.logToFile ? join(dataDir, 'gateway.log') : undefined;
  const logFd = logFile === undefined ? undefined : openSync(logFile, 'a');
  // Found by walking up, not by a fixed depth: the benchmark runs a compiled copy of this file.
  const repoRoot = await packageRoot();
  // Node options for the gateway only (NODE_OPTIONS refuses some, e.g. --cpu-prof): GATEHOUSE_GATEWAY_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = (process.env.GATEHOUSE_GATEWAY_NODE_ARGS ?? '').split(/\s+/).filter((a) => a !== '');
  const [command, ...prefixArgs] = [...(options.prefix ?? []), process.execPath];
  const child: ChildProcess = spawn(
    command,
    [
      ...prefixArgs,
      ...nodeArgs,
      join(repoRoot, 'bin/gatehouse.js'),
      'serve',
      ...(upstreamKubeconfig === undefined ? [] : ['--upstream-kubeconfig', upstreamKubeconfig]),
      '--listen',
      '127.0.0.1:0',
      '--data-dir',
      dataDir,
      // The guardrails plus the shipped permissive baseline, as `gatehouse up` runs.
      '--policy',
      join(repoRoot, 'policies/baseline-allow.yaml'),
      ...extraArgs,
    ],
    { stdio: ['ignore', 'ignore', logFd ?? 'pipe'] },
  );
  if (logFd !== undefined) closeSync(logFd);
  let stderr = '';
  const log = (): string => (logFile === undefined ? stderr : readFileSync(logFile, 'utf8'));
  const ready = new Promise<{ url: string; token: string }>((resolvePromise, reject) => {
    let poll: NodeJS.Timeout | undefined;
    const listening = (text: string): boolean => {
      const url = /listening on (https:\/\/\S+)/.exec(text)?.[1];
      const token = /shown once: (\S+)/.exec(text)?.[1];
      if (!url || !token || !text.includes('Try: ')) return false;
      clearInterval(poll);
      resolvePromise({ url, token });
      return true;
    };
    if (logFile === undefined) {
      child.stderr!.setEncoding('utf8');
      let found = false;
      child.stderr!.on('data', (d: string) => {
        stderr += d;
        // Scanned only until ready: the access log keeps coming, and rescanning all of it per chunk costs the caller O(n²) CPU.
        if (!found) found = listening(stderr);
      });
    } else {
      poll = setInterval(() => listening(log()), 25);
    }
    child.once('exit', (code) => {
      clearInterval(poll);
      reject(new Error(`gatehouse serve exited ${code} before listening:\n${log()}`));
    });
  });
  const { url, token } = await ready;
  const exited = new Promise<NodeJS.Signals | null>((resolveExit) => child.once('exit', (_code, signal) => resolveExit(signal)));
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    url,
    pid: child.pid!,
    dataDir,
    adminKubeconfig: join(dataDir, 'admin.kubeconfig'),
    adminToken: token,
    stderr: log,
    kill: (signal) => {
      if (running()) child.kill(signal);
      return exited;
    },
    stop: async () => {
      if (running()) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
