import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { ProposalView } from '../../src/proposals/types.js';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { gatehouse, identity } from './helpers/identities.js';
import type { Identity } from './helpers/identities.js';
import { kubectlFor } from './helpers/run.js';
import type { RunResult } from './helpers/run.js';

// Propose-only mode end to end: an agent's real `kubectl apply` through a real
// gateway process to the real API server becomes a proposal (nothing is
// created), a person applies it with `gatehouse proposals apply` (the gateway
// sends it as them, recorded), rejects another, and exports the manifests.
const cluster = inject('cluster');
const ns = `proposals-${randomBytes(3).toString('hex')}`;
const impNs = `proposals-imp-${randomBytes(3).toString('hex')}`;
const direct = kubectlFor(cluster.adminKubeconfig);
const work = mkdtempSync(join(tmpdir(), 'gatehouse-proposals-'));
const policyFile = join(work, 'propose.yaml');
let gateway: GatewayProcess;
let impersonating: GatewayProcess | undefined;
let agent: Identity;
let approver: Identity;

function succeeded(r: RunResult): RunResult {
  expect(r.code, r.stderr).toBe(0);
  return r;
}

function deployment(name: string, image: string, namespace = ns): string {
  const file = join(work, `${namespace}-${name}-${image.replace(/\W/g, '-')}.yaml`);
  writeFileSync(
    file,
    stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image }] } },
      },
    }),
  );
  return file;
}

async function proposals(state = 'pending'): Promise<ProposalView[]> {
  return JSON.parse(succeeded(await approver.cli(['proposals', 'list', '--state', state, '--json'])).stdout) as ProposalView[];
}

/** The proposal id in kubectl's error output. */
function proposalId(r: RunResult): string {
  const id = /proposal (prp_[\w-]+)/.exec(r.stderr)?.[1];
  expect(id, r.stderr).toBeDefined();
  return id!;
}

async function exists(name: string, namespace = ns): Promise<boolean> {
  return (await direct(['-n', namespace, 'get', 'deployment', name])).code === 0;
}

beforeAll(async () => {
  writeFileSync(
    policyFile,
    stringify({
      apiVersion: 'gatehouse.dev/v1alpha1',
      kind: 'Policy',
      metadata: { name: 'propose' },
      spec: {
        rules: [{ name: 'agents-propose', match: { principalKinds: ['agent'], namespaces: [ns, impNs] }, action: 'propose', message: 'agents propose changes here; people apply them' }],
      },
    }),
  );
  await direct.ok(['create', 'namespace', ns]);
  await direct.ok(['-n', ns, 'create', 'deployment', 'web-existing', '--image=registry.invalid/app:1']);
  gateway = await startGatewayProcess(cluster.adminKubeconfig, ['--policy', policyFile]);
  agent = await identity(gateway, 'prop-bot', ns, { kind: 'agent', groups: 'agents' });
  approver = await identity(gateway, 'alice', ns, { kind: 'human', groups: 'gatehouse:approvers' });
}, 120_000);
afterAll(async () => {
  await direct(['delete', 'namespace', ns, '--wait=false']);
  await direct(['delete', 'namespace', impNs, '--wait=false']);
  await gateway?.stop();
  await impersonating?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('propose-only mode', () => {
  let createdId: string;
  let updateId: string;

  it('turns an agent’s kubectl apply of a new Deployment into a proposal: nothing is created, kubectl fails with the proposal', async () => {
    const file = deployment('web-new', 'registry.invalid/app:1');
    const r = await agent.kubectl(['apply', '-f', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Error from server (Forbidden)');
    expect(r.stderr).toContain('proposed, not applied: this write is in propose-only mode (policy rule "agents-propose"');
    expect(r.stderr).toContain('would create deployments.apps web-new in namespace');
    expect(r.stderr).toContain('Do not retry');
    createdId = proposalId(r);
    expect(r.stderr).toContain(`A person will review it at ${gateway.url}/ui/proposals/${createdId}`);
    expect(await exists('web-new')).toBe(false);

    const p = (await proposals()).find((x) => x.id === createdId)!;
    expect(p).toMatchObject({ state: 'pending', rule: 'agents-propose', requester: { subject: 'token:prop-bot', kind: 'agent' }, request: { verb: 'create', resource: 'deployments', namespace: ns, name: 'web-new' } });
    expect(p.request).not.toHaveProperty('body');
    // A create's diff is the whole object.
    expect(p.diff).toMatch(/^--- live\n\+\+\+ after this request\n@@ -0,0 \+1,\d+ @@\n/);
    expect(p.diff).toContain('+kind: Deployment');
    expect(p.diff).toMatch(/\n\+ +image: registry\.invalid\/app:1\n/);
    expect(p.diff!.split('\n').slice(3).filter((l) => l !== '').every((l) => l.startsWith('+'))).toBe(true);

    // The identical write finds the same proposal.
    const again = await agent.kubectl(['apply', '-f', file]);
    expect(again.code).toBe(1);
    expect(proposalId(again)).toBe(createdId);
    expect(again.stderr).toContain(`already pending as proposal ${createdId}`);
    expect((await proposals()).filter((x) => x.request.name === 'web-new')).toHaveLength(1);
  }, 60_000);

  it('still lets the agent read', async () => {
    expect(await agent.kubectl.ok(['get', 'deployments', '-o', 'name'])).toContain('deployment.apps/web-existing');
  });

  it('lets an approver apply it: the Deployment exists, and the audit names the applier and the proposal', async () => {
    const own = await agent.cli(['proposals', 'apply', createdId]);
    expect(own.code).toBe(1);
    expect(own.stderr).toContain('403');

    const applied = succeeded(await approver.cli(['proposals', 'apply', createdId]));
    expect(applied.stdout).toMatch(new RegExp(`^${createdId}: applied \\(create deployments\\.apps web-new in namespace ${ns}; request [\\w-]+\\)\\n$`));
    expect(await direct.ok(['-n', ns, 'get', 'deployment', 'web-new', '-o', 'jsonpath={.spec.template.spec.containers[0].image}'])).toBe('registry.invalid/app:1');
    expect((await proposals('applied')).find((x) => x.id === createdId)).toMatchObject({ decidedBy: 'token:alice', result: { status: 201 } });

    const events = async () => {
      const out = await gatehouse(['audit', 'search', '--data-dir', gateway.dataDir, '--namespace', ns, '--verb', 'create', '--json', '--limit', '100']);
      return (JSON.parse(out.stdout) as { event: { principal?: { subject: string }; proposal?: { id: string; action: string }; result: { status: number; code?: string } } }[]).map((r) => r.event);
    };
    await expect.poll(async () => (await events()).find((e) => e.proposal?.action === 'applied'), { timeout: 10_000, interval: 250 }).toBeDefined();
    const all = await events();
    expect(all.find((e) => e.proposal?.action === 'applied')).toMatchObject({ principal: { subject: 'token:alice' }, proposal: { id: createdId }, result: { status: 201 } });
    expect(all.find((e) => e.proposal?.action === 'proposed')).toMatchObject({ principal: { subject: 'token:prop-bot' }, proposal: { id: createdId }, result: { status: 403, code: 'GH_PROPOSED' } });

    // Applied once: a second apply is refused.
    const twice = await approver.cli(['proposals', 'apply', createdId]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain('409');
  }, 60_000);

  it('shows the changed image as the diff of an update of an existing Deployment, and changes nothing', async () => {
    const r = await agent.kubectl(['apply', '-f', deployment('web-existing', 'registry.invalid/app:2')]);
    expect(r.code).toBe(1);
    updateId = proposalId(r);
    expect(r.stderr).toContain(`would patch deployments.apps web-existing in namespace ${ns}: 3 line(s) added, 1 removed, first: "image: registry.invalid/app:2"`);
    const p = (await proposals()).find((x) => x.id === updateId)!;
    expect(p.request.verb).toBe('patch');
    expect(p.diff).toMatch(/\n- +image: registry\.invalid\/app:1\n\+ +image: registry\.invalid\/app:2\n/);
    expect(await direct.ok(['-n', ns, 'get', 'deployment', 'web-existing', '-o', 'jsonpath={.spec.template.spec.containers[0].image}'])).toBe('registry.invalid/app:1');
    const shown = succeeded(await approver.cli(['proposals', 'show', updateId]));
    expect(shown.stdout).toContain('Requester:  token:prop-bot (agent');
    expect(shown.stdout).toMatch(/\n- +image: registry\.invalid\/app:1\n\+ +image: registry\.invalid\/app:2\n/);
  }, 60_000);

  it('exports the pending manifests as <cluster>/<namespace>/<kind>-<name>.yaml without server-managed fields', async () => {
    const dir = join(work, 'export');
    succeeded(await approver.cli(['proposals', 'export', '--dir', dir]));
    const [clusterDir] = readdirSync(dir);
    const file = join(dir, clusterDir!, ns, 'deployment-web-existing.yaml');
    expect(existsSync(file)).toBe(true);
    const manifest = parse(readFileSync(file, 'utf8')) as { kind: string; metadata: Record<string, unknown>; spec: { template: { spec: { containers: { image: string }[] } } } };
    expect(manifest.kind).toBe('Deployment');
    expect(manifest.spec.template.spec.containers[0]!.image).toBe('registry.invalid/app:2');
    for (const f of ['managedFields', 'resourceVersion', 'uid', 'creationTimestamp']) expect(manifest.metadata).not.toHaveProperty(f);
    expect(manifest).not.toHaveProperty('status');
    // The applied create is not pending any more.
    expect(existsSync(join(dir, clusterDir!, ns, 'deployment-web-new.yaml'))).toBe(false);
  }, 60_000);

  it('refuses to apply a proposal whose object changed since, then rejects it', async () => {
    await direct.ok(['-n', ns, 'set', 'image', 'deployment/web-existing', 'app=registry.invalid/app:3']);
    const stale = await approver.cli(['proposals', 'apply', updateId]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain('409');
    expect(stale.stderr).toContain('the live object changed since proposal');
    expect(await direct.ok(['-n', ns, 'get', 'deployment', 'web-existing', '-o', 'jsonpath={.spec.template.spec.containers[0].image}'])).toBe('registry.invalid/app:3');

    const noComment = await approver.cli(['proposals', 'reject', updateId]);
    expect(noComment.code).toBe(1);
    expect(succeeded(await approver.cli(['proposals', 'reject', updateId, '-m', 'rebase on the new image first'])).stdout).toBe(`${updateId}: rejected\n`);
    expect((await proposals('rejected')).find((x) => x.id === updateId)).toMatchObject({ decidedBy: 'token:alice', comment: 'rebase on the new image first' });
  }, 60_000);
});

describe('propose-only mode with impersonation', () => {
  it('applies the proposal as the approver: the API server’s RBAC for them decides', async () => {
    await direct.ok(['create', 'namespace', impNs]);
    // The agent may create Deployments here (its dry-run is checked as the agent); alice, at first, may not.
    await direct.ok(['-n', impNs, 'create', 'rolebinding', 'agents-edit', '--clusterrole=edit', '--group=agents']);
    impersonating = await startGatewayProcess(cluster.adminKubeconfig, ['--policy', policyFile, '--impersonate']);
    const bot = await identity(impersonating, 'prop-bot', impNs, { kind: 'agent', groups: 'agents' });
    const alice = await identity(impersonating, 'alice', impNs, { kind: 'human', groups: 'gatehouse:approvers' });
    const file = deployment('imp-web', 'registry.invalid/app:1', impNs);
    // RBAC changes reach the authorizer's cache within moments.
    let proposed: RunResult | undefined;
    await expect
      .poll(async () => (proposed = await bot.kubectl(['apply', '-f', file])).stderr, { timeout: 20_000, interval: 300 })
      .toContain('proposed, not applied');
    const id = proposalId(proposed!);

    const refused = await alice.cli(['proposals', 'apply', id]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('User "token:alice" cannot create resource "deployments"');
    expect(await exists('imp-web', impNs)).toBe(false);

    await direct.ok(['-n', impNs, 'create', 'rolebinding', 'alice-edit', '--clusterrole=edit', '--user=token:alice']);
    let applied: RunResult | undefined;
    await expect.poll(async () => (applied = await alice.cli(['proposals', 'apply', id])).code, { timeout: 20_000, interval: 500 }).toBe(0);
    expect(applied!.stdout).toContain(`${id}: applied`);
    expect(await direct.ok(['-n', impNs, 'get', 'deployment', 'imp-web', '-o', 'name'])).toBe('deployment.apps/imp-web\n');
  }, 120_000);
});
