/**
 * The policy stage: decides allow, deny, mask or review for every request and
 * records the {@link Decision} in `ctx.decision`. Denials are Kubernetes
 * Status 403s written for the one reading them (often an AI agent): which
 * rule, why, and what to do next.
 *
 * @module
 */

import { GatehouseError } from '../errors/codes.js';
import { sentence } from '../errors/sentence.js';
import type { ErrorCause } from '../errors/codes.js';
import { CONTINUE, stop } from '../pipeline/context.js';
import type { RequestContext, Stage, StageOutcome } from '../pipeline/context.js';
import { candidateRules, decide, needsOf, requestFacts } from './engine.js';
import type { Decision, PolicyInput } from './engine.js';
import type { RequestFacts } from './match.js';
import type { CompiledPolicy, PolicyHandle, RuleNeeds } from './model.js';
import { evaluateShadow } from './shadow.js';
import { boundRoleVariable, describeRoleRef, roleRefOf } from './bound-role.js';
import type { RoleRef, StoredRole } from './bound-role.js';

/** The object a write would store and the one it replaces, as the API server would see them. */
export interface ResolvedObjects {
  object: unknown;
  oldObject: unknown;
}

export interface PolicyStageOptions {
  /** The compiled policy in force; read once per request, so a reload never splits one. */
  policy: PolicyHandle;
  /**
   * Labels of a namespace of the request's cluster, or undefined when it does not exist. Called only
   * when a rule that could match needs them; cache it (the lead's
   * implementation should). Throwing a GatehouseError stops the request with
   * it; any other throw stops it with GH_POLICY_UNAVAILABLE.
   */
  namespaceLabels?: (namespace: string, ctx: RequestContext) => Promise<Readonly<Record<string, string>> | undefined>;
  /**
   * The object a patch (or update) would produce and the current one, e.g.
   * by a server-side dry-run through the upstream. Called only for patches
   * when a rule that could match reads `object`, and for updates and patches
   * when one reads `oldObject`. Errors as for namespaceLabels.
   */
  resolveObject?: (ctx: RequestContext) => Promise<ResolvedObjects>;
  /**
   * The Role or ClusterRole a binding write refers to, from the request's
   * cluster, or undefined when it does not exist. Called only when a rule
   * that could match reads `boundRole`; cache it. Errors as for namespaceLabels.
   */
  boundRole?: (ref: RoleRef, ctx: RequestContext) => Promise<StoredRole | undefined>;
  /** The proxy masks responses, so a `mask` decision lets the request through (the terminal masks it). */
  masking?: boolean;
  /** An approval stage follows, so a `review` decision lets the request on to it (it holds the request). */
  approvals?: boolean;
  /** A proposal stage follows, so a `propose` decision lets the write on to it (it stores it as a proposal). */
  proposals?: boolean;
  /** A proposed policy evaluated after the real decision and only recorded (`policy.shadow`). */
  shadow?: PolicyHandle | undefined;
}

const WRITE_VERBS: ReadonlySet<string> = new Set(['create', 'update', 'patch']);
const RETRY_SECONDS = 5;

/**
 * Creates the policy stage. It runs after classify (it reads `ctx.principal`
 * and `ctx.request`) and sets `ctx.decision`.
 *
 * @example
 * const handle = openPolicy(config.policy, { log });
 * const policy = createPolicyStage({ policy: handle, namespaceLabels: (ns) => nsCache.labels(ns), resolveObject: dryRun });
 * const pipeline = createPipeline([identity, classify, policy], terminal, responder, log);
 */
export function createPolicyStage(options: PolicyStageOptions): Stage {
  return {
    name: 'policy',
    async run(ctx: RequestContext): Promise<StageOutcome> {
      const request = ctx.request;
      const principal = ctx.principal;
      if (request === undefined || principal === undefined) throw new Error('the policy stage needs the identity and classify stages before it');

      const policy = options.policy.current();
      const facts = requestFacts(request, principal, request.object);
      const candidates = candidateRules(policy, facts);
      const inputs = candidates.length === 0 ? { object: request.object } : await gatherInputs(ctx, facts, needsOf(candidates), options);
      if (inputs instanceof GatehouseError) return refuse(ctx, inputs);

      // Not `{ ...inputs, request, … }` nor `{ ...decision, namespaceLabels }`: V8 (Node 20) makes a new hidden class
      // for every object spread first and then given more properties, ~1 µs each time.
      const input: PolicyInput = { request, principal, requestId: ctx.id, ...inputs };
      const decision = decide(policy, candidates, facts, input);
      const readBack = answersWithObject(ctx, decision) ? await readBackOf(ctx, policy, inputs.namespaceLabels, options) : undefined;
      if (readBack instanceof GatehouseError) return refuse(ctx, readBack);
      ctx.decision =
        inputs.namespaceLabels === undefined && readBack === undefined
          ? decision
          : Object.assign({}, decision, inputs.namespaceLabels === undefined ? {} : { namespaceLabels: inputs.namespaceLabels }, readBack === undefined ? {} : { readBack });
      if (options.shadow !== undefined) ctx.shadowDecision = evaluateShadow(options.shadow.current(), input);
      if (decision.action === 'mask' && options.masking === true) return CONTINUE;
      if (decision.action === 'review' && options.approvals === true) return CONTINUE;
      if (decision.action === 'propose' && options.proposals === true) return CONTINUE;
      return outcomeOf(decision);
    },
  };
}

/** Writes the API server answers with the object as stored (a deletecollection: with the list of them). */
const OBJECT_ANSWER_VERBS: ReadonlySet<string> = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);
/** Subresources whose answers are not objects (proxied HTTP) or are sessions, whose own rules decide them. */
const NOT_OBJECT_SUBRESOURCES: ReadonlySet<string> = new Set(['exec', 'attach', 'portforward', 'proxy']);

/** API groups whose creates are reviews (TokenReview, SubjectAccessReview…): answered with a verdict, nothing stored to read. */
const REVIEW_GROUPS: ReadonlySet<string> = new Set(['authentication.k8s.io', 'authorization.k8s.io']);

/** A write that goes on (allowed, or held for a person) and whose answer is the object as stored. A masked one is masked already. */
function answersWithObject(ctx: RequestContext, decision: Decision): boolean {
  const request = ctx.request!;
  return (
    (decision.action === 'allow' || decision.action === 'review') &&
    request.isResourceRequest &&
    !ctx.upgrade &&
    OBJECT_ANSWER_VERBS.has(request.verb) &&
    !NOT_OBJECT_SUBRESOURCES.has(request.subresource) &&
    !REVIEW_GROUPS.has(request.apiGroup)
  );
}

/**
 * How policy decides a read of the object a write answers with (a get of
 * it, a list for a deletecollection, by the same caller) when that read is
 * not allowed as it is; undefined when it is. A no-op patch or label answers
 * with the whole object, so what a read would mask (a Secret's data, an
 * agent's view of env values) is masked in that answer too.
 */
async function readBackOf(
  ctx: RequestContext,
  policy: CompiledPolicy,
  namespaceLabels: PolicyInput['namespaceLabels'],
  options: PolicyStageOptions,
): Promise<Decision['readBack'] | GatehouseError> {
  const write = ctx.request!;
  const principal = ctx.principal!;
  const request = { ...write, verb: write.verb === 'deletecollection' ? 'list' : 'get', object: undefined };
  const facts = requestFacts(request, principal, write.object);
  const candidates = candidateRules(policy, facts);
  const labels = namespaceLabels ?? (needsOf(candidates).namespace ? await labelsOf(ctx, options) : undefined);
  if (labels instanceof GatehouseError) return labels;
  const decision = decide(policy, candidates, facts, { request, principal, requestId: ctx.id, object: undefined, namespaceLabels: labels });
  return decision.action === 'allow' ? undefined : { action: decision.action, rule: decision.rule };
}

type Inputs = Pick<PolicyInput, 'object' | 'oldObject' | 'namespaceLabels' | 'boundRole'>;

/** Fetches what the rules that could match need: the object a patch would produce, the namespace's labels, the role a binding refers to. */
async function gatherInputs(ctx: RequestContext, facts: RequestFacts, needs: RuleNeeds, options: PolicyStageOptions): Promise<Inputs | GatehouseError> {
  const request = ctx.request!;
  const inputs: Inputs = { object: request.object };
  const isPatch = request.verb === 'patch';
  // A body the classifier could not decode (protobuf, which kubectl ≥ 1.33 sends for built-in kinds) is
  // judged on what the API server decodes from it, through the same dry-run as a patch.
  const unreadable = hasUnreadableBody(ctx);
  const resolve = ((isPatch || unreadable) && needs.object) || ((isPatch || request.verb === 'update') && needs.oldObject);
  if (resolve && options.resolveObject !== undefined) {
    const resolved = await gather(() => options.resolveObject!(ctx), 'the object this request would produce');
    if (resolved instanceof GatehouseError) return resolved;
    inputs.object = resolved.object;
    inputs.oldObject = resolved.oldObject;
  } else if (unreadable && needs.object) {
    return new GatehouseError(
      'GH_POLICY_BODY_UNREADABLE',
      `the request body is ${request.contentType ?? 'in an unknown encoding'}, which this gateway cannot inspect without a server-side dry-run, and policy does not let through what it cannot inspect. Send the object as JSON (Content-Type: application/json).`,
    );
  } else if (isPatch && needs.object) {
    // Judging the patch document as if it were the object would be wrong; refuse instead.
    // (Without a resolver an update's oldObject just stays null, as on a create.)
    return new GatehouseError(
      'GH_POLICY_DENIED',
      `denied by policy: a rule must judge the object this patch would produce, and this gateway cannot work it out (no server-side dry-run is configured). Send the whole object with an update instead (kubectl replace), or ask a gateway administrator.`,
    );
  }
  if (needs.namespace) {
    const labels = await labelsOf(ctx, options);
    if (labels instanceof GatehouseError) return labels;
    if (labels !== undefined) inputs.namespaceLabels = labels;
  }
  const ref = needs.boundRole && options.boundRole !== undefined ? roleRefOf(facts, inputs.object) : undefined;
  if (ref !== undefined) {
    const role = await gather(() => options.boundRole!(ref, ctx), describeRoleRef(ref));
    if (role instanceof GatehouseError) return role;
    inputs.boundRole = boundRoleVariable(ref, role);
  }
  return inputs;
}

/** The labels of the request's namespace ({} when it does not exist); undefined for a cluster-wide request or without a lookup. */
async function labelsOf(ctx: RequestContext, options: PolicyStageOptions): Promise<Readonly<Record<string, string>> | undefined | GatehouseError> {
  const namespace = ctx.request!.namespace;
  if (namespace === '' || options.namespaceLabels === undefined) return undefined;
  const labels = await gather(() => options.namespaceLabels!(namespace, ctx), `the labels of namespace "${namespace}"`);
  return labels instanceof GatehouseError ? labels : (labels ?? {});
}

/** A write whose body was sent but could not be decoded (protobuf, CBOR…). */
function hasUnreadableBody(ctx: RequestContext): boolean {
  const request = ctx.request!;
  return !ctx.upgrade && WRITE_VERBS.has(request.verb) && request.object === undefined && (ctx.body?.length ?? 0) > 0;
}

/** Stops a request that policy could not judge, recording a deny decision that says why (fail closed). */
function refuse(ctx: RequestContext, error: GatehouseError): StageOutcome {
  ctx.decision = { action: 'deny', rule: undefined, message: error.message, hint: undefined, matched: [], errors: [] };
  return stop(error);
}

async function gather<T>(fetch: () => Promise<T>, what: string): Promise<T | GatehouseError> {
  try {
    return await fetch();
  } catch (err) {
    if (err instanceof GatehouseError) return err;
    return new GatehouseError(
      'GH_POLICY_UNAVAILABLE',
      `the gateway could not get ${what}, which policy needs to judge this request (${(err as Error).message}); it was not forwarded. Retry shortly.`,
      { cause: err, retryAfterSeconds: RETRY_SECONDS },
    );
  }
}

/** How a decision answers the request. Exported for the explain tool and for tests. */
export function outcomeOf(decision: Decision): StageOutcome {
  switch (decision.action) {
    case 'allow':
      return CONTINUE;
    case 'deny':
      return stop(denial(decision));
    case 'review':
      return stop(
        new GatehouseError(
          'GH_APPROVAL_UNAVAILABLE',
          `policy rule "${decision.rule}" requires a person's approval for this request: ${sentence(decision.message)} This gateway has no approval flow configured, so the request was refused, not held. Do not retry it unchanged; ask a person with access to run it, or a gateway administrator to enable approvals.`,
          { causes: ruleCauses(decision) },
        ),
      );
    case 'propose':
      return stop(
        new GatehouseError(
          'GH_PROPOSAL_UNSUPPORTED',
          `policy rule "${decision.rule}" puts this write in propose-only mode: ${sentence(decision.message)} This gateway has no proposal flow configured, so the request was refused. Do not retry it unchanged; ask a gateway administrator.`,
          { causes: ruleCauses(decision) },
        ),
      );
    case 'mask':
      return stop(
        new GatehouseError(
          'GH_MASKING_UNAVAILABLE',
          `policy rule "${decision.rule}" lets this request through only with sensitive fields of the response masked: ${sentence(decision.message)} This gateway cannot mask responses yet, so the request was refused. Do not retry it unchanged; read something that does not match the rule, or ask a gateway administrator.`,
          { causes: ruleCauses(decision) },
        ),
      );
  }
}

function denial(decision: Decision): GatehouseError {
  if (decision.rule === undefined) {
    return new GatehouseError(
      'GH_POLICY_DENIED',
      `denied by policy: no rule allows this request and the default action is deny. Do not retry it unchanged; ask a gateway administrator for a rule that allows it if it is needed.`,
    );
  }
  const failed = decision.errors.find((e) => e.rule === decision.rule);
  const next = failed
    ? 'This is a fault in the policy, not in the request: report it to a gateway administrator.'
    : decision.hint !== undefined
      ? sentence(decision.hint)
      : 'Change the request so the rule no longer matches; do not retry it unchanged. If it must be allowed, ask a gateway administrator to change the policy.';
  return new GatehouseError('GH_POLICY_DENIED', `denied by policy rule "${decision.rule}": ${sentence(decision.message)} ${next}`, {
    causes: ruleCauses(decision),
  });
}

function ruleCauses(decision: Decision): ErrorCause[] {
  return decision.rule === undefined ? [] : [{ reason: 'GatehousePolicyRule', message: decision.rule, field: 'rule' }];
}

