import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { rawRequest } from './helpers/https.js';
import { kubectlFor, run } from './helpers/run.js';

// Gatehouse tokens for agents and CI, end to end: created with the CLI while
// the gateway runs, used by kubectl, revoked with immediate effect. The
// gateway runs in impersonation mode so the API server itself reports who
// the gateway said was asking.
const cluster = inject('cluster');
const ns = `tokens-${randomBytes(3).toString('hex')}`;
let gateway: GatewayProcess;

const gatehouse = (args: string[]) => run(process.execPath, ['bin/gatehouse.js', ...args]);

beforeAll(async () => {
  gateway = await startGatewayProcess(cluster.adminKubeconfig, ['--impersonate']);
  const direct = kubectlFor(cluster.adminKubeconfig);
  await direct.ok(['create', 'namespace', ns]);
  await direct.ok(['-n', ns, 'create', 'rolebinding', 'agents-view', '--clusterrole=view', '--group=ai-agents']);
});
afterAll(async () => {
  await kubectlFor(cluster.adminKubeconfig)(['delete', 'namespace', ns, '--wait=false']);
  await gateway?.stop();
});

describe('Gatehouse tokens', () => {
  it('authenticate an agent as token:<name> with its groups, until revoked', async () => {
    const tokenFile = join(gateway.dataDir, 'cursor.token');
    const created = await gatehouse(['tokens', 'create', '--data-dir', gateway.dataDir, '--name', 'cursor-alice', '--kind', 'agent', '--groups', 'dev,ai-agents', '--ttl', '30d', '--sponsor', 'alice', '-o', tokenFile]);
    expect(created.code, created.stderr).toBe(0);
    const token = readFileSync(tokenFile, 'utf8').trim();
    expect(token).toMatch(/^ght_/);

    const kubeconfig = join(gateway.dataDir, 'cursor.kubeconfig');
    const written = await gatehouse(['kubeconfig', '--token-file', tokenFile, '--server', gateway.url, '--data-dir', gateway.dataDir, '--namespace', ns, '-o', kubeconfig]);
    expect(written.code, written.stderr).toBe(0);
    const agent = kubectlFor(kubeconfig);

    const review = JSON.parse(await agent.ok(['auth', 'whoami', '-o', 'json'])) as {
      status: { userInfo: { username: string; groups: string[]; extra: Record<string, string[]> } };
    };
    expect(review.status.userInfo.username).toBe('token:cursor-alice');
    expect(review.status.userInfo.groups).toEqual(expect.arrayContaining(['dev', 'ai-agents', 'system:authenticated']));
    expect(review.status.userInfo.extra['gatehouse-principal-kind']).toEqual(['agent']);
    expect(review.status.userInfo.extra['gatehouse-via']).toEqual(['token']);
    // The API server's own audit log can name the human behind the agent, and the client.
    expect(review.status.userInfo.extra['gatehouse-sponsor']).toEqual(['alice']);
    expect(review.status.userInfo.extra['gatehouse-client']?.[0]).toMatch(/^kubectl/);
    // The cluster's RBAC applies to the agent's groups: view in this namespace, nothing more.
    expect((await agent(['get', 'pods'])).code).toBe(0);
    const write = await agent(['create', 'configmap', 'nope']);
    expect(write.code).toBe(1);
    expect(write.stderr).toContain('User "token:cursor-alice" cannot create resource "configmaps"');

    const listed = await gatehouse(['tokens', 'list', '--data-dir', gateway.dataDir, '--json']);
    const rows = JSON.parse(listed.stdout) as { name: string; lastUsedAt: string | null; sponsor: string | null }[];
    expect(rows.find((r) => r.name === 'cursor-alice')).toMatchObject({ sponsor: 'alice' });
    expect(listed.stdout).not.toContain(token);

    const revoked = await gatehouse(['tokens', 'revoke', '--data-dir', gateway.dataDir, 'cursor-alice']);
    expect(revoked.code, revoked.stderr).toBe(0);
    const after = await agent(['get', 'pods']);
    expect(after.code).toBe(1);
    expect(after.stderr).toContain('You must be logged in to the server');
    const raw = await rawRequest(gateway.url, {
      path: `/api/v1/namespaces/${ns}/pods`,
      headers: { authorization: `Bearer ${token}` },
      caPem: readFileSync(join(gateway.dataDir, 'ca.crt'), 'utf8'),
    });
    expect(raw.status).toBe(401);
  });

  it('refuses an expired token', async () => {
    const tokenFile = join(gateway.dataDir, 'short.token');
    const created = await gatehouse(['tokens', 'create', '--data-dir', gateway.dataDir, '--name', 'short-lived', '--kind', 'ci', '--ttl', '1s', '-o', tokenFile]);
    expect(created.code, created.stderr).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const raw = await rawRequest(gateway.url, {
      path: '/api',
      headers: { authorization: `Bearer ${readFileSync(tokenFile, 'utf8').trim()}` },
      caPem: readFileSync(join(gateway.dataDir, 'ca.crt'), 'utf8'),
    });
    expect(raw.status).toBe(401);
  });
});
