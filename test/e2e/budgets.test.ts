import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import type { Approval } from '../../src/approvals/types.js';
import { startPostgres } from '../../src/harness/postgres.js';
import type { PostgresServer } from '../../src/harness/postgres.js';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { gatehouse, identity } from './helpers/identities.js';
import type { Identity } from './helpers/identities.js';
import { kubectlFor } from './helpers/run.js';
import type { Kubectl } from './helpers/run.js';

// Blast-radius budgets end to end: real kubectl through real gateway processes
// to the real API server. An agent's delete budget (review past it, approved
// requests go through, room again after the window), a scale guard, one
// budget shared by two replicas on one PostgreSQL store, and a count that
// survives a gateway restart on SQLite.
const cluster = inject('cluster');
const suffix = randomBytes(3).toString('hex');
const ns = `budgets-${suffix}`;
const shared = `budgets-shared-${suffix}`;
const restart = `budgets-restart-${suffix}`;
const direct = kubectlFor(cluster.adminKubeconfig);
const work = mkdtempSync(join(tmpdir(), 'gatehouse-budgets-'));
const policyFile = join(work, 'budgets.yaml');
let gateway: GatewayProcess;
let agent: Identity;
let approver: Identity;
const started: GatewayProcess[] = [];

/** Starts a gateway with the budget policy (and `extra` options), stopped after the file. */
async function gatewayWith(extra: string[] = []): Promise<GatewayProcess> {
  const g = await startGatewayProcess(cluster.adminKubeconfig, ['--policy', policyFile, '--approval-hold', '0', ...extra]);
  started.push(g);
  return g;
}

beforeAll(async () => {
  writeFileSync(
    policyFile,
    stringify({
      apiVersion: 'gatehouse.dev/v1alpha1',
      kind: 'Policy',
      metadata: { name: 'budgets' },
      spec: {
        budgets: [
          {
            name: 'agent-deletes',
            match: { verbs: ['delete'], resources: [{ group: '', resource: 'pods' }], namespaces: [ns], principalKinds: ['agent'] },
            limit: 3,
            window: '20s',
            message: 'ask in #platform for more',
          },
          { name: 'no-scale-to-zero', match: { namespaces: [ns] }, scale: { minReplicas: 1, maxChangePercent: 50 }, action: 'deny' },
          {
            name: 'namespace-deletes',
            match: { verbs: ['delete'], resources: [{ group: '', resource: 'configmaps' }], namespaces: [shared, restart] },
            limit: 2,
            window: '10m',
            per: 'namespace',
            action: 'deny',
          },
        ],
      },
    }),
  );
  for (const n of [ns, shared, restart]) await direct.ok(['create', 'namespace', n]);
  for (let i = 1; i <= 6; i++) await direct.ok(['-n', ns, 'run', `p${i}`, '--image=registry.invalid/app:1']);
  for (const n of [shared, restart]) for (const cm of ['a', 'b', 'c']) await direct.ok(['-n', n, 'create', 'configmap', cm]);
  gateway = await gatewayWith();
  agent = await identity(gateway, 'budget-bot', ns, { kind: 'agent', groups: 'agents' });
  approver = await identity(gateway, 'alice', ns, { kind: 'human', groups: 'gatehouse:approvers' });
}, 180_000);
afterAll(async () => {
  for (const n of [ns, shared, restart]) await direct(['delete', 'namespace', n, '--wait=false']);
  for (const g of started) await g.stop();
  rmSync(work, { recursive: true, force: true });
});

const deletePod = (who: Kubectl, name: string) => who(['delete', 'pod', name, '--wait=false']);
const exists = async (n: string, kind: string, name: string) => (await direct(['-n', n, 'get', kind, name])).code === 0;

describe('budgets on real kubectl requests', () => {
  it("lets an agent delete up to its budget, holds the next delete for review naming the budget, and frees up after the window", async () => {
    for (const name of ['p1', 'p2', 'p3']) expect((await deletePod(agent.kubectl, name)).stdout).toBe(`pod "${name}" deleted\n`);
    const over = await deletePod(agent.kubectl, 'p4');
    expect(over.code).toBe(1);
    expect(over.stderr).toContain('Error from server (Forbidden): needs approval: policy rule "agent-deletes": budget "agent-deletes" (3 deletes per 20s per principal, here "token:budget-bot") is used up: 3 counted in the last 20s; it resets at ');
    expect(over.stderr).toContain('Ask in #platform for more.');
    expect(await exists(ns, 'pod', 'p4')).toBe(true);
    const resetsAt = Date.parse(/it resets at (\S+Z) /.exec(over.stderr)![1]!);
    expect(resetsAt - Date.now()).toBeLessThanOrEqual(40_000);

    // A person approves the held delete: the identical request then goes through, budget or not.
    const pending = (await approver.approvals(['list', '--state', 'pending', '--json'])).stdout;
    const approval = (JSON.parse(pending) as Approval[]).find((a) => a.summary.includes('p4'))!;
    expect(approval).toMatchObject({ rule: 'agent-deletes', requester: { subject: 'token:budget-bot' } });
    expect(approval.message).toContain('budget "agent-deletes"');
    expect((await approver.approvals(['approve', approval.id, '-m', 'cleanup'])).code).toBe(0);
    expect((await deletePod(agent.kubectl, 'p4')).stdout).toBe('pod "p4" deleted\n');

    // Still used up for anything else until the reset time; then room again without anyone's approval.
    expect((await deletePod(agent.kubectl, 'p5')).stderr).toContain('budget "agent-deletes"');
    await new Promise((r) => setTimeout(r, Math.max(0, resetsAt - Date.now()) + 500));
    expect((await deletePod(agent.kubectl, 'p6')).stdout).toBe('pod "p6" deleted\n');

    // The audit record names the budget that decided.
    const audit = await gatewayAudit(gateway, 'p5');
    expect(audit).toMatchObject({ decision: { action: 'review', rule: 'agent-deletes', budgets: [{ budget: 'agent-deletes', exceeded: true, limit: 3, window: '20s' }] } });
  }, 120_000);

  it('refuses scaling a Deployment to zero replicas, and by more than half, through the scale subresource', async () => {
    await direct.ok(['-n', ns, 'create', 'deployment', 'web', '--image=registry.invalid/app:1', '--replicas=2']);
    const zero = await agent.kubectl(['scale', 'deployment', 'web', '--replicas=0']);
    expect(zero.code).toBe(1);
    expect(zero.stderr).toContain(
      'Error from server (Forbidden): refused: budget "no-scale-to-zero" (replicas at least 1, a change of at most 50%) does not allow scaling deployment "web" from 2 to 0 replicas, below the minimum of 1.',
    );
    expect((await agent.kubectl(['scale', 'deployment', 'web', '--replicas=6'])).stderr).toContain('from 2 to 6 replicas, a change of 200%, more than 50%');
    expect(await direct.ok(['-n', ns, 'get', 'deployment', 'web', '-o', 'jsonpath={.spec.replicas}'])).toBe('2');
    expect(await agent.kubectl.ok(['scale', 'deployment', 'web', '--replicas=3'])).toBe('deployment.apps/web scaled\n');
    expect(await direct.ok(['-n', ns, 'get', 'deployment', 'web', '-o', 'jsonpath={.spec.replicas}'])).toBe('3');
  });

  describe('on a PostgreSQL store', () => {
    let pg: PostgresServer;
    beforeAll(async () => {
      pg = await startPostgres({ fsync: false });
    }, 60_000);
    afterAll(() => pg?.destroy(), 30_000);

    it('shares one budget between two gateway replicas', async () => {
      const config = join(work, 'postgres.yaml');
      writeFileSync(config, stringify({ store: { postgres: { url: await pg.createDatabase('budgets') } } }));
      const [one, two] = await Promise.all([gatewayWith(['--config', config]), gatewayWith(['--config', config])]);
      const [viaOne, viaTwo] = [kubectlFor(one.adminKubeconfig), kubectlFor(two.adminKubeconfig)];
      expect(await viaOne.ok(['-n', shared, 'delete', 'configmap', 'a'])).toBe('configmap "a" deleted\n');
      expect(await viaTwo.ok(['-n', shared, 'delete', 'configmap', 'b'])).toBe('configmap "b" deleted\n');
      const over = await viaOne(['-n', shared, 'delete', 'configmap', 'c']);
      expect(over.code).toBe(1);
      expect(over.stderr).toContain(`Error from server (Forbidden): refused: budget "namespace-deletes" (2 deletes per 10m per namespace, here "${shared}") is used up: 2 counted in the last 10m`);
      expect(await exists(shared, 'configmap', 'c')).toBe(true);
    }, 120_000);
  });

  it('keeps the count across a gateway restart on SQLite', async () => {
    const config = join(work, 'sqlite.yaml');
    writeFileSync(config, stringify({ store: { sqlite: { path: join(work, 'restart.db') } } }));
    const before = await gatewayWith(['--config', config]);
    const viaBefore = kubectlFor(before.adminKubeconfig);
    expect(await viaBefore.ok(['-n', restart, 'delete', 'configmap', 'a'])).toBe('configmap "a" deleted\n');
    expect(await viaBefore.ok(['-n', restart, 'delete', 'configmap', 'b'])).toBe('configmap "b" deleted\n');
    await before.kill('SIGTERM');
    const after = await gatewayWith(['--config', config]);
    const over = await kubectlFor(after.adminKubeconfig)(['-n', restart, 'delete', 'configmap', 'c']);
    expect(over.code).toBe(1);
    expect(over.stderr).toContain('refused: budget "namespace-deletes"');
    expect(await exists(restart, 'configmap', 'c')).toBe(true);
  }, 120_000);
});

/** The gateway's audit record of the delete of pod `name` that a budget stopped (`gatehouse audit search`). */
async function gatewayAudit(g: GatewayProcess, name: string): Promise<Record<string, unknown> | undefined> {
  const find = async () => {
    const out = await gatehouse(['audit', 'search', '--data-dir', g.dataDir, '--namespace', ns, '--verb', 'delete', '--json', '--limit', '100']);
    const events = (JSON.parse(out.stdout) as { event: { request: { name: string }; decision?: { budgets?: unknown } } }[]).map((r) => r.event);
    return events.find((e) => e.request.name === name && e.decision?.budgets !== undefined);
  };
  await expect.poll(find, { timeout: 10_000, interval: 250 }).toBeDefined();
  return find();
}
