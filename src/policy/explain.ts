/**
 * Explain: every rule's verdict on one request (matched, not matched and
 * why, or could not be evaluated) and the final decision, for the
 * `gatehouse policy explain` command and for people writing policy.
 *
 * @module
 */

import { candidateRules, decide, requestFacts } from './engine.js';
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
  return { decision, rules: policy.rules.map((r) => verdicts.get(r) ?? { rule: r, outcome: 'not-matched', reason: 'not evaluated' }) };
}

const OUTCOME_LABEL: Readonly<Record<RuleOutcome, string>> = { matched: 'MATCHED', 'not-matched': 'no', error: 'ERROR' };

/** A plain-text table of the verdicts, then the decision. */
export function formatExplanation({ decision, rules }: Explanation): string {
  const rows = rules.map((e) => [e.rule.name, e.rule.action, OUTCOME_LABEL[e.outcome], e.reason, formatLocation(e.rule.location)]);
  const out = [table(['RULE', 'ACTION', 'MATCHED', 'WHY', 'WHERE'], rows)];
  out.push('');
  const by = decision.rule === undefined ? 'by default (no rule matched)' : `by rule "${decision.rule}"`;
  out.push(`decision: ${decision.action} ${by}: ${decision.message}`);
  if (decision.hint !== undefined) out.push(`hint: ${decision.hint}`);
  return `${out.join('\n')}\n`;
}

/** Left-aligned columns, two spaces apart; the last column is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}
