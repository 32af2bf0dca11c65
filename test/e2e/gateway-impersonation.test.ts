import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { createRunningPod } from './helpers/pods.js';
import { kubectlFor } from './helpers/run.js';
import type { Kubectl } from './helpers/run.js';

// With --impersonate the API server sees the caller, not the gateway: its
// RBAC decides, and its audit log carries Gatehouse's extras.
const cluster = inject('cluster');
const ns = `imp-${randomBytes(3).toString('hex')}`;
let gateway: GatewayProcess;
let direct: Kubectl;
let via: Kubectl;
let pod = '';

beforeAll(async () => {
  gateway = await startGatewayProcess(cluster.adminKubeconfig, ['--impersonate']);
  direct = kubectlFor(cluster.adminKubeconfig);
  via = kubectlFor(gateway.adminKubeconfig);
  pod = await createRunningPod(direct, ns, 'web');
}, 150_000);

afterAll(async () => {
  await direct?.(['delete', 'namespace', ns, '--wait=false']);
  await gateway?.stop();
});

describe('impersonation mode', () => {
  it('presents the principal, its groups and Gatehouse extras to the API server', async () => {
    const review = JSON.parse(await via.ok(['auth', 'whoami', '-o', 'json'])) as {
      status: { userInfo: { username: string; groups: string[]; extra: Record<string, string[]> } };
    };
    const user = review.status.userInfo;
    expect(user.username).toBe('gatehouse-admin');
    expect(user.groups).toEqual(expect.arrayContaining(['gatehouse:admins', 'system:authenticated']));
    expect(user.groups).not.toContain('system:masters');
    expect(user.extra['gatehouse-client-address']).toEqual(['127.0.0.1']);
    expect(user.extra['gatehouse-via']).toEqual(['bootstrap-token']);
    expect(user.extra['gatehouse-request-id']?.[0]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("lets the cluster's RBAC decide, for requests and for exec upgrades", async () => {
    const denied = await via(['-n', ns, 'get', 'pods']);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('User "gatehouse-admin" cannot list resource "pods"');
    const execDenied = await via(['-n', ns, 'exec', pod, '--', 'echo', 'hi']);
    expect(execDenied.code).toBe(1);
    expect(execDenied.stderr).toMatch(/forbidden|Forbidden/);

    await direct.ok(['-n', ns, 'create', 'rolebinding', 'gatehouse-admins', '--clusterrole=admin', '--group=gatehouse:admins']);
    // RBAC changes reach the authorizer's cache within moments; retry briefly.
    let listed = '';
    for (let i = 0; i < 50 && !listed.includes(pod); i++) {
      const r = await via(['-n', ns, 'get', 'pods', '-o', 'name']);
      listed = r.stdout;
      if (!listed.includes(pod)) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(listed).toContain(`pod/${pod}`);
    expect(await via.ok(['-n', ns, 'exec', pod, '--', 'echo', 'hi'])).toBe('hi\n');
  });
});
