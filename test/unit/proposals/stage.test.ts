/** The proposal stage and service over a real SQLite store, with a stand-in dry-run and a stand-in gateway for applies. */
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { GatehouseError } from '../../../src/errors/codes.js';
import type { Principal } from '../../../src/identity/principal.js';
import { statusFor } from '../../../src/kube/status.js';
import { createMasker } from '../../../src/masking/index.js';
import type { RequestContext, StageOutcome } from '../../../src/pipeline/context.js';
import type { Decision } from '../../../src/policy/engine.js';
import type { ResolvedObjects } from '../../../src/policy/stage.js';
import { createApplications } from '../../../src/proposals/apply.js';
import type { Applications, SentAnswer } from '../../../src/proposals/apply.js';
import { manifestOf, manifestPath } from '../../../src/proposals/export.js';
import { createProposals } from '../../../src/proposals/service.js';
import type { Proposals } from '../../../src/proposals/service.js';
import { changeLine, createProposalStage } from '../../../src/proposals/stage.js';
import type { Proposal } from '../../../src/proposals/types.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import type { SqliteStore } from '../../../src/store/sqlite.js';
import { kubeRequest, principal } from '../policy/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-proposals-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
let store: SqliteStore;
let applications: Applications;
let proposals: Proposals;
let sent: { proposal: Proposal; token: string; applier: Principal | undefined }[];
let answer: SentAnswer;
beforeEach(async () => {
  await store?.close();
  store = openSqliteStore(join(dir, `p-${++n}.db`));
  applications = createApplications();
  sent = [];
  answer = { status: 201, body: '{}', requestId: 'req-apply' };
  proposals = createProposals({
    repo: store.proposals,
    applications,
    // Stands in for the gateway: authenticates the one-time credential as the identity stage would.
    send: async (proposal, token) => {
      sent.push({ proposal, token, applier: await applications.authenticator(token) });
      return answer;
    },
    consoleUrl: () => 'https://gw.example/ui',
    log: pino({ level: 'silent' }),
  });
});

const bot = principal({ subject: 'token:bot', kind: 'agent', via: 'token', groups: ['agents'], sponsor: 'oidc:bob@example.com' });
const alice = principal({ subject: 'oidc:alice@example.com', groups: ['gatehouse:approvers'] });
const proposeDecision: Decision = { action: 'propose', rule: 'agents-propose', message: 'agents propose; people apply', hint: undefined, matched: [{ rule: 'agents-propose', action: 'propose', message: 'agents propose; people apply' }], errors: [] };
const live = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'dev', resourceVersion: '7', uid: 'u1' }, spec: { template: { spec: { containers: [{ name: 'app', image: 'app:1' }] } } } };
const withImage = (image: string, rv = '7') => ({ ...live, metadata: { ...live.metadata, resourceVersion: rv }, spec: { template: { spec: { containers: [{ name: 'app', image }] } } } });

function context(method: string, url: string, body: unknown, who: Principal = bot, decision: Decision = proposeDecision, upgrade = false): RequestContext {
  const raw = Buffer.from(JSON.stringify(body ?? {}));
  const req = { method, url, headers: { 'content-type': 'application/json' }, socket: {} } as unknown as IncomingMessage;
  return { id: `req-${method}`, req, upgrade, arrivedMicros: 0, startedAt: 0n, principal: who, cluster: 'default', request: kubeRequest(method, url, body), body: raw, decision, timings: {} };
}

function stage(resolve: (ctx: RequestContext) => Promise<ResolvedObjects>) {
  return createProposalStage({ proposals, applications, resolveObject: resolve, masker: createMasker(), defaults: { approverGroups: ['gatehouse:approvers'], sponsorMayApprove: false } });
}

function refusal(outcome: StageOutcome): GatehouseError {
  if (outcome.action !== 'stop') throw new Error('the request was let through');
  return outcome.error;
}

const createUrl = '/apis/apps/v1/namespaces/dev/deployments?fieldManager=kubectl-client-side-apply';
const patchUrl = '/apis/apps/v1/namespaces/dev/deployments/web';

describe('proposal stage', () => {
  it('stores a proposed create after the dry-run and answers 403 GH_PROPOSED with the id, the change and where to review it', async () => {
    const s = stage(() => Promise.resolve({ object: withImage('app:1'), oldObject: null }));
    const ctx = context('POST', createUrl, withImage('app:1'));
    const err = refusal(await s.run(ctx));
    expect(err.code).toBe('GH_PROPOSED');
    const [p] = await proposals.list({});
    expect(ctx.proposal).toEqual({ id: p!.id, action: 'proposed' });
    expect(err.message).toBe(
      `proposed, not applied: this write is in propose-only mode (policy rule "agents-propose": agents propose; people apply). The API server validated it with a dry-run and it was stored as proposal ${p!.id}; nothing in the cluster was changed. ` +
        `It would create deployments.apps web in namespace dev (${p!.diff!.split('\n').filter((l) => l.startsWith('+') && !l.startsWith('+++')).length} lines of YAML). A person will review it at https://gw.example/ui/proposals/${p!.id} and apply or reject it. Do not retry: the same write only finds the same proposal.`,
    );
    expect(statusFor(err)).toMatchObject({ code: 403, reason: 'Forbidden', details: { causes: [{ reason: 'GH_PROPOSED' }, { reason: 'GatehouseProposal', message: p!.id, field: 'proposal' }] } });
    expect(p).toMatchObject({
      state: 'pending',
      cluster: 'default',
      requester: { subject: 'token:bot', sponsor: 'oidc:bob@example.com' },
      request: { method: 'POST', verb: 'create', name: 'web', path: createUrl, contentType: 'application/json' },
      baseResourceVersion: null,
      approverGroups: ['gatehouse:approvers'],
      sponsorMayApprove: false,
    });
    // The whole object is the diff of a create; managedFields and resourceVersion are not shown.
    expect(p!.diff).toContain('+kind: Deployment\n');
    expect(p!.diff).not.toContain('resourceVersion');
    expect(Buffer.from(p!.request.body, 'base64').toString()).toBe(JSON.stringify(withImage('app:1')));
  });

  it('answers the identical write with the same pending proposal, without another dry-run', async () => {
    let dryRuns = 0;
    const s = stage(() => (dryRuns++, Promise.resolve({ object: withImage('app:1'), oldObject: null })));
    const first = refusal(await s.run(context('POST', createUrl, withImage('app:1'))));
    const again = refusal(await s.run(context('POST', createUrl, withImage('app:1'))));
    expect(dryRuns).toBe(1);
    expect(again.causes[0]!.message).toBe(first.causes[0]!.message);
    expect(again.message).toContain('It is already pending as proposal');
    // A different body is a different proposal.
    refusal(await s.run(context('POST', createUrl, withImage('app:2'))));
    expect(await proposals.list({})).toHaveLength(2);
  });

  it('shows the changed image as the diff of a patch', async () => {
    const s = stage(() => Promise.resolve({ object: withImage('app:2', '7'), oldObject: live }));
    refusal(await s.run(context('PATCH', patchUrl, { spec: {} })));
    const [p] = await proposals.list({});
    expect(p!.baseResourceVersion).toBe('7');
    expect(p!.diff).toMatch(/\n- +image: app:1\n\+ +image: app:2\n/);
    expect(p!.change).toBe('would patch deployments.apps web in namespace dev: 1 line(s) added, 1 removed, first: "image: app:2"');
  });

  it('returns the API server’s refusal of the dry-run as is, and stores nothing', async () => {
    const refused = new GatehouseError('GH_DRY_RUN_REFUSED', 'Deployment.apps "web" is invalid: spec.template.spec.containers: Required value', { relayed: { httpStatus: 422, reason: 'Invalid' } });
    const s = stage(() => Promise.reject(refused));
    expect(refusal(await s.run(context('POST', createUrl, {})))).toBe(refused);
    expect(await proposals.list({})).toEqual([]);
  });

  it('refuses sessions and lets dry-runs, reads and other decisions through', async () => {
    const s = stage(() => Promise.reject(new Error('no dry-run expected')));
    const exec = refusal(await s.run(context('POST', '/api/v1/namespaces/dev/pods/web/exec?command=sh', undefined, bot, proposeDecision, true)));
    expect(exec.code).toBe('GH_PROPOSAL_UNSUPPORTED');
    expect(exec.message).toContain('an interactive or proxied request (exec) cannot be proposed');
    expect(await s.run(context('POST', `${createUrl}&dryRun=All`, {}))).toEqual({ action: 'continue' });
    const allow: Decision = { ...proposeDecision, action: 'allow' };
    expect(await s.run(context('POST', createUrl, {}, bot, allow))).toEqual({ action: 'continue' });
  });

  it('fails closed with GH_PROPOSAL_FAILED when the store is down', async () => {
    const s = stage(() => Promise.resolve({ object: live, oldObject: null }));
    await store.close();
    const err = refusal(await s.run(context('POST', createUrl, {})));
    expect(err.code).toBe('GH_PROPOSAL_FAILED');
    expect(err.retryAfterSeconds).toBe(5);
    store = openSqliteStore(join(dir, `p-${++n}.db`));
  });
});

describe('applying and rejecting', () => {
  async function proposePatch(): Promise<Proposal> {
    const s = stage(() => Promise.resolve({ object: withImage('app:2'), oldObject: live }));
    refusal(await s.run(context('PATCH', patchUrl, { spec: {} })));
    return (await proposals.list({}))[0]!;
  }
  const approver = { subject: alice.subject, groups: alice.groups };

  it('sends the stored write as the applier with a one-time credential the stage recognises, then marks it applied', async () => {
    const p = await proposePatch();
    const done = await proposals.apply(p.id, approver, alice);
    expect(done).toMatchObject({ state: 'applied', decidedBy: alice.subject, result: { status: 201, by: alice.subject, requestId: 'req-apply', message: `applied: ${p.summary}` } });
    // The credential stood for alice, once; its principal is what the stage recognises as applying this proposal.
    const applier = sent[0]!.applier!;
    expect(applier).toMatchObject({ subject: alice.subject, groups: alice.groups, via: 'oidc' });
    expect(await applications.authenticator(sent[0]!.token)).toBeUndefined();
    expect(applications.claim(applier)).toBe(p.id);
    expect(applications.claim(applier)).toBeUndefined();
    expect(applications.claim(alice)).toBeUndefined();
  });

  it('lets the applying request through the stage once, as the stored write, unless the live object changed the diff', async () => {
    const p = await proposePatch();
    const { token } = applications.issue(alice, p.id);
    const asAlice = (await applications.authenticator(token))!;
    expect(asAlice).toMatchObject({ subject: alice.subject });
    // Same live object: goes on, recorded as applying the proposal.
    const ctx = context('PATCH', patchUrl, { spec: {} }, asAlice, { ...proposeDecision, action: 'allow' });
    expect(await stage(() => Promise.resolve({ object: withImage('app:2', '8'), oldObject: { ...live, metadata: { ...live.metadata, resourceVersion: '8' } } })).run(ctx)).toEqual({ action: 'continue' });
    expect(ctx.proposal).toEqual({ id: p.id, action: 'applied' });

    // The live image changed since: 409 GH_PROPOSAL_STALE.
    const again = (await applications.authenticator(applications.issue(alice, p.id).token))!;
    const stale = refusal(await stage(() => Promise.resolve({ object: withImage('app:2', '9'), oldObject: withImage('app:3', '9') })).run(context('PATCH', patchUrl, { spec: {} }, again)));
    expect(stale.code).toBe('GH_PROPOSAL_STALE');
    expect(stale.httpStatus).toBe(409);
    expect(stale.message).toContain('the live object changed since proposal');

    // Another write under an application credential is not the proposal.
    const other = (await applications.authenticator(applications.issue(alice, p.id).token))!;
    expect(refusal(await stage(() => Promise.resolve({ object: live, oldObject: live })).run(context('PATCH', patchUrl, { spec: { other: 1 } }, other))).code).toBe('GH_PROPOSAL_STALE');
  });

  it('keeps a refused apply pending with its result, and says why', async () => {
    const p = await proposePatch();
    answer = { status: 403, body: JSON.stringify({ kind: 'Status', message: 'denied by policy rule "x"' }), requestId: 'r2' };
    const refused = await proposals.apply(p.id, approver, alice);
    expect(refused).toMatchObject({ code: 'forbidden', message: `applying proposal ${p.id} was refused (403): denied by policy rule "x"` });
    expect(await proposals.get(p.id)).toMatchObject({ state: 'pending', result: { status: 403, message: 'denied by policy rule "x"' } });
  });

  it('lets only other approvers, not the requester nor its sponsor, decide; a rejection needs a comment', async () => {
    const p = await proposePatch();
    expect(proposals.canDecide(p, { subject: 'token:bot', groups: ['gatehouse:approvers'] })).toMatchObject({ code: 'forbidden' });
    const sponsor = proposals.canDecide(p, { subject: 'oidc:bob@example.com', groups: ['gatehouse:approvers'] });
    expect(sponsor?.code).toBe('forbidden');
    expect(sponsor?.message).toContain('sponsors token:bot');
    expect(proposals.canDecide(p, { subject: 'oidc:eve@example.com', groups: ['dev'] })).toMatchObject({ code: 'forbidden' });
    expect(await proposals.reject(p.id, approver, ' ')).toMatchObject({ code: 'invalid' });
    expect(await proposals.reject(p.id, approver, 'not now')).toMatchObject({ state: 'rejected', decidedBy: alice.subject, comment: 'not now' });
    expect(await proposals.apply(p.id, approver, alice)).toMatchObject({ code: 'conflict' });
    expect(sent).toHaveLength(0);
  });
});

describe('changeLine and export', () => {
  it('summarises deletes and no-op patches', () => {
    expect(changeLine('delete', 'delete pods web in namespace dev', '--- live\n+++ after this request\n@@ -1,1 +0,0 @@\n-kind: Pod\n')).toBe('would delete pods web in namespace dev');
    expect(changeLine('patch', 'patch pods web in namespace dev', null)).toBe('would patch pods web in namespace dev, which changes nothing in the live object');
  });

  it('strips server-managed fields and places the manifest by cluster, namespace, kind and name', () => {
    const m = manifestOf({
      ...live,
      metadata: { ...live.metadata, creationTimestamp: 't', managedFields: [], generation: 1, annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}', team: 'a' } },
      status: { replicas: 1 },
    })!;
    expect(m).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'dev', annotations: { team: 'a' } }, spec: live.spec });
    expect(manifestPath('prod', m)).toBe('prod/dev/deployment-web.yaml');
    expect(manifestPath('prod', { kind: 'Namespace', metadata: { name: '../x' } })).toBe('prod/_cluster/namespace-.._x.yaml');
    expect(manifestOf(null)).toBeUndefined();
  });
});
