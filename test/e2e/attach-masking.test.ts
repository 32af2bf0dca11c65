import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { appendPodLog } from '../../src/harness/index.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { createRunningPod } from './helpers/pods.js';
import { recordedSession, sessionMask, sessionToken, startSessionMaskingGateway } from './helpers/session-masking.js';
import { kubectlFor } from './helpers/run.js';
import type { Kubectl } from './helpers/run.js';
import { waitFor } from './helpers/wait.js';

// `kubectl attach` under a policy that says `mask` on pods/attach, with
// masking.sessions on. The harness's kwok serves attach by following the pod
// log file (as a container's output), so what is appended to it is what the
// attached container prints: it reaches kubectl, and the session recording,
// masked.
const cluster = inject('cluster');
const ns = `attachmask-${randomBytes(3).toString('hex')}`;
const work = mkdtempSync(join(tmpdir(), 'gatehouse-attachmask-'));
const token = sessionToken();
let direct: Kubectl;
let pod = '';
let gateway: GatewayProcess;

beforeAll(async () => {
  direct = kubectlFor(cluster.adminKubeconfig);
  pod = await createRunningPod(direct, ns, 'worker');
  gateway = await startSessionMaskingGateway(cluster.adminKubeconfig, work, ns, true);
}, 150_000);
afterAll(async () => {
  await direct?.(['delete', 'namespace', ns, '--wait=false']);
  await gateway?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** Runs `kubectl attach` to the pod with `kubeconfig` while the container prints `marker` and the token, until kubectl shows the marker. */
async function attachUntilShown(kubeconfig: string, marker: string): Promise<{ stdout: string; stderr: string }> {
  const child = spawn('kubectl', ['-n', ns, 'attach', pod], { env: { ...process.env, KUBECONFIG: kubeconfig }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  try {
    // The container prints the line at every poll: attach shows only what comes after it connected.
    await waitFor(
      `kubectl attach to print ${marker}`,
      async () => {
        await appendPodLog(cluster, `${marker} pushing with ${token}`);
        return stdout.includes(marker) ? true : undefined;
      },
      60_000,
      () => `stdout: ${stdout}\nstderr: ${stderr}`,
    );
  } finally {
    child.kill('SIGINT');
    await exited;
  }
  return { stdout, stderr };
}

describe('attach output masking (policy action mask on pods/attach)', () => {
  it('shows kubectl attach the mask, not the token the container prints, and records it masked', async () => {
    // Straight to the API server, the attached container shows the token.
    const plain = `plain-${randomBytes(4).toString('hex')}`;
    expect((await attachUntilShown(cluster.adminKubeconfig, plain)).stdout).toContain(`${plain} pushing with ${token}\n`);

    const marker = `attach-${randomBytes(4).toString('hex')}`;
    const { stdout, stderr } = await attachUntilShown(gateway.adminKubeconfig, marker);
    expect(stdout).toContain(`${marker} pushing with ${sessionMask(token)}\n`);
    expect(stdout + stderr).not.toContain(token.slice(4));

    const { event, stdout: recorded, all } = await recordedSession(gateway, ns, 'attach', marker);
    expect(event.decision?.action).toBe('mask');
    expect(event.result.status).toBe(101);
    expect(event.bodies.masked).toBe(true);
    expect(recorded).toContain(`${marker} pushing with ${sessionMask(token)}\n`);
    expect(all).not.toContain(token.slice(4));
  });
});
