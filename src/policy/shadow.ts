/**
 * Shadow mode: a proposed policy evaluated on live traffic beside the
 * enforced one, after the real decision and with only the inputs the real
 * decision gathered, so it never delays, fetches for, or changes a request.
 * Its decision goes into the audit event (`shadowDecision`) and
 * `gatehouse policy shadow-report` compares the two. See docs/policy.md.
 *
 * @module
 */

import { compileCel } from './cel/index.js';
import { builtinGuardrailsDir } from './config.js';
import type { PolicyConfig, ShadowConfig } from './config.js';
import { candidateRules, decide, needsOf, requestFacts } from './engine.js';
import type { Decision, PolicyInput } from './engine.js';
import type { CelCompiler, CompiledPolicy } from './model.js';
import { watchPolicy } from './watch.js';
import { describeRoleRef, roleRefOf } from './bound-role.js';
import type { PolicyLog, WatchedPolicy } from './watch.js';

/** The shadow outcome: a decision, or why the inputs the enforced policy gathered were not enough for one. */
export type ShadowDecision = Decision | { readonly action: 'undetermined'; readonly rule: undefined; readonly message: string; readonly matched: readonly [] };

/**
 * Loads the shadow policy (with the enforced policy's default action and
 * disabled rules) and watches it for edits, like the enforced one.
 *
 * @throws PolicyLoadError when it is invalid at start-up.
 */
export function openShadowPolicy(config: PolicyConfig, shadow: ShadowConfig, deps: { log: PolicyLog; compile?: CelCompiler }): WatchedPolicy {
  const paths = shadow.builtinGuardrails ? [builtinGuardrailsDir(), ...shadow.paths] : shadow.paths;
  return watchPolicy(paths, deps.compile ?? compileCel, () => undefined, deps.log, { defaultAction: config.defaultAction, disabledRules: config.disabledRules });
}

/**
 * Evaluates the shadow policy with what the enforced decision already had.
 * Never throws: a failure is an undetermined shadow decision.
 *
 * @example
 * ctx.shadowDecision = evaluateShadow(shadow.current(), { ...inputs, request, principal, requestId: ctx.id });
 */
export function evaluateShadow(policy: CompiledPolicy, input: PolicyInput): ShadowDecision {
  try {
    const { request } = input;
    const facts = requestFacts(request, input.principal, request.object);
    const candidates = candidateRules(policy, facts);
    const needs = needsOf(candidates);
    // The stage replaces the body only when it resolved the object by a dry-run (patches, undecodable bodies).
    const resolved = input.object !== request.object;
    const resolvable = request.verb === 'patch' || (request.object === undefined && (request.verb === 'create' || request.verb === 'update'));
    if (needs.object && resolvable && !resolved) return undetermined('a shadow rule reads the object this write produces, which the enforced policy did not resolve');
    if (needs.oldObject && (request.verb === 'update' || request.verb === 'patch') && !resolved) return undetermined('a shadow rule reads oldObject, which the enforced policy did not resolve');
    if (needs.namespace && request.namespace !== '' && input.namespaceLabels === undefined) {
      return undetermined(`a shadow rule needs the labels of namespace "${request.namespace}", which the enforced policy did not look up`);
    }
    const ref = needs.boundRole && input.boundRole === undefined ? roleRefOf(facts, input.object) : undefined;
    if (ref !== undefined) return undetermined(`a shadow rule reads boundRole, and the enforced policy did not look up ${describeRoleRef(ref)}`);
    return decide(policy, candidates, facts, input);
  } catch (err) {
    return undetermined(`the shadow policy failed: ${(err as Error).message}`);
  }
}

function undetermined(message: string): ShadowDecision {
  return { action: 'undetermined', rule: undefined, message, matched: [] };
}
