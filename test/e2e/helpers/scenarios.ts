import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { appendPodLog } from '../../../src/harness/index.js';
import type { ProvidedCluster } from '../global-setup.js';
import { startLongRunning } from './long-running.js';
import { run } from './run.js';
import type { Kubectl } from './run.js';

/** Where the streaming scenarios run: a kubectl (binary + kubeconfig), extra env, and a Running pod on the kwok node. */
export interface StreamingTarget {
  /** Resolved lazily: the gateway the kubectl points at starts in beforeAll. */
  kubectl(): Kubectl;
  /** e.g. KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false to force SPDY. */
  env?: NodeJS.ProcessEnv;
  cluster: ProvidedCluster;
  namespace(): string;
  pod(): string;
}

/**
 * Registers the streaming kubectl scenarios — logs, logs -f, exec (plain,
 * stdin, -it with a terminal size), cp and port-forward — for one target, so
 * the very same checks run directly against the API server and through the
 * gateway, with WebSocket or SPDY, with several kubectl versions.
 */
export function streamingScenarios(t: StreamingTarget): void {
  const kubectl = (args: string[], options: { input?: string; timeoutMs?: number } = {}): ReturnType<Kubectl> =>
    t.kubectl()(['-n', t.namespace(), ...args], { ...options, env: t.env });
  const ok = (args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<string> =>
    t.kubectl().ok(['-n', t.namespace(), ...args], { ...options, env: t.env });
  const follow = (args: string[]) =>
    startLongRunning(t.kubectl().binary, ['-n', t.namespace(), ...args], { KUBECONFIG: t.kubectl().kubeconfig, ...t.env });

  it('serves logs and follows appended lines with logs -f', async () => {
    expect(await ok(['logs', t.pod()])).toContain('hello from kwok\n');
    const follower = follow(['logs', '-f', t.pod()]);
    try {
      await follower.nextLine(/hello from kwok/);
      const marker = `follow-${randomBytes(4).toString('hex')}`;
      await appendPodLog(t.cluster, marker);
      await expect(follower.nextLine(new RegExp(marker))).resolves.toBe(marker);
    } finally {
      follower.stop();
    }
  });

  it('runs exec commands with their output and exit code', async () => {
    expect(await ok(['exec', t.pod(), '--', 'echo', 'hi'])).toBe('hi\n');
    const failed = await kubectl(['exec', t.pod(), '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(failed.code).toBe(3);
    expect(failed.stdout).toBe('out\n');
    expect(failed.stderr).toContain('err\n');
  });

  it('passes stdin to exec -i', async () => {
    const result = await kubectl(['exec', '-i', t.pod(), '--', 'sh', '-c', 'cat; echo done'], { input: 'line one\nline two\n', timeoutMs: 30_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('line one\nline two\ndone\n');
  });

  it('gives exec -it a terminal of the client size', async () => {
    // kubectl allocates a TTY only when its own stdin is one: run it under script(1), in a terminal sized 33x111.
    const env = Object.entries({ KUBECONFIG: t.kubectl().kubeconfig, ...t.env })
      .map(([k, v]) => `${k}='${v ?? ''}'`)
      .join(' ');
    // kubectl sends the size as a resize message once the stream is up, so the remote side polls until it lands;
    // the short pause before exiting works around kwok's pty copy, which can drop output of a process that ends at once.
    const remote = 'tty; for i in $(seq 100); do s=$(stty size); [ "$s" != "0 0" ] && break; sleep 0.05; done; echo "$s"; sleep 0.3';
    const command = `stty rows 33 cols 111; env ${env} ${t.kubectl().binary} -n ${t.namespace()} exec -it ${t.pod()} -- sh -c '${remote}'`;
    const result = await run('script', ['-qec', command, '/dev/null'], { timeoutMs: 30_000 });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/\/dev\/pts\/\d+/);
    expect(result.stdout).toContain('33 111');
  });

  it('copies files into and out of a pod with kubectl cp', async () => {
    const local = await mkdtemp(join(tmpdir(), 'gatehouse-cp-'));
    try {
      const name = `cp-${randomBytes(4).toString('hex')}.txt`;
      const content = `copied ${randomBytes(8).toString('hex')}\n`.repeat(2000);
      await writeFile(join(local, 'in.txt'), content);
      await ok(['cp', join(local, 'in.txt'), `${t.pod()}:${name}`], { timeoutMs: 60_000 });
      // exec (and so cp) runs in the harness work dir on this machine.
      expect(await readFile(join(t.cluster.workDir, name), 'utf8')).toBe(content);
      await ok(['cp', `${t.pod()}:${name}`, join(local, 'out.txt')], { timeoutMs: 60_000 });
      expect(await readFile(join(local, 'out.txt'), 'utf8')).toBe(content);
      await rm(join(t.cluster.workDir, name));
    } finally {
      await rm(local, { recursive: true, force: true });
    }
  });

  it('forwards a pod port with kubectl port-forward, bytes round-trip', async () => {
    const forwarder = follow(['port-forward', `pod/${t.pod()}`, '0:8080']);
    try {
      const line = await forwarder.nextLine(/Forwarding from 127\.0\.0\.1:\d+/);
      const port = Number(/127\.0\.0\.1:(\d+)/.exec(line)?.[1]);
      for (let round = 0; round < 2; round++) {
        const payload = randomBytes(64 * 1024);
        expect((await echoThrough(port, payload)).equals(payload)).toBe(true);
      }
    } finally {
      forwarder.stop();
    }
  });
}

/** Sends bytes to a local port and collects as many bytes back (the echo target answers with what it got). */
function echoThrough(port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(payload));
    const chunks: Buffer[] = [];
    let size = 0;
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= payload.length) {
        socket.end();
        resolve(Buffer.concat(chunks));
      }
    });
    socket.on('error', reject);
    setTimeout(() => {
      socket.destroy();
      reject(new Error(`only ${size} of ${payload.length} bytes came back within 20 s`));
    }, 20_000).unref();
  });
}
