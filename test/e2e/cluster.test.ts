/**
 * Proves the test control plane (src/harness) with the real kubectl: version,
 * scheduling onto the kwok node, logs (and -f), exec (exit codes, stdin, a
 * pty), cp, port-forward, namespace deletion, and that a SIGKILLed owner
 * leaves no control plane behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { appendPodLog, kubectl, type KubectlResult } from '../../src/harness/index.js';

const cluster = inject('cluster');
const ns = `harness-e2e-${randomBytes(3).toString('hex')}`;

function k(args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<KubectlResult> {
  return kubectl(args, { kubeconfig: cluster.adminKubeconfig, ...options });
}

/** Runs kubectl and fails the test with its stderr unless it exits 0. */
async function ok(args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const result = await k(args, options);
  expect(result.code, `kubectl ${args.join(' ')}\n${result.stderr}`).toBe(0);
  return result.stdout;
}

/** Starts a long-running kubectl (logs -f, port-forward) and hands back its output lines as they come. */
function startKubectl(args: string[]): { child: ChildProcess; nextLine: (match: RegExp, timeoutMs?: number) => Promise<string> } {
  const child = spawn('kubectl', ['--kubeconfig', cluster.adminKubeconfig, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      for (const wake of waiters) wake();
    });
  }
  const nextLine = (match: RegExp, timeoutMs = 20_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = lines.find((line) => match.test(line));
        if (found !== undefined) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`kubectl ${args.join(' ')}: no line matching ${String(match)} within ${timeoutMs} ms; got:\n${lines.join('\n')}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return { child, nextLine };
}

let pod: string;

beforeAll(async () => {
  await ok(['create', 'namespace', ns]);
  await ok(['-n', ns, 'create', 'deployment', 'web', '--image=registry.invalid/web:1', '--replicas=1']);
  await ok(['-n', ns, 'rollout', 'status', 'deployment/web', '--timeout=90s'], { timeoutMs: 100_000 });
  pod = (await ok(['-n', ns, 'get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
}, 120_000);

afterAll(async () => {
  await k(['delete', 'namespace', ns, '--wait=false']);
});

describe('the harness control plane', () => {
  it('reports the Kubernetes version it was built from', async () => {
    const version = JSON.parse(await ok(['version', '-o', 'json'])) as { serverVersion: { gitVersion: string } };
    expect(version.serverVersion.gitVersion).toBe('v1.33.13');
  });

  it('authenticates the admin by client certificate and by token, in system:masters', async () => {
    for (const kubeconfig of [cluster.adminKubeconfig, cluster.adminTokenKubeconfig]) {
      const result = await kubectl(['auth', 'whoami', '-o', 'json'], { kubeconfig });
      expect(result.code, result.stderr).toBe(0);
      const review = JSON.parse(result.stdout) as { status: { userInfo: { username: string; groups: string[] } } };
      expect(review.status.userInfo.username).toBe('gatehouse-harness-admin');
      expect(review.status.userInfo.groups).toContain('system:masters');
    }
  });

  it('schedules a Deployment’s pod onto the kwok node and runs it', async () => {
    const podJson = JSON.parse(await ok(['-n', ns, 'get', 'pod', pod, '-o', 'json'])) as {
      metadata: { ownerReferences: { kind: string }[] };
      spec: { nodeName: string; serviceAccountName: string };
      status: { phase: string; podIP: string; hostIP: string };
    };
    expect(podJson.metadata.ownerReferences[0]?.kind).toBe('ReplicaSet');
    expect(podJson.spec.nodeName).toBe(cluster.nodeName);
    expect(podJson.spec.serviceAccountName).toBe('default');
    expect(podJson.status.phase).toBe('Running');
    expect(podJson.status.podIP).toMatch(/^10\.244\.0\.\d+$/);
    expect(podJson.status.hostIP).toBe('127.0.0.1');
  });

  it('serves container logs, and follows appended lines with logs -f', async () => {
    const logs = await ok(['-n', ns, 'logs', pod]);
    expect(logs).toContain('hello from kwok\n');

    const follower = startKubectl(['-n', ns, 'logs', '-f', pod]);
    try {
      await follower.nextLine(/hello from kwok/);
      const marker = `follow-${randomBytes(4).toString('hex')}`;
      await appendPodLog(cluster, marker);
      await expect(follower.nextLine(new RegExp(marker))).resolves.toBe(marker);
    } finally {
      follower.child.kill();
    }
  });

  it('runs exec commands in the work dir and returns their output and exit code', async () => {
    expect(await ok(['-n', ns, 'exec', pod, '--', 'echo', 'hi'])).toBe('hi\n');
    expect((await ok(['-n', ns, 'exec', pod, '--', 'pwd'])).trim()).toBe(cluster.workDir);

    const failed = await k(['-n', ns, 'exec', pod, '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(failed.code).toBe(3);
    expect(failed.stdout).toBe('out\n');
    expect(failed.stderr).toContain('err\n');
  });

  it('passes stdin to exec -i and ends it when the client does', async () => {
    const result = await k(['-n', ns, 'exec', '-i', pod, '--', 'sh', '-c', 'cat; echo done'], { input: 'line one\nline two\n', timeoutMs: 20_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('line one\nline two\ndone\n');
  });

  it('gives exec -it a terminal', async () => {
    // kubectl only allocates a TTY when its own stdin is one: run it under script(1).
    const command = `kubectl --kubeconfig '${cluster.adminKubeconfig}' -n ${ns} exec -it ${pod} -- sh -c 'tty; exit 0'`;
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.once('error', reject);
      child.once('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(out);
        else reject(new Error(`script exited ${code}: ${out}`));
      });
    });
    expect(output).toMatch(/\/dev\/pts\/\d+/);
  });

  it('copies files into and out of a pod with kubectl cp', async () => {
    const local = await mkdtemp(join(tmpdir(), 'harness-cp-'));
    try {
      const name = `cp-${randomBytes(4).toString('hex')}.txt`;
      const content = `copied ${randomBytes(8).toString('hex')}\n`;
      await writeFile(join(local, 'in.txt'), content);

      await ok(['-n', ns, 'cp', join(local, 'in.txt'), `${pod}:${name}`], { timeoutMs: 30_000 });
      // exec (and so cp) runs in the work dir on this machine.
      expect(await readFile(join(cluster.workDir, name), 'utf8')).toBe(content);

      await ok(['-n', ns, 'cp', `${pod}:${name}`, join(local, 'out.txt')], { timeoutMs: 30_000 });
      expect(await readFile(join(local, 'out.txt'), 'utf8')).toBe(content);
      await rm(join(cluster.workDir, name));
    } finally {
      await rm(local, { recursive: true, force: true });
    }
  });

  it('forwards a pod port to the echo target with kubectl port-forward', async () => {
    const forwarder = startKubectl(['-n', ns, 'port-forward', `pod/${pod}`, '0:8080']);
    try {
      const line = await forwarder.nextLine(/Forwarding from 127\.0\.0\.1:\d+/);
      const port = Number(/127\.0\.0\.1:(\d+)/.exec(line)?.[1]);
      const payload = Buffer.from(`ping ${randomBytes(16).toString('hex')}`);
      const echoed = await new Promise<Buffer>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => socket.write(payload));
        const chunks: Buffer[] = [];
        socket.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          if (Buffer.concat(chunks).length >= payload.length) {
            socket.end();
            resolve(Buffer.concat(chunks));
          }
        });
        socket.on('error', reject);
        setTimeout(() => reject(new Error('no echo within 15 s')), 15_000).unref();
      });
      expect(echoed.equals(payload)).toBe(true);
    } finally {
      forwarder.child.kill();
    }
  });

  it('completes a namespace deletion (pods finalised by kwok, content removed by the controller manager)', async () => {
    const doomed = `${ns}-doomed`;
    await ok(['create', 'namespace', doomed]);
    await ok(['-n', doomed, 'create', 'deployment', 'gone', '--image=registry.invalid/gone:1']);
    await ok(['-n', doomed, 'rollout', 'status', 'deployment/gone', '--timeout=60s'], { timeoutMs: 70_000 });
    await ok(['delete', 'namespace', doomed, '--timeout=90s'], { timeoutMs: 100_000 });
    const after = await k(['get', 'namespace', doomed]);
    expect(after.code).not.toBe(0);
    expect(after.stderr).toContain('NotFound');
  });
});

describe('a crashed owner', () => {
  /** Whether any process is left in a process group. */
  function groupAlive(pgid: number): boolean {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  }

  function portOpen(port: number): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  }

  it('leaves nothing running or bound after SIGKILL', async () => {
    // A separate Node process owns a second cluster; it loads the TypeScript
    // harness through vite (already here for vitest) and reports what it started.
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const script = `
      const { runnerImport } = await import('vite');
      const { module } = await runnerImport(${JSON.stringify(join(root, 'src/harness/index.ts'))});
      const c = await module.startCluster({ binDir: process.env.BIN_DIR, log: (l) => process.stderr.write(l + '\\n') });
      process.stdout.write(JSON.stringify({ server: c.server, pids: c.pids, workDir: c.workDir, echoPort: c.echoPort }) + '\\n');
      setInterval(() => {}, 1000);
    `;
    const owner = spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: root,
      env: { ...process.env, BIN_DIR: cluster.binDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    owner.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const started = await new Promise<{ server: string; pids: Record<string, number>; workDir: string; echoPort: number }>(
      (resolve, reject) => {
        createInterface({ input: owner.stdout }).once('line', (line) => resolve(JSON.parse(line) as never));
        owner.once('exit', (code) => reject(new Error(`owner exited ${code} before the cluster was up:\n${stderr}`)));
      },
    );
    const apiPort = Number(new URL(started.server).port);
    const pgids = Object.values(started.pids);
    try {
      expect(pgids).toHaveLength(5);
      expect(pgids.every(groupAlive)).toBe(true);
      expect(await portOpen(apiPort)).toBe(true);

      owner.kill('SIGKILL');

      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline && (pgids.some(groupAlive) || (await portOpen(apiPort)))) {
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(pgids.filter(groupAlive), 'process groups still alive').toEqual([]);
      expect(await portOpen(apiPort)).toBe(false);
      expect(await portOpen(started.echoPort)).toBe(false);
      // The work dir is left for a post-mortem; the next start removes it (its owner is dead).
      expect(existsSync(join(started.workDir, 'logs', 'kube-apiserver.log'))).toBe(true);
    } finally {
      owner.kill('SIGKILL');
      for (const pgid of pgids.filter(groupAlive)) {
        try {
          process.kill(-pgid, 'SIGKILL');
        } catch {
          // Gone, as it should be.
        }
      }
      await rm(started.workDir, { recursive: true, force: true });
    }
  }, 90_000);
});
