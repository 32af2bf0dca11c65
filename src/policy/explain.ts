/**
 * Explain: every rule's verdict on one request (matched, not matched and
 * why, or could not be evaluated) and the final decision, for the
 * `gatehouse policy explain` command and for people writing policy.
 *
 * @module
 */

import type { CompiledBudget } from '../budgets/model.js';
import { boundRoleVariable, roleRefOf } from './bound-role.js';
import type { RoleRef, StoredRole } from './bound-role.js';
import { candidateRules, decide, needsOf, requestFacts } from './engine.js';
import { staticMismatch } from './match.js';
import type { Decision, PolicyInput, RuleOutcome } from './engine.js';
import { formatLocation } from './model.js';
import type { CompiledPolicy, CompiledRule } from './model.js';

export interface RuleExplanation {
  readonly rule: CompiledRule;
  readonly outcome: RuleOutcome;
  readonly reason: string;
}

export interface Explanation {
  readonly decision: Decision;
  /** One entry per rule, in policy order. */
  readonly rules: readonly RuleExplanation[];
  /** One entry per blast-radius budget: whether it would count (or, a scale guard, judge) the request if policy lets it through. */
  readonly budgets?: readonly BudgetExplanation[];
}

export interface BudgetExplanation {
  readonly budget: CompiledBudget;
  readonly applies: boolean;
  readonly reason: string;
}

/**
 * Evaluates a policy like the engine does, keeping every rule's verdict.
 *
 * @example
 * const { decision, rules } = explainPolicy(policy, { request, principal, object });
 * process.stdout.write(formatExplanation({ decision, rules }));
 */
export function explainPolicy(policy: CompiledPolicy, input: PolicyInput): Explanation {
  const verdicts = new Map<CompiledRule, RuleExplanation>();
  const trace = (rule: CompiledRule, outcome: RuleOutcome, reason: string): void => void verdicts.set(rule, { rule, outcome, reason });
  const facts = requestFacts(input.request, input.principal, input.object);
  const decision = decide(policy, candidateRules(policy, facts, trace), facts, input, trace);
  const rules = policy.rules.map((r) => verdicts.get(r) ?? { rule: r, outcome: 'not-matched' as const, reason: 'not evaluated' });
  const budgets = policy.budgets.map((b): BudgetExplanation => {
    const miss = staticMismatch(b.match, facts);
    if (miss !== undefined) return { budget: b, applies: false, reason: `${miss.field}: ${miss.actual(facts)} is not in ${miss.expected}` };
    const selector = b.match.namespaceSelector;
    if (selector !== undefined && (facts.namespace === '' || (input.namespaceLabels !== undefined && !selector.test(input.namespaceLabels)))) {
      return { budget: b, applies: false, reason: `namespaceSelector: namespace "${facts.namespace}" has no labels matching ${selector.expected}` };
    }
    return { budget: b, applies: true, reason: b.counter !== undefined ? 'every match field holds: the request is counted' : 'every match field holds: updates and patches that change replicas are judged' };
  });
  return { decision, rules, ...(budgets.length > 0 ? { budgets } : {}) };
}

/** Reads a Role or ClusterRole from the cluster (the gateway's cached lookup); undefined when it does not exist. */
export type RoleLookup = (ref: RoleRef) => Promise<StoredRole | undefined>;

/**
 * `input` with the `boundRole` the policy stage would look up for it: when a
 * rule that could match reads `boundRole` and the request writes a binding,
 * the role it refers to, read with `lookup`. A lookup that fails leaves it
 * out, so explain shows the rule failing closed, as the live request would
 * be refused.
 *
 * @example
 * const input = await withBoundRole(policy, { request, principal, object }, (ref) => cluster.boundRole(ref));
 * explainPolicy(policy, input);
 */
export async function withBoundRole(policy: CompiledPolicy, input: PolicyInput, lookup: RoleLookup): Promise<PolicyInput> {
  const facts = requestFacts(input.request, input.principal, input.object);
  const ref = input.boundRole === undefined && needsOf(candidateRules(policy, facts)).boundRole ? roleRefOf(facts, input.object) : undefined;
  if (ref === undefined) return input;
  try {
    return { ...input, boundRole: boundRoleVariable(ref, await lookup(ref)) };
  } catch {
    return input;
  }
}

const OUTCOME_LABEL: Readonly<Record<RuleOutcome, string>> = { matched: 'MATCHED', 'not-matched': 'no', error: 'ERROR' };

/** A plain-text table of the verdicts, then the decision. */
export function formatExplanation({ decision, rules, budgets }: Explanation): string {
  const rows = rules.map((e) => [e.rule.name, e.rule.action, OUTCOME_LABEL[e.outcome], e.reason, formatLocation(e.rule.location)]);
  const out = [table(['RULE', 'ACTION', 'MATCHED', 'WHY', 'WHERE'], rows)];
  out.push('');
  const by = decision.rule === undefined ? 'by default (no rule matched)' : `by rule "${decision.rule}"`;
  out.push(`decision: ${decision.action} ${by}: ${decision.message}`);
  if (decision.hint !== undefined) out.push(`hint: ${decision.hint}`);
  if (budgets !== undefined && budgets.length > 0) {
    // Whether a budget is used up depends on live counts; the audit record names the one that decided.
    const budgetRows = budgets.map((b) => [b.budget.name, b.budget.summary, b.budget.action, b.applies ? 'yes' : 'no', b.reason, formatLocation(b.budget.location)]);
    out.push('', table(['BUDGET', 'LIMIT', 'PAST IT', 'APPLIES', 'WHY', 'WHERE'], budgetRows));
  }
  return `${out.join('\n')}\n`;
}

/** Left-aligned columns, two spaces apart; the last column is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}
