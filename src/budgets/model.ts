/**
 * Blast-radius budgets, compiled: a counter (at most `limit` matching
 * requests per `window` per principal, namespace or sponsor) or a scale
 * guard (bounds on a workload's replicas). The YAML schema is `budgetSchema`
 * in src/policy/model.ts; docs/policy.md#blast-radius-budgets.
 *
 * @module
 */

import { parseTtl } from '../identity/tokens-ttl.js';
import { compileMatch } from '../policy/match.js';
import type { CompiledMatch } from '../policy/match.js';
import type { BudgetScope, BudgetSpec, ReviewSpec, SourceLocation } from '../policy/model.js';

export interface BudgetCounter {
  readonly limit: number;
  /** As written, e.g. `10m`. */
  readonly window: string;
  readonly windowMs: number;
  readonly per: BudgetScope;
}

export interface ScaleLimits {
  readonly minReplicas?: number | undefined;
  readonly maxReplicas?: number | undefined;
  readonly maxChangePercent?: number | undefined;
}

export interface CompiledBudget {
  readonly name: string;
  /** metadata.name of the Policy document the budget is in. */
  readonly policy: string;
  readonly description: string | undefined;
  readonly location: SourceLocation;
  readonly match: CompiledMatch;
  /** Set for a counter, undefined for a scale guard. */
  readonly counter: BudgetCounter | undefined;
  /** Set for a scale guard, undefined for a counter. */
  readonly scale: ScaleLimits | undefined;
  readonly action: 'review' | 'deny';
  readonly message: string | undefined;
  readonly review: ReviewSpec | undefined;
  /** One line for messages: `10 deletes per 10m per principal`, `replicas at least 1, change at most 50%`. */
  readonly summary: string;
}

/**
 * Compiles one validated budget.
 *
 * @example
 * compileBudget({ name: 'agent-deletes', match: { verbs: ['delete'] }, limit: 10, window: '10m', action: 'review' }, 'team', loc).summary
 * // → '10 deletes per 10m per principal'
 */
export function compileBudget(spec: BudgetSpec, policy: string, location: SourceLocation): CompiledBudget {
  const counter: BudgetCounter | undefined =
    spec.limit !== undefined && spec.window !== undefined
      ? Object.freeze({ limit: spec.limit, window: spec.window, windowMs: parseTtl(spec.window) * 1000, per: spec.per ?? 'principal' })
      : undefined;
  const scale = spec.scale === undefined ? undefined : Object.freeze({ ...spec.scale });
  return Object.freeze({
    name: spec.name,
    policy,
    description: spec.description,
    location,
    match: compileMatch(spec.match),
    counter,
    scale,
    action: spec.action,
    message: spec.message,
    review: spec.review,
    summary: counter !== undefined ? `${counter.limit} ${countedThings(spec.match.verbs, counter.limit)} per ${counter.window} per ${counter.per}` : scaleSummary(scale ?? {}),
  });
}

const PLURAL: Readonly<Record<string, string>> = { patch: 'patches', deletecollection: 'deletecollections' };

/** `deletes` for a budget on one verb, `requests` otherwise. */
function countedThings(verbs: readonly string[] | undefined, limit: number): string {
  const one = verbs?.length === 1 && verbs[0] !== '*' ? verbs[0]! : undefined;
  if (limit === 1) return one ?? 'request';
  return one === undefined ? 'requests' : (PLURAL[one] ?? `${one}s`);
}

function scaleSummary(s: ScaleLimits): string {
  const parts: string[] = [];
  if (s.minReplicas !== undefined) parts.push(`replicas at least ${s.minReplicas}`);
  if (s.maxReplicas !== undefined) parts.push(`replicas at most ${s.maxReplicas}`);
  if (s.maxChangePercent !== undefined) parts.push(`a change of at most ${s.maxChangePercent}%`);
  return parts.join(', ');
}

/** What the budget stage records in the decision (and so the audit record) for one budget. */
export interface BudgetNote {
  readonly budget: string;
  /** True for the budget that stopped the request (at most one); false for those it was counted against. */
  readonly exceeded: boolean;
  /** Counters: whose count (`per`) and how it stands: requests in the sliding window, of `limit`. */
  readonly per?: string;
  readonly used?: number;
  readonly limit?: number;
  readonly window?: string;
  /** Counters that stopped the request: when the next request fits again (RFC 3339). */
  readonly resetsAt?: string;
  /** Scale guards: the replicas now and the ones requested (null when unknown). */
  readonly replicas?: { readonly from: number | null; readonly to: number | null };
}
