/**
 * Proves the test control plane (src/harness) with the real kubectl: version,
 * scheduling onto the kwok node, logs (and -f), exec (exit codes, stdin, a
 * pty), cp, port-forward, namespace deletion, and that a SIGKILLed owner
 * leaves no control plane behind.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { kubectlFor } from './helpers/run.js';
import { streamingScenarios } from './helpers/scenarios.js';

const cluster = inject('cluster');
const ns = `harness-e2e-${randomBytes(3).toString('hex')}`;
const direct = kubectlFor(cluster.adminKubeconfig);
const ok = direct.ok;

let pod: string;

beforeAll(async () => {
  await ok(['create', 'namespace', ns]);
  await ok(['-n', ns, 'create', 'deployment', 'web', '--image=registry.invalid/web:1', '--replicas=1']);
  await ok(['-n', ns, 'rollout', 'status', 'deployment/web', '--timeout=90s'], { timeoutMs: 100_000 });
  pod = (await ok(['-n', ns, 'get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
}, 120_000);

afterAll(async () => {
  await direct(['delete', 'namespace', ns, '--wait=false']);
});

describe('the harness control plane', () => {
  // logs, exec, cp and port-forward: the same scenarios the gateway tests run.
  streamingScenarios({ kubectl: () => direct, cluster, namespace: () => ns, pod: () => pod });

  it('reports the Kubernetes version it was built from', async () => {
    const version = JSON.parse(await ok(['version', '-o', 'json'])) as { serverVersion: { gitVersion: string } };
    expect(version.serverVersion.gitVersion).toBe('v1.33.13');
  });

  it('authenticates the admin by client certificate and by token, in system:masters', async () => {
    for (const kubeconfig of [cluster.adminKubeconfig, cluster.adminTokenKubeconfig]) {
      const result = await kubectlFor(kubeconfig)(['auth', 'whoami', '-o', 'json']);
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

  it('completes a namespace deletion (pods finalised by kwok, content removed by the controller manager)', async () => {
    const doomed = `${ns}-doomed`;
    await ok(['create', 'namespace', doomed]);
    await ok(['-n', doomed, 'create', 'deployment', 'gone', '--image=registry.invalid/gone:1']);
    await ok(['-n', doomed, 'rollout', 'status', 'deployment/gone', '--timeout=60s'], { timeoutMs: 70_000 });
    await ok(['delete', 'namespace', doomed, '--timeout=90s'], { timeoutMs: 100_000 });
    const after = await direct(['get', 'namespace', doomed]);
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
