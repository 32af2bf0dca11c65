/**
 * The gateway's own answers to "who am I" and "may I" (`kubectl auth whoami`,
 * `kubectl auth can-i`). Upstream, these reviews describe the gateway's
 * credential (often `system:masters`), which tells an agent it may do
 * anything and names the wrong identity; Gatehouse policy decides on top of
 * the cluster's RBAC, so the gateway answers them for the caller:
 *
 * - SelfSubjectReview: the Gatehouse principal (subject, groups, kind, how
 *   it signed in, sponsor). Under impersonation the API server answers it:
 *   it sees the caller then.
 * - SelfSubjectAccessReview: what policy decides for the attributes asked
 *   about. A refusal or a hold for approval is answered here with the rule
 *   that decides it; when policy lets the request through, the review goes
 *   upstream, so the cluster's RBAC (of the gateway credential, or of the
 *   caller under impersonation) has the last word. Rules that judge the
 *   object itself (a privileged pod, a wildcard role) cannot be decided from
 *   attributes and are left out: they may still refuse a particular object.
 * - SelfSubjectRulesReview (`can-i --list`): policy is not a list of RBAC
 *   rules, so the answer lists none and says so (`incomplete`).
 *
 * @module
 */
import { z } from 'zod';
import type { KubeRequest } from '../classify/kube-request.js';
import type { Principal } from '../identity/principal.js';
import { IMPERSONATION_EXTRA } from '../proxy/impersonation.js';
import { candidateRules, decide, needsOf, requestFacts } from '../policy/engine.js';
import type { Decision } from '../policy/engine.js';
import { kubeRequestFor, nonResourceRequestFor } from '../policy/kinds.js';
import { bytesField, messageFields, ProtobufError, stringField, unwrapKubeProtobuf } from '../kube/protobuf.js';
import type { MessageFields } from '../kube/protobuf.js';
import type { CompiledPolicy } from '../policy/model.js';

/** Which self review a request is, if any: only a create of one of the three kinds is answered here. */
export type SelfReviewKind = 'user' | 'access' | 'rules';

export function selfReviewOf(request: KubeRequest | undefined): SelfReviewKind | undefined {
  if (request === undefined || !request.isResourceRequest || request.verb !== 'create' || request.subresource !== '') return undefined;
  if (request.apiGroup === 'authentication.k8s.io' && request.resource === 'selfsubjectreviews') return 'user';
  if (request.apiGroup !== 'authorization.k8s.io') return undefined;
  if (request.resource === 'selfsubjectaccessreviews') return 'access';
  if (request.resource === 'selfsubjectrulesreviews') return 'rules';
  return undefined;
}

/** The answer to `kubectl auth whoami`, in the API version asked for. */
export function selfSubjectReview(request: KubeRequest, principal: Principal): Record<string, unknown> {
  const extra: Record<string, string[]> = {
    [IMPERSONATION_EXTRA.principalKind]: [principal.kind],
    [IMPERSONATION_EXTRA.via]: [principal.via],
  };
  if (principal.sponsor) extra[IMPERSONATION_EXTRA.sponsor] = [principal.sponsor];
  return reviewOf(request, 'SelfSubjectReview', { status: { userInfo: { username: principal.subject, groups: principal.groups, extra } } });
}

/** A review object as the API server returns a created one, in the group and version the request named. */
function reviewOf(request: KubeRequest, kind: string, fields: Record<string, unknown>): Record<string, unknown> {
  return { kind, apiVersion: `${request.apiGroup}/${request.apiVersion}`, metadata: { creationTimestamp: null }, ...fields };
}

/** Why `can-i --list` lists no rules. */
export const RULES_REVIEW_NOTE =
  'Gatehouse decides every request by its policy on top of the cluster RBAC, and policy cannot be listed as RBAC rules; ask about one request with kubectl auth can-i VERB RESOURCE [-n NAMESPACE] (or gatehouse policy explain)';

/** The answer to `kubectl auth can-i --list`. */
export function selfSubjectRulesReview(request: KubeRequest): Record<string, unknown> {
  return reviewOf(request, 'SelfSubjectRulesReview', {
    spec: specOf(request.object),
    status: { resourceRules: [], nonResourceRules: [], incomplete: true, evaluationError: RULES_REVIEW_NOTE },
  });
}

function specOf(object: unknown): unknown {
  return object !== null && typeof object === 'object' && 'spec' in object ? object.spec : {};
}

const attribute = z.string().max(253).optional();
const accessReviewSchema = z.object({
  spec: z.object({
    resourceAttributes: z
      .looseObject({
        namespace: attribute,
        verb: attribute,
        group: attribute,
        version: attribute,
        resource: attribute,
        subresource: attribute,
        name: attribute,
      })
      .optional(),
    nonResourceAttributes: z.looseObject({ path: z.string().max(4096).optional(), verb: attribute }).optional(),
  }),
});

/** A SelfSubjectAccessReview's question, as the request it asks about. */
export type AccessQuestion = { ok: true; request: KubeRequest } | { ok: false; reason: string };

/**
 * The request a review asks about, or why policy cannot answer it (a
 * wildcard, an attribute no request could carry).
 *
 * @throws z.ZodError when the body is not a SelfSubjectAccessReview.
 */
export function accessQuestionOf(object: unknown): AccessQuestion {
  const { spec } = accessReviewSchema.parse(object);
  const res = spec.resourceAttributes;
  if (res !== undefined) {
    const fields = [res.verb, res.group, res.version, res.resource, res.subresource, res.name, res.namespace];
    if (fields.some((f) => f === '*')) return { ok: false, reason: 'Gatehouse policy decides each request on its own, so it cannot allow every verb or resource at once (*)' };
    const verb = res.verb ?? '';
    if (verb === '' || (res.resource ?? '') === '') return { ok: false, reason: 'the review names no verb or no resource' };
    return carried(() => {
      // A subresource's path needs a name (`can-i create pods/exec` has none): a stand-in, taken out again, places it.
      const name = res.name ?? '';
      const standIn = name === '' && (res.subresource ?? '') !== '';
      const request = kubeRequestFor({
        verb,
        group: res.group ?? '',
        version: res.version || 'v1',
        resource: res.subresource ? `${res.resource}/${res.subresource}` : res.resource!,
        namespace: res.namespace ?? '',
        name: standIn ? 'name' : name,
      });
      if (standIn) request.name = '';
      return request;
    });
  }
  const nonResourcePath = spec.nonResourceAttributes?.path ?? '';
  const nonResourceVerb = spec.nonResourceAttributes?.verb ?? '';
  if (nonResourcePath === '' || nonResourceVerb === '') return { ok: false, reason: 'the review names neither resource nor non-resource attributes' };
  if (nonResourcePath.includes('*') || nonResourceVerb === '*') return { ok: false, reason: 'Gatehouse policy decides each request on its own, so it cannot allow a path or verb pattern (*)' };
  return carried(() => {
    const request = nonResourceRequestFor(nonResourceVerb === 'get' ? 'GET' : nonResourceVerb, nonResourcePath);
    request.verb = nonResourceVerb;
    return request;
  });
}

/** The request `build` makes, or why no request could carry the attributes (the classifier refused its path). */
function carried(build: () => KubeRequest): AccessQuestion {
  try {
    return { ok: true, request: build() };
  } catch (err) {
    return { ok: false, reason: `no request could carry these attributes (${(err as Error).message})` };
  }
}

const RESOURCE_ATTRIBUTES = ['namespace', 'verb', 'group', 'version', 'resource', 'subresource', 'name'] as const;
const NON_RESOURCE_ATTRIBUTES = ['path', 'verb'] as const;

/**
 * The JSON form of a SelfSubjectAccessReview sent as protobuf (kubectl's
 * default): its spec's resource and non-resource attributes (field numbers
 * of authorization/v1's generated.proto, the same in v1beta1).
 *
 * @throws ProtobufError when the body is malformed or not such a review.
 */
export function accessReviewFromProtobuf(body: Buffer): { spec: Record<string, Record<string, string>> } {
  const { kind, raw } = unwrapKubeProtobuf(body);
  if (kind !== 'SelfSubjectAccessReview') throw new ProtobufError(`the body is a ${kind || 'object of no kind'}, not a SelfSubjectAccessReview`);
  const spec = messageFields(bytesField(messageFields(raw), 2) ?? Buffer.alloc(0));
  const attributes = (fields: MessageFields, names: readonly string[]): Record<string, string> => {
    const out: Record<string, string> = {};
    names.forEach((name, i) => {
      const value = stringField(fields, i + 1);
      if (value !== undefined) out[name] = value;
    });
    return out;
  };
  const out: Record<string, Record<string, string>> = {};
  const res = bytesField(spec, 1);
  if (res !== undefined) out.resourceAttributes = attributes(messageFields(res), RESOURCE_ATTRIBUTES);
  const non = bytesField(spec, 2);
  if (non !== undefined) out.nonResourceAttributes = attributes(messageFields(non), NON_RESOURCE_ATTRIBUTES);
  return { spec: out };
}

/** What policy decides for a question, leaving out rules that need the object, and the names of those rules. */
export interface AttributeDecision {
  readonly decision: Decision;
  /** Rules that could match but judge the object (or the role a binding grants): undecided here. */
  readonly objectRules: readonly string[];
}

/**
 * Decides a question by the rules that need nothing but the request line,
 * the caller and the namespace's labels (looked up only when such a rule has
 * a namespaceSelector or reads them).
 */
export async function decideAttributes(
  policy: CompiledPolicy,
  request: KubeRequest,
  principal: Principal,
  namespaceLabels: (namespace: string) => Promise<Readonly<Record<string, string>> | undefined>,
): Promise<AttributeDecision> {
  const facts = requestFacts(request, principal, undefined);
  const candidates = candidateRules(policy, facts);
  const objectFree = candidates.filter((r) => !r.needs.object && !r.needs.oldObject && !r.needs.boundRole);
  const objectRules = candidates.filter((r) => !objectFree.includes(r)).map((r) => r.name);
  const labels = needsOf(objectFree).namespace && request.namespace !== '' ? ((await namespaceLabels(request.namespace)) ?? {}) : undefined;
  const decision = decide(policy, objectFree, facts, { request, principal, namespaceLabels: labels });
  return { decision, objectRules };
}

/** The status of a review policy answers by itself (anything but allow and mask), or undefined when the cluster should answer. */
export function accessStatusOf({ decision }: AttributeDecision): { allowed: false; denied?: true; reason: string } | undefined {
  const by = decision.rule === undefined ? 'Gatehouse policy' : `Gatehouse policy rule "${decision.rule}"`;
  switch (decision.action) {
    case 'allow':
    case 'mask':
      return undefined;
    case 'review':
      return { allowed: false, reason: `${by} holds this request for a person's approval: ${decision.message}` };
    case 'propose':
      return { allowed: false, reason: `${by} turns this write into a proposal for a person to apply: ${decision.message}` };
    default:
      return { allowed: false, denied: true, reason: `${by} denies this request: ${decision.message}` };
  }
}

/** The answer to `kubectl auth can-i` when policy decides it. */
export function selfSubjectAccessReview(request: KubeRequest, review: unknown, status: Record<string, unknown>): Record<string, unknown> {
  return reviewOf(request, 'SelfSubjectAccessReview', { spec: specOf(review), status });
}
