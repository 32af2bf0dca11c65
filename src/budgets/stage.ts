/**
 * The budget stage: after policy let a request through (allow or mask),
 * checks the blast-radius budgets that match it. Scale guards judge the
 * replicas a write leaves a workload with; counters count the request
 * (all matching budgets at once, or none). Past a budget the decision
 * becomes the budget's `review` (held by the approval stage that follows)
 * or `deny`, naming the budget and when it resets. When the store cannot
 * count, the request is refused with a 503 (fail closed).
 *
 * Not counted: requests policy denies or sends for review (a person
 * decides those), dry-runs, and requests a budget stops.
 *
 * @module
 */

import type { Principal } from '../identity/principal.js';
import type { KubeRequest } from '../classify/kube-request.js';
import { GatehouseError } from '../errors/codes.js';
import { sentence } from '../errors/sentence.js';
import { CONTINUE, stop } from '../pipeline/context.js';
import type { RequestContext, Stage, StageOutcome } from '../pipeline/context.js';
import { requestFacts } from '../policy/engine.js';
import type { Decision } from '../policy/engine.js';
import { staticMismatch } from '../policy/match.js';
import type { PolicyHandle } from '../policy/model.js';
import type { ResolvedObjects } from '../policy/stage.js';
import type { BudgetNote, CompiledBudget } from './model.js';
import { changesReplicas, replicasOf, scaleViolation } from './scale.js';
import type { BudgetCharge, BudgetsRepo } from './store.js';
import { nextFit, usedAt } from './window.js';

export interface BudgetStageOptions {
  /** The policy in force (its `budgets`); read once per request. */
  policy: PolicyHandle;
  /** The counts (the gateway store's `budgets`). */
  repo: BudgetsRepo;
  /** The object a write would store and the current one (server-side dry-run); scale guards need both. */
  resolveObject?: ((ctx: RequestContext) => Promise<ResolvedObjects>) | undefined;
  /** Labels of a namespace, for budgets with a namespaceSelector when policy did not already look them up. */
  namespaceLabels?: ((namespace: string, ctx: RequestContext) => Promise<Readonly<Record<string, string>> | undefined>) | undefined;
  /** An approval stage follows, so a `review` budget lets the request on to it (it holds the request). */
  approvals?: boolean;
  /** The clock (tests). */
  now?: () => number;
  /** Told when pruning expired counts in the background fails (the request is not affected). */
  onPruneError?: (err: Error) => void;
}

const RETRY_SECONDS = 5;
const PRUNE_EVERY_MS = 60_000;

/**
 * Creates the budget stage. It runs after the policy stage and before the
 * approval stage.
 *
 * @example
 * const budget = createBudgetStage({ policy: handle, repo: store.budgets, resolveObject, approvals: true });
 * const pipeline = createPipeline([identity, classify, policy, budget, approval], terminal, responder, log);
 */
export function createBudgetStage(options: BudgetStageOptions): Stage {
  const now = options.now ?? Date.now;
  let prunedAt = 0;
  const prune = (t: number): void => {
    if (t - prunedAt < PRUNE_EVERY_MS) return;
    prunedAt = t;
    options.repo.prune(t).catch((err: unknown) => options.onPruneError?.(err instanceof Error ? err : new Error(String(err))));
  };

  return {
    name: 'budget',
    async run(ctx: RequestContext): Promise<StageOutcome> {
      const { decision, request, principal } = ctx;
      if (decision === undefined || request === undefined || principal === undefined) throw new Error('the budget stage needs the policy stage before it');
      // Denied requests never get here; a review is decided by a person, which is the stronger control.
      if (decision.action !== 'allow' && decision.action !== 'mask') return CONTINUE;
      if (isDryRun(request)) return CONTINUE;
      const budgets = options.policy.current().budgets;
      if (budgets.length === 0) return CONTINUE;

      const matching = await matchingBudgets(ctx, decision, budgets, options);
      if (matching instanceof GatehouseError) return stop(matching);
      if (matching.length === 0) return CONTINUE;

      const guards = matching.filter((b) => b.scale !== undefined);
      if (guards.length > 0 && changesReplicas(request)) {
        const stopped = await checkScale(ctx, decision, guards, options);
        if (stopped !== undefined) return stopped;
      }

      const counters = matching.filter((b) => b.counter !== undefined);
      if (counters.length === 0) return CONTINUE;
      const t = now();
      const charges = counters.map((b): BudgetCharge => ({ budget: b.name, key: keyOf(b, principal, request), limit: b.counter!.limit, windowMs: b.counter!.windowMs }));
      let result;
      try {
        result = await options.repo.charge(charges, t);
      } catch (err) {
        return stop(unavailable(`could not count this request against budget "${counters[0]!.name}" (${(err as Error).message})`, err));
      }
      prune(t);
      if (result.counted) {
        ctx.decision = {
          ...decision,
          budgets: counters.map((b, i): BudgetNote => ({ ...counterNote(b, principal, request), used: usedAt(result.counts[i]!, b.counter!.windowMs, t), exceeded: false })),
        };
        return CONTINUE;
      }
      const b = counters[result.index]!;
      const counter = b.counter!;
      const resetsAt = nextFit(counter.limit, counter.windowMs, result.counts, t);
      const used = usedAt(result.counts, counter.windowMs, t);
      const note: BudgetNote = { ...counterNote(b, principal, request), used, exceeded: true, resetsAt: isoSeconds(resetsAt) };
      const message = `budget "${b.name}" (${b.summary}${whose(b, principal, request)}) is used up: ${used} counted in the last ${counter.window}; it resets at ${isoSeconds(resetsAt)} (in ${span(resetsAt - t)})`;
      return exceeded(ctx, decision, b, note, message, `wait until ${isoSeconds(resetsAt)}`, options);
    },
  };
}

/** The budgets whose match holds: the static fields, then a namespaceSelector. */
async function matchingBudgets(ctx: RequestContext, decision: Decision, budgets: readonly CompiledBudget[], options: BudgetStageOptions): Promise<CompiledBudget[] | GatehouseError> {
  const request = ctx.request!;
  const facts = requestFacts(request, ctx.principal!, request.object);
  const candidates = budgets.filter((b) => staticMismatch(b.match, facts) === undefined);
  if (!candidates.some((b) => b.match.namespaceSelector !== undefined)) return candidates;
  let labels = decision.namespaceLabels;
  if (labels === undefined && request.namespace !== '' && options.namespaceLabels !== undefined) {
    try {
      // A namespace that does not exist has no labels.
      labels = (await options.namespaceLabels(request.namespace, ctx)) ?? {};
    } catch (err) {
      return unavailable(`could not get the labels of namespace "${request.namespace}" to check which budgets apply (${(err as Error).message})`, err);
    }
  }
  return candidates.filter((b) => {
    const selector = b.match.namespaceSelector;
    if (selector === undefined) return true;
    // Labels unknown (no lookup configured): the budget applies; a limit errs towards limiting.
    return request.namespace !== '' && (labels === undefined || selector.test(labels));
  });
}

async function checkScale(ctx: RequestContext, decision: Decision, guards: readonly CompiledBudget[], options: BudgetStageOptions): Promise<StageOutcome | undefined> {
  if (options.resolveObject === undefined) {
    return stop(unavailable(`budget "${guards[0]!.name}" limits replicas, and this gateway cannot work out what this request would leave (no server-side dry-run is configured)`));
  }
  let resolved: ResolvedObjects;
  try {
    resolved = await options.resolveObject(ctx);
  } catch (err) {
    // The API server's own refusal of the dry-run is the answer the real request would get.
    if (err instanceof GatehouseError && err.code === 'GH_DRY_RUN_REFUSED') return stop(err);
    return stop(unavailable(`could not work out the replicas this request would leave, which budget "${guards[0]!.name}" limits (${(err as Error).message})`, err));
  }
  const from = replicasOf(resolved.oldObject);
  const to = replicasOf(resolved.object);
  for (const b of guards) {
    const why = scaleViolation(b.scale!, from, to);
    if (why === undefined) continue;
    const note: BudgetNote = { budget: b.name, replicas: { from: from ?? null, to: to ?? null }, exceeded: true };
    const request = ctx.request!;
    const what = `${request.resource.replace(/s$/, '')} "${request.name}"`;
    return exceeded(ctx, decision, b, note, `budget "${b.name}" (${b.summary}) does not allow scaling ${what} ${why}`, 'scale by a smaller step', options);
  }
  return undefined;
}

/** Records the budget's decision and stops the request, or lets a review on to the approval stage. */
function exceeded(ctx: RequestContext, decision: Decision, b: CompiledBudget, note: BudgetNote, message: string, instead: string, options: BudgetStageOptions): StageOutcome {
  const full = b.message === undefined ? message : `${message}. ${capitalized(sentence(b.message))}`;
  const hint = b.action === 'review' ? `${instead}, or have a person approve this request` : `${instead}, or ask a gateway administrator to raise the budget`;
  ctx.decision = {
    ...decision,
    action: b.action,
    rule: b.name,
    message: full,
    hint,
    review: b.review,
    matched: [...decision.matched, { rule: b.name, action: b.action, message: full }],
    budgets: [note],
  };
  if (b.action === 'review' && options.approvals === true) return CONTINUE;
  const tail =
    b.action === 'review'
      ? `This budget asks for a person's approval past it, and this gateway has no approval flow configured, so the request was refused. ${capitalized(sentence(hint))}`
      : `Do not retry it unchanged: ${hint}.`;
  return stop(
    new GatehouseError('GH_BUDGET_EXCEEDED', `refused: ${sentence(full)} ${tail}`, {
      causes: [{ reason: 'GatehouseBudget', message: b.name, field: 'budget' }],
    }),
  );
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function unavailable(what: string, cause?: unknown): GatehouseError {
  return new GatehouseError('GH_BUDGET_UNAVAILABLE', `the gateway ${what}; a budget applies to this request, so it was not forwarded. Retry shortly.`, {
    cause,
    retryAfterSeconds: RETRY_SECONDS,
  });
}

/** Whose count a request goes to, as the budget's `per` says. Namespaces are per cluster. */
function keyOf(b: CompiledBudget, principal: Principal, request: KubeRequest): string {
  const cluster = request.cluster ?? '';
  switch (b.counter!.per) {
    case 'principal':
      return JSON.stringify([principal.subject]);
    case 'sponsor':
      return JSON.stringify([principal.sponsor ?? principal.subject]);
    case 'namespace':
      return JSON.stringify([cluster, request.namespace]);
    case 'principal+namespace':
      return JSON.stringify([principal.subject, cluster, request.namespace]);
  }
}

function counterNote(b: CompiledBudget, principal: Principal, request: KubeRequest): Omit<BudgetNote, 'exceeded'> {
  const c = b.counter!;
  return { budget: b.name, per: whoseValue(b, principal, request), limit: c.limit, window: c.window };
}

function whoseValue(b: CompiledBudget, principal: Principal, request: KubeRequest): string {
  const ns = request.namespace === '' ? '(cluster-scoped)' : request.namespace;
  switch (b.counter!.per) {
    case 'principal':
      return principal.subject;
    case 'sponsor':
      return principal.sponsor ?? principal.subject;
    case 'namespace':
      return ns;
    case 'principal+namespace':
      return `${principal.subject} in ${ns}`;
  }
}

/** `, here "token:bot"` after the summary's `per principal`: whose count this is. */
function whose(b: CompiledBudget, principal: Principal, request: KubeRequest): string {
  return `, here ${JSON.stringify(whoseValue(b, principal, request))}`;
}

function isDryRun(request: KubeRequest): boolean {
  return new URLSearchParams(request.query).getAll('dryRun').some((v) => v !== '');
}

/** `2026-11-25T14:32:10Z` */
function isoSeconds(ms: number): string {
  return new Date(Math.ceil(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** `3m12s`, `45s`, `2h5m` */
export function span(ms: number): string {
  let s = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (h > 0) return `${h}h${m > 0 ? `${m}m` : ''}`;
  if (m > 0) return `${m}m${s > 0 ? `${s}s` : ''}`;
  return `${s}s`;
}
