/** The budget stage over a real SQLite store: counting, the budget's review or deny past it, the reset time, scale guards, failing closed. */
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { buildAuditEvent } from '../../../src/audit/event.js';
import { createBudgetStage, span } from '../../../src/budgets/stage.js';
import type { BudgetStageOptions } from '../../../src/budgets/stage.js';
import type { BudgetsRepo } from '../../../src/budgets/store.js';
import { GatehouseError } from '../../../src/errors/codes.js';
import type { Principal } from '../../../src/identity/principal.js';
import { statusFor } from '../../../src/kube/status.js';
import type { RequestContext, StageOutcome } from '../../../src/pipeline/context.js';
import type { Decision } from '../../../src/policy/engine.js';
import { staticPolicy } from '../../../src/policy/model.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import type { SqliteStore } from '../../../src/store/sqlite.js';
import { kubeRequest, policyOf, policyYaml, principal } from '../policy/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-budgets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
let store: SqliteStore;
beforeEach(async () => {
  await store?.close();
  store = openSqliteStore(join(dir, `b-${++n}.db`));
});

const policy = policyOf(
  policyYaml(
    '    []\n',
    `  budgets:
    - name: agent-deletes
      match: { verbs: [delete], principalKinds: [agent] }
      limit: 3
      window: 10m
      message: "ask in #platform if you need more"
    - name: namespace-creates
      match: { verbs: [create] }
      limit: 2
      window: 1m
      per: namespace
      action: deny
    - name: sponsor-patches
      match: { verbs: [patch], resources: [{ group: "", resource: configmaps }] }
      limit: 1
      window: 1h
      per: sponsor
    - name: no-scale-to-zero
      match: { namespaces: ["prod-*"] }
      scale: { minReplicas: 1, maxChangePercent: 50 }
      action: deny
`,
  ),
);

const agent = principal({ subject: 'token:cursor-bob', kind: 'agent', via: 'token', sponsor: 'oidc:bob@example.com' });
const allowed: Decision = { action: 'allow', rule: 'writes', message: 'ok', hint: undefined, matched: [{ rule: 'writes', action: 'allow', message: 'ok' }], errors: [] };
const T0 = Date.UTC(2026, 10, 25, 14, 20, 0); // a 10-minute window start

function context(method: string, url: string, who: Principal = agent, decision: Decision = allowed): RequestContext {
  return { id: 'req-1', req: {} as IncomingMessage, upgrade: false, arrivedMicros: 0, startedAt: 0n, principal: who, request: kubeRequest(method, url), decision, timings: {} };
}

function stage(extra: Partial<BudgetStageOptions> = {}, clock = { now: T0 }) {
  return createBudgetStage({ policy: staticPolicy(policy), repo: store.budgets, approvals: true, now: () => clock.now, ...extra });
}

function refusal(outcome: StageOutcome): GatehouseError {
  if (outcome.action !== 'stop') throw new Error('the request was let through');
  return outcome.error;
}

const del = (name: string) => context('DELETE', `/api/v1/namespaces/team-a/pods/${name}`);

describe('budget stage', () => {
  it('counts the requests a budget matches and records them in the decision', async () => {
    const s = stage();
    const ctx = del('a');
    expect(await s.run(ctx)).toEqual({ action: 'continue' });
    expect(ctx.decision).toEqual({ ...allowed, budgets: [{ budget: 'agent-deletes', per: 'token:cursor-bob', limit: 3, window: '10m', used: 1, exceeded: false }] });
    // A human's delete matches no budget, and is neither counted nor annotated.
    const human = context('DELETE', '/api/v1/namespaces/team-a/pods/b', principal());
    expect(await s.run(human)).toEqual({ action: 'continue' });
    expect(human.decision).toBe(allowed);
  });

  it('sends the request past the budget for review, naming the budget and when it resets', async () => {
    const clock = { now: T0 + 60_000 };
    const s = stage({}, clock);
    for (const name of ['a', 'b', 'c']) expect(await s.run(del(name))).toEqual({ action: 'continue' });
    clock.now = T0 + 125_000;
    const ctx = del('d');
    expect(await s.run(ctx)).toEqual({ action: 'continue' }); // on to the approval stage, which holds it
    const message =
      'budget "agent-deletes" (3 deletes per 10m per principal, here "token:cursor-bob") is used up: 3 counted in the last 10m; it resets at 2026-11-25T14:33:20Z (in 11m15s). Ask in #platform if you need more.';
    expect(ctx.decision).toEqual({
      action: 'review',
      rule: 'agent-deletes',
      message,
      hint: 'wait until 2026-11-25T14:33:20Z, or have a person approve this request',
      review: undefined,
      matched: [...allowed.matched, { rule: 'agent-deletes', action: 'review', message }],
      errors: [],
      budgets: [{ budget: 'agent-deletes', per: 'token:cursor-bob', limit: 3, window: '10m', used: 3, exceeded: true, resetsAt: '2026-11-25T14:33:20Z' }],
    });
    // The audit record keeps which budget decided.
    const event = buildAuditEvent({ requestId: 'r', method: 'DELETE', path: '/api/v1/namespaces/team-a/pods/d', clientAddress: '::1', headers: {}, decision: ctx.decision, result: { status: 403 } });
    expect(event.decision?.rule).toBe('agent-deletes');
    expect(event.decision?.budgets).toEqual(ctx.decision!.budgets);
    // At the reset time one more fits.
    clock.now = Date.parse('2026-11-25T14:33:20Z');
    const later = del('e');
    expect(await s.run(later)).toEqual({ action: 'continue' });
    expect(later.decision?.action).toBe('allow');
  });

  it('refuses the request past a deny budget with GH_BUDGET_EXCEEDED, per namespace', async () => {
    const s = stage();
    const create = (ns: string, who: Principal = agent) => context('POST', `/api/v1/namespaces/${ns}/configmaps`, who);
    expect(await s.run(create('team-a'))).toEqual({ action: 'continue' });
    expect(await s.run(create('team-a', principal()))).toEqual({ action: 'continue' });
    expect(await s.run(create('team-b'))).toEqual({ action: 'continue' });
    const ctx = create('team-a');
    const err = refusal(await s.run(ctx));
    expect(err.code).toBe('GH_BUDGET_EXCEEDED');
    expect(err.message).toBe(
      'refused: budget "namespace-creates" (2 creates per 1m per namespace, here "team-a") is used up: 2 counted in the last 1m; it resets at 2026-11-25T14:21:30Z (in 1m30s). Do not retry it unchanged: wait until 2026-11-25T14:21:30Z, or ask a gateway administrator to raise the budget.',
    );
    expect(statusFor(err)).toMatchObject({ code: 403, reason: 'Forbidden', details: { causes: [{ reason: 'GH_BUDGET_EXCEEDED' }, { reason: 'GatehouseBudget', message: 'namespace-creates', field: 'budget' }] } });
    expect(ctx.decision?.action).toBe('deny');
  });

  it('refuses a review budget at once when the gateway has no approval flow', async () => {
    const s = stage({ approvals: false });
    for (const name of ['a', 'b', 'c']) await s.run(del(name));
    const err = refusal(await s.run(del('d')));
    expect(err.code).toBe('GH_BUDGET_EXCEEDED');
    expect(err.message).toContain("this gateway has no approval flow configured, so the request was refused");
  });

  it('shares a sponsor budget between the agents of one sponsor', async () => {
    const s = stage();
    const patch = (who: Principal) => context('PATCH', '/api/v1/namespaces/team-a/configmaps/cfg', who);
    expect(await s.run(patch(agent))).toEqual({ action: 'continue' });
    const sibling = principal({ subject: 'token:claude-bob', kind: 'agent', via: 'token', sponsor: 'oidc:bob@example.com' });
    const ctx = patch(sibling);
    expect(await s.run(ctx)).toEqual({ action: 'continue' });
    expect(ctx.decision?.action).toBe('review');
    expect(ctx.decision?.message).toContain('(1 patch per 1h per sponsor, here "oidc:bob@example.com")');
  });

  it('counts nothing that is not forwarded on policy alone: dry-runs, and requests policy sends for review', async () => {
    const s = stage();
    for (let i = 0; i < 5; i++) expect(await s.run(context('DELETE', `/api/v1/namespaces/team-a/pods/x${i}?dryRun=All`))).toEqual({ action: 'continue' });
    const review: Decision = { ...allowed, action: 'review', rule: 'prod-deletes' };
    for (let i = 0; i < 5; i++) expect(await s.run(context('DELETE', '/api/v1/namespaces/team-a/pods/y', agent, review))).toEqual({ action: 'continue' });
    expect(await store.budgets.peek({ budget: 'agent-deletes', key: '["token:cursor-bob"]', limit: 3, windowMs: 600_000 }, T0)).toEqual({ current: 0, previous: 0 });
  });

  it('fails closed with a 503 when the store cannot count', async () => {
    const broken: BudgetsRepo = { charge: () => Promise.reject(new Error('connection refused')), peek: () => Promise.reject(new Error('no')), prune: () => Promise.resolve(0) };
    const err = refusal(await stage({ repo: broken }).run(del('a')));
    expect(err.code).toBe('GH_BUDGET_UNAVAILABLE');
    expect(err.httpStatus).toBe(503);
    expect(err.retryAfterSeconds).toBe(5);
    expect(err.message).toBe(
      'the gateway could not count this request against budget "agent-deletes" (connection refused); a budget applies to this request, so it was not forwarded. Retry shortly.',
    );
  });

  it('checks a namespaceSelector on the labels policy looked up, or looks them up itself', async () => {
    const selective = policyOf(
      policyYaml('    []\n', '  budgets:\n    - { name: prod-deletes, match: { verbs: [delete], namespaceSelector: { matchLabels: { tier: prod } } }, limit: 1, window: 1m, action: deny }\n'),
    );
    const looked: string[] = [];
    const s = createBudgetStage({
      policy: staticPolicy(selective),
      repo: store.budgets,
      now: () => T0,
      namespaceLabels: (ns) => (looked.push(ns), Promise.resolve(ns === 'prod' ? { tier: 'prod' } : undefined)),
    });
    const inNs = (ns: string, decision: Decision = allowed) => context('DELETE', `/api/v1/namespaces/${ns}/pods/x`, agent, decision);
    expect(await s.run(inNs('dev'))).toEqual({ action: 'continue' });
    expect(await s.run(inNs('dev'))).toEqual({ action: 'continue' });
    expect(await s.run(inNs('prod'))).toEqual({ action: 'continue' });
    expect(refusal(await s.run(inNs('prod'))).code).toBe('GH_BUDGET_EXCEEDED');
    expect(looked).toEqual(['dev', 'dev', 'prod', 'prod']);
    // Labels policy already looked up are used as they are.
    expect(refusal(await s.run(inNs('other', { ...allowed, namespaceLabels: { tier: 'prod' } }))).code).toBe('GH_BUDGET_EXCEEDED');
    expect(looked).toHaveLength(4);
  });

  it('keeps a mask decision a mask when it counts the request', async () => {
    const masked: Decision = { ...allowed, action: 'mask', rule: 'secrets' };
    const ctx = context('DELETE', '/api/v1/namespaces/team-a/pods/a', agent, masked);
    expect(await stage().run(ctx)).toEqual({ action: 'continue' });
    expect(ctx.decision).toMatchObject({ action: 'mask', rule: 'secrets', budgets: [{ budget: 'agent-deletes', used: 1 }] });
  });

  it('span reads like a person would write it', () => {
    expect([span(0), span(45_000), span(192_000), span(3_600_000), span(7_500_000)]).toEqual(['0s', '45s', '3m12s', '1h', '2h5m']);
  });
});

describe('scale guard', () => {
  const scale = (): RequestContext => context('PATCH', '/apis/apps/v1/namespaces/prod-web/deployments/web/scale');
  const resolving = (from: number | undefined, to: number) => ({
    resolveObject: () =>
      Promise.resolve({
        object: to === 0 ? { kind: 'Scale', spec: {} } : { kind: 'Scale', spec: { replicas: to } },
        oldObject: { kind: 'Deployment', spec: from === undefined ? {} : { replicas: from } },
      }),
  });

  it('refuses scaling a workload to zero', async () => {
    const ctx = scale();
    const err = refusal(await stage(resolving(3, 0)).run(ctx));
    expect(err.code).toBe('GH_BUDGET_EXCEEDED');
    expect(err.message).toBe(
      'refused: budget "no-scale-to-zero" (replicas at least 1, a change of at most 50%) does not allow scaling deployment "web" from 3 to 0 replicas, below the minimum of 1. Do not retry it unchanged: scale by a smaller step, or ask a gateway administrator to raise the budget.',
    );
    expect(ctx.decision?.budgets).toEqual([{ budget: 'no-scale-to-zero', replicas: { from: 3, to: 0 }, exceeded: true }]);
  });

  it('refuses a change of more than the percentage, allows a smaller one and scaling up from zero', async () => {
    expect(refusal(await stage(resolving(2, 4)).run(scale())).message).toContain('from 2 to 4 replicas, a change of 100%, more than 50%');
    expect(await stage(resolving(4, 6)).run(scale())).toEqual({ action: 'continue' });
    expect(await stage(resolving(0, 3)).run(scale())).toEqual({ action: 'continue' });
  });

  it('judges patches of the workload itself, and leaves other namespaces and other writes alone', async () => {
    const patch = context('PATCH', '/apis/apps/v1/namespaces/prod-web/statefulsets/db');
    expect(refusal(await stage({ resolveObject: () => Promise.resolve({ object: { spec: { replicas: 0 } }, oldObject: { spec: { replicas: 2 } } }) }).run(patch)).code).toBe('GH_BUDGET_EXCEEDED');
    const never = { resolveObject: () => Promise.reject(new Error('should not be called')) };
    expect(await stage(never).run(context('PATCH', '/apis/apps/v1/namespaces/dev/deployments/web/scale'))).toEqual({ action: 'continue' });
    expect(await stage(never).run(context('PATCH', '/apis/apps/v1/namespaces/prod-web/deployments/web/status'))).toEqual({ action: 'continue' });
    expect(await stage(never).run(context('POST', '/apis/apps/v1/namespaces/prod-web/deployments'))).toEqual({ action: 'continue' });
  });

  it('fails closed when the objects cannot be resolved, and relays the API server refusing the dry-run', async () => {
    const down = refusal(await stage({ resolveObject: () => Promise.reject(new Error('upstream down')) }).run(scale()));
    expect(down.code).toBe('GH_BUDGET_UNAVAILABLE');
    const notFound = new GatehouseError('GH_DRY_RUN_REFUSED', 'deployments.apps "web" not found', { relayed: { httpStatus: 404, reason: 'NotFound' } });
    expect(refusal(await stage({ resolveObject: () => Promise.reject(notFound) }).run(scale()))).toBe(notFound);
    expect(refusal(await stage({ resolveObject: undefined }).run(scale())).code).toBe('GH_BUDGET_UNAVAILABLE');
  });
});
