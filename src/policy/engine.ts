/**
 * The policy engine: which rules match a request, and the one decision that
 * results. Pure and synchronous; the stage gathers what it needs first.
 *
 * Precedence: deny > review > propose > mask > allow; among rules with the winning
 * action the first in file order names the decision. No match: the default
 * action. `mask` modifies an allowed request: when no allow rule matched and
 * the default is deny or review, the default decides. A rule whose `when` fails (or is not a boolean), or whose
 * namespaceSelector (or `boundRole`) cannot be checked, counts as matched with action deny
 * (fail closed). A `propose` rule only ever matches writes (see
 * {@link isProposable}): reads are decided by the other rules.
 *
 * @module
 */

import type { KubeRequest } from '../classify/kube-request.js';
import type { Principal } from '../identity/principal.js';
import type { BudgetNote } from '../budgets/model.js';
import type { MatchField, RequestFacts } from './match.js';
import { staticMismatch } from './match.js';
import { policyActions } from './model.js';
import type { CelActivation, CompiledPolicy, CompiledRule, PolicyAction, ReviewSpec, RuleNeeds } from './model.js';
import { namespaceVariable, principalVariable, requestVariable } from './request-vars.js';
import { describeRoleRef, roleRefOf } from './bound-role.js';
import { objectName } from '../kube/object.js';
import { podFromWorkload, workloadOf } from './workloads.js';
import { prepareActivation } from './cel/activation.js';

export interface PolicyInput {
  request: KubeRequest;
  principal: Principal;
  /**
   * The object as it would be stored: the body of a create or update, the
   * result of a patch. Undefined when there is none (reads, deletes) or it is
   * not known; expressions then see null.
   */
  object?: unknown;
  /** The object as it is now (update, patch, delete), when known. */
  oldObject?: unknown;
  /** Labels of the target namespace; undefined when they were not looked up. */
  namespaceLabels?: Readonly<Record<string, string>> | undefined;
  /**
   * The `boundRole` variable ({@link boundRoleVariable}) of a binding write;
   * undefined when it was not looked up (a rule that reads it then fails closed).
   */
  boundRole?: Readonly<Record<string, unknown>> | undefined;
  /** Shown to expressions as `request.uid`. */
  requestId?: string;
}

export interface MatchedRule {
  readonly rule: string;
  readonly action: PolicyAction;
  readonly message: string;
}

export interface RuleError {
  readonly rule: string;
  readonly error: string;
}

/** The one outcome for a request, and how it was reached (for the audit record and explain). */
export interface Decision {
  readonly action: PolicyAction;
  /** The rule that decided; undefined when the default action applied. */
  readonly rule: string | undefined;
  readonly message: string;
  /** Hint of the deciding rule: what the client should do instead. */
  readonly hint: string | undefined;
  /** The deciding rule's review settings, when the action is review (or propose: who may apply its proposals). */
  readonly review?: ReviewSpec | undefined;
  /** Every rule that matched, in file order (rules that failed appear with action deny). */
  readonly matched: readonly MatchedRule[];
  /** Rules that could not be evaluated and so denied (fail closed). */
  readonly errors: readonly RuleError[];
  /** Labels of the target namespace the stage looked up, recorded so a backtest can decide again. */
  readonly namespaceLabels?: Readonly<Record<string, string>> | undefined;
  /** Blast-radius budgets (the budget stage): the ones the request counted against, or the one that stopped it. */
  readonly budgets?: readonly BudgetNote[] | undefined;
  /**
   * For a write the API server answers with the object as stored (the
   * policy stage): how policy decides a read of that object by the same
   * caller, when that read is not allowed as it is (mask, deny, review…);
   * the answer is then masked.
   */
  readonly readBack?: { readonly action: PolicyAction; readonly rule: string | undefined } | undefined;
}

/** A rule's verdict, as the explain tool reports it. */
export type RuleOutcome = 'matched' | 'not-matched' | 'error';
export type Trace = (rule: CompiledRule, outcome: RuleOutcome, reason: string) => void;

/** Default actions under which a lone mask rule lets a request through (masked). */
const MASKABLE_DEFAULTS: ReadonlySet<PolicyAction> = new Set(['allow', 'mask']);

const RANK: Readonly<Record<PolicyAction, number>> = Object.fromEntries(policyActions.map((a, i) => [a, i])) as Record<PolicyAction, number>;

/**
 * Evaluates a policy against everything known about a request.
 *
 * @example
 * const decision = evaluatePolicy(policy, { request, principal, object: request.object, namespaceLabels });
 * if (decision.action === 'deny') console.log(decision.rule, decision.message);
 */
export function evaluatePolicy(policy: CompiledPolicy, input: PolicyInput): Decision {
  const facts = requestFacts(input.request, input.principal, input.object);
  return decide(policy, candidateRules(policy, facts), facts, input);
}

/** The request line and principal as the static matchers read them. */
export function requestFacts(request: KubeRequest, principal: Principal, object: unknown): RequestFacts {
  return {
    isResourceRequest: request.isResourceRequest,
    verb: request.verb,
    group: request.apiGroup,
    resource: request.resource,
    subresource: request.subresource,
    namespace: request.namespace,
    name: request.name !== '' ? request.name : objectName(object),
    path: request.path,
    cluster: request.cluster ?? '',
    workload: request.isResourceRequest ? workloadOf(request.apiGroup, request.resource, request.subresource) : undefined,
    subject: principal.subject,
    groups: principal.groups,
    kind: principal.kind,
  };
}

/**
 * The rules whose static fields (verbs, resources, namespaces, names,
 * principal) all match: the only ones that can still match once the
 * namespace labels and `when` are checked.
 */
export function candidateRules(policy: CompiledPolicy, facts: RequestFacts, trace?: Trace): CompiledRule[] {
  const out: CompiledRule[] = [];
  if (trace === undefined) {
    // A decision only needs the rules whose verbs and resources can match, and checks only their other fields.
    const kind = rulesFor(policy, facts);
    for (let i = 0; i < kind.rules.length; i++) {
      const rule = kind.rules[i]!;
      if (kind.otherFields[i]!.every((f) => f.test(facts)) && (rule.action !== 'propose' || isProposable(facts.verb))) out.push(rule);
    }
    return out;
  }
  // Explain reports every rule, with the field that does not match.
  for (const rule of policy.rules) {
    const miss = staticMismatch(rule.match, facts);
    if (miss === undefined && rule.action === 'propose' && !isProposable(facts.verb)) trace?.(rule, 'not-matched', `propose rules apply to writes only, and ${facts.verb} is a read`);
    else if (miss === undefined) out.push(rule);
    else trace?.(rule, 'not-matched', `${miss.field}: ${miss.actual(facts)} is not in ${miss.expected}`);
  }
  return out;
}

/** The match fields that depend only on the verb and the resource of a request. */
const KIND_FIELDS: ReadonlySet<string> = new Set(['verbs', 'resources', 'resources (with workload templates)']);
const MAX_KINDS = 1024;

/** The rules for one kind of request, each with its match fields that still depend on the request. */
interface KindRules {
  readonly rules: readonly CompiledRule[];
  readonly otherFields: readonly (readonly MatchField[])[];
}

/**
 * KindRules by the parts of a kind of request, one Map per part, so finding
 * them builds no key per request (a JSON key cost ~0.4 µs, about half of a
 * GET's decision). Emptied when it holds MAX_KINDS kinds: only requests for
 * made-up resources get there, and each costs one filter of the rules.
 */
class KindCache {
  #root = new Map<string, unknown>();
  #size = 0;

  get(parts: readonly string[]): KindRules | undefined {
    let node: unknown = this.#root;
    for (let i = 0; i < parts.length && node !== undefined; i++) node = (node as Map<string, unknown>).get(parts[i]!);
    return node as KindRules | undefined;
  }

  set(parts: readonly string[], rules: KindRules): void {
    if (this.#size >= MAX_KINDS) {
      this.#root = new Map();
      this.#size = 0;
    }
    let node = this.#root;
    for (let i = 0; i < parts.length - 1; i++) {
      let next = node.get(parts[i]!) as Map<string, unknown> | undefined;
      if (next === undefined) node.set(parts[i]!, (next = new Map()));
      node = next;
    }
    node.set(parts[parts.length - 1]!, rules);
    this.#size++;
  }
}

const byKind = new WeakMap<CompiledPolicy, KindCache>();

/**
 * The rules whose `verbs` and `resources` match requests of this verb and
 * resource, in policy order: worked out once per policy and kind of request,
 * so rules about other kinds of request cost nothing per request.
 */
function rulesFor(policy: CompiledPolicy, facts: RequestFacts): KindRules {
  let kinds = byKind.get(policy);
  if (kinds === undefined) byKind.set(policy, (kinds = new KindCache()));
  // Every fact the kind's match fields read; a workload key is never empty.
  const parts = [facts.verb, facts.isResourceRequest ? 'resource' : 'path', facts.group, facts.resource, facts.subresource, facts.workload ?? ''];
  let entry = kinds.get(parts);
  if (entry === undefined) {
    const rules = policy.rules.filter((r) => r.match.fields.every((f) => !KIND_FIELDS.has(f.field) || f.test(facts)));
    entry = { rules, otherFields: rules.map((r) => r.match.fields.filter((f) => !KIND_FIELDS.has(f.field))) };
    kinds.set(parts, entry);
  }
  return entry;
}

/** Verbs that change something: the requests a `propose` rule turns into proposals (or, for sessions and proxying, refuses). */
const WRITE_VERBS: ReadonlySet<string> = new Set(['create', 'update', 'patch', 'delete', 'deletecollection', 'post', 'put']);

/**
 * Whether a `propose` rule can match a request with this verb: writes, including
 * subresource writes and non-resource POST/PUT/PATCH/DELETE; never reads.
 *
 * @example
 * isProposable('patch'); // true
 * isProposable('watch'); // false
 */
export function isProposable(verb: string): boolean {
  return WRITE_VERBS.has(verb);
}

/** What the candidate rules need beyond the request line. */
export function needsOf(rules: readonly CompiledRule[]): RuleNeeds {
  let object = false;
  let oldObject = false;
  let namespace = false;
  let boundRole = false;
  for (const r of rules) {
    object ||= r.needs.object;
    oldObject ||= r.needs.oldObject;
    namespace ||= r.needs.namespace;
    boundRole ||= r.needs.boundRole;
  }
  return { object, oldObject, namespace, boundRole };
}

/** Checks the candidates' namespace selectors and `when` expressions, then applies precedence. */
export function decide(policy: CompiledPolicy, candidates: readonly CompiledRule[], facts: RequestFacts, input: PolicyInput, trace?: Trace): Decision {
  const matched: MatchedRule[] = [];
  const errors: RuleError[] = [];
  let winner: CompiledRule | undefined;
  let winnerAction: PolicyAction | undefined;
  let base: CelActivation | undefined;
  let templated: CelActivation | undefined;
  const activationFor = (rule: CompiledRule): CelActivation => {
    // Prepared once per request: every rule's expressions share one conversion of each variable.
    base ??= prepareActivation({
      object: input.object ?? null,
      oldObject: input.oldObject ?? null,
      request: requestVariable(input.request, input.principal, facts.name, input.object, input.requestId ?? ''),
      namespaceObject: namespaceVariable(facts.namespace, input.namespaceLabels),
      principal: principalVariable(input.principal),
      boundRole: input.boundRole ?? null,
    });
    if (!rule.match.includeWorkloadTemplates || facts.workload === undefined) return base;
    templated ??= prepareActivation({
      request: base.request,
      namespaceObject: base.namespaceObject,
      principal: base.principal,
      boundRole: base.boundRole,
      object: podFromWorkload(facts.workload, input.object),
      oldObject: podFromWorkload(facts.workload, input.oldObject),
    });
    return templated;
  };

  const record = (rule: CompiledRule, action: PolicyAction, message: string): void => {
    matched.push({ rule: rule.name, action, message });
    if (winnerAction === undefined || RANK[action] < RANK[winnerAction]) {
      winner = rule;
      winnerAction = action;
    }
  };
  const failed = (rule: CompiledRule, error: string): void => {
    errors.push({ rule: rule.name, error });
    record(rule, 'deny', `the rule could not be evaluated (${error}), so the request is denied (fail closed)`);
    trace?.(rule, 'error', error);
  };

  for (const rule of candidates) {
    const selector = rule.match.namespaceSelector;
    if (selector !== undefined) {
      if (facts.namespace === '') {
        trace?.(rule, 'not-matched', 'namespaceSelector: the request is not in a namespace');
        continue;
      }
      if (input.namespaceLabels === undefined) {
        failed(rule, `the labels of namespace "${facts.namespace}" are not available to check its namespaceSelector`);
        continue;
      }
      if (!selector.test(input.namespaceLabels)) {
        trace?.(rule, 'not-matched', `namespaceSelector: namespace "${facts.namespace}" has no labels matching ${selector.expected}`);
        continue;
      }
    }
    if (rule.needs.boundRole && input.boundRole === undefined) {
      const ref = roleRefOf(facts, input.object);
      if (ref !== undefined) {
        failed(rule, `${describeRoleRef(ref)}, which this binding refers to, was not looked up, so what it grants cannot be checked`);
        continue;
      }
    }
    if (rule.when !== undefined) {
      const result = rule.when.evaluate(activationFor(rule));
      if (!result.ok) {
        failed(rule, `when: ${result.error}`);
        continue;
      }
      if (typeof result.value !== 'boolean') {
        failed(rule, `when: the expression gave ${describeValue(result.value)}, not a boolean`);
        continue;
      }
      if (!result.value) {
        trace?.(rule, 'not-matched', 'when: false');
        continue;
      }
    }
    record(rule, rule.action, messageOf(rule, activationFor));
    trace?.(rule, 'matched', rule.when === undefined ? 'every match field holds' : 'every match field holds and when is true');
  }

  if (winner === undefined || winnerAction === undefined) {
    return {
      action: policy.defaultAction,
      rule: undefined,
      message: `no policy rule matched, and the default action is ${policy.defaultAction}`,
      hint: undefined,
      matched,
      errors,
    };
  }
  // Masking changes how an allowed answer looks; it never allows by itself. Without an allow
  // (a rule, or an allowing default) the default decides, and the mask rules stay on record.
  if (winnerAction === 'mask' && !matched.some((m) => m.action === 'allow') && !MASKABLE_DEFAULTS.has(policy.defaultAction)) {
    return {
      action: policy.defaultAction,
      rule: undefined,
      message: `no policy rule allows this request (mask rule "${winner.name}" matched, but masking only applies to requests something allows), and the default action is ${policy.defaultAction}`,
      hint: undefined,
      matched,
      errors,
    };
  }
  const deciding = matched.find((m) => m.rule === winner!.name)!;
  return {
    action: winnerAction,
    rule: winner.name,
    message: deciding.message,
    hint: errors.some((e) => e.rule === winner!.name) ? undefined : winner.hint,
    ...((winnerAction === 'review' || winnerAction === 'propose') && winner.review !== undefined ? { review: winner.review } : {}),
    matched,
    errors,
  };
}

function messageOf(rule: CompiledRule, activationFor: (rule: CompiledRule) => CelActivation): string {
  if (rule.messageExpression !== undefined) {
    const result = rule.messageExpression.evaluate(activationFor(rule));
    if (result.ok && typeof result.value === 'string' && result.value.trim() !== '') return result.value;
  }
  return rule.message ?? rule.description ?? 'the request matches this rule';
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return `string ${JSON.stringify(value)}`;
    case 'number':
    case 'bigint':
      return `number ${value}`;
    default:
      return typeof value === 'object' ? 'a map' : typeof value;
  }
}
