import { describe, expect, it } from 'vitest';
import { ZodError } from 'zod';
import type { Principal } from '../../../src/identity/principal.js';
import { ProtobufError } from '../../../src/kube/protobuf.js';
import { compileCel } from '../../../src/policy/cel/index.js';
import { compilePolicy } from '../../../src/policy/load.js';
import {
  accessQuestionOf,
  accessReviewFromProtobuf,
  accessStatusOf,
  decideAttributes,
  selfReviewOf,
  selfSubjectReview,
  selfSubjectRulesReview,
} from '../../../src/reviews/self-review.js';
import { kubeRequest, policyYaml } from '../policy/helpers.js';

const agent: Principal = { subject: 'token:agent', groups: ['ai-agents'], kind: 'agent', via: 'token', tokenId: 't1', sponsor: 'alice' };

const policy = compilePolicy(
  [
    {
      file: 'test.yaml',
      text: policyYaml(`    - name: no-namespace-deletes
      match: { verbs: [delete], resources: [{ group: "", resource: namespaces }] }
      action: deny
      message: namespaces are not deleted through the gateway
    - name: prod-exec
      match:
        verbs: [create]
        resources: [{ group: "", resource: pods/exec }]
        namespaceSelector: { matchLabels: { tier: prod } }
      action: review
      message: exec in production needs approval
    - name: privileged
      match: { verbs: [create], resources: [{ group: "", resource: pods }] }
      when: object.spec.containers.exists(c, c.?securityContext.?privileged.orValue(false))
      action: deny
      message: no privileged pods
    - name: agents-propose-deployments
      match: { verbs: [create, update, patch], resources: [{ group: apps, resource: deployments }], principalKinds: [agent] }
      action: propose
      message: an agent's deployment changes are proposals
    - name: everything-else
      match: { resources: [{ group: "*", resource: "*" }] }
      action: allow
    - name: version
      match: { nonResourceURLs: ["/version"] }
      action: allow
`),
    },
  ],
  { compile: compileCel, defaultAction: 'deny' },
);

/** A protobuf length-delimited field. */
function field(number: number, value: Buffer | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value) : value;
  return Buffer.concat([varint(number * 8 + 2), varint(bytes.length), bytes]);
}
function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}
/** A SelfSubjectAccessReview as kubectl sends it: the k8s envelope around the review's protobuf. */
function protobufReview(attributes: Record<number, string>, kind = 'SelfSubjectAccessReview'): Buffer {
  const res = Buffer.concat(Object.entries(attributes).map(([n, v]) => field(Number(n), v)));
  const review = Buffer.concat([field(1, Buffer.alloc(0)), field(2, field(1, res))]);
  const typeMeta = Buffer.concat([field(1, 'authorization.k8s.io/v1'), field(2, kind)]);
  return Buffer.concat([Buffer.from('k8s\0', 'latin1'), field(1, typeMeta), field(2, review)]);
}

const labels = (tier: string) => (): Promise<Record<string, string>> => Promise.resolve({ tier });

describe('self reviews', () => {
  it('recognises creates of the three review kinds only', () => {
    expect(selfReviewOf(kubeRequest('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews'))).toBe('user');
    expect(selfReviewOf(kubeRequest('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews'))).toBe('access');
    expect(selfReviewOf(kubeRequest('POST', '/apis/authorization.k8s.io/v1beta1/selfsubjectrulesreviews'))).toBe('rules');
    expect(selfReviewOf(kubeRequest('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews'))).toBeUndefined();
    expect(selfReviewOf(kubeRequest('GET', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews'))).toBeUndefined();
    expect(selfReviewOf(kubeRequest('POST', '/api/v1/namespaces/a/configmaps'))).toBeUndefined();
  });

  it('answers whoami with the Gatehouse principal, in the version asked', () => {
    const review = selfSubjectReview(kubeRequest('POST', '/apis/authentication.k8s.io/v1beta1/selfsubjectreviews'), agent);
    expect(review).toEqual({
      kind: 'SelfSubjectReview',
      apiVersion: 'authentication.k8s.io/v1beta1',
      metadata: { creationTimestamp: null },
      status: {
        userInfo: {
          username: 'token:agent',
          groups: ['ai-agents'],
          extra: { 'gatehouse-principal-kind': ['agent'], 'gatehouse-via': ['token'], 'gatehouse-sponsor': ['alice'] },
        },
      },
    });
  });

  it('lists no rules for can-i --list, and says why', () => {
    const request = kubeRequest('POST', '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', { spec: { namespace: 'demo' } });
    expect(selfSubjectRulesReview(request)).toMatchObject({ spec: { namespace: 'demo' }, status: { resourceRules: [], incomplete: true, evaluationError: expect.stringContaining('kubectl auth can-i VERB RESOURCE') as string } });
  });

  it('turns resource attributes into the request they ask about', () => {
    const q = accessQuestionOf({ spec: { resourceAttributes: { verb: 'create', resource: 'pods', subresource: 'exec', namespace: 'prod' } } });
    expect(q.ok && q.request).toMatchObject({ verb: 'create', resource: 'pods', subresource: 'exec', namespace: 'prod', name: '' });
    const named = accessQuestionOf({ spec: { resourceAttributes: { verb: 'get', group: 'apps', resource: 'deployments', namespace: 'a', name: 'web' } } });
    expect(named.ok && named.request).toMatchObject({ verb: 'get', apiGroup: 'apps', resource: 'deployments', name: 'web' });
    const non = accessQuestionOf({ spec: { nonResourceAttributes: { verb: 'get', path: '/version' } } });
    expect(non.ok && non.request).toMatchObject({ isResourceRequest: false, verb: 'get', path: '/version' });
  });

  it('does not answer wildcards or empty questions from policy', () => {
    expect(accessQuestionOf({ spec: { resourceAttributes: { verb: '*', resource: '*' } } })).toMatchObject({ ok: false, reason: expect.stringContaining('(*)') as string });
    expect(accessQuestionOf({ spec: { resourceAttributes: { verb: 'get' } } })).toMatchObject({ ok: false, reason: 'the review names no verb or no resource' });
    expect(accessQuestionOf({ spec: {} })).toMatchObject({ ok: false });
    expect(() => accessQuestionOf({ spec: { resourceAttributes: { verb: 7 } } })).toThrow(ZodError);
    expect(() => accessQuestionOf('not a review')).toThrow(ZodError);
  });

  it('reads a review sent as protobuf', () => {
    const body = protobufReview({ 1: 'prod', 2: 'create', 5: 'pods', 6: 'exec' });
    expect(accessReviewFromProtobuf(body)).toEqual({ spec: { resourceAttributes: { namespace: 'prod', verb: 'create', resource: 'pods', subresource: 'exec' } } });
    expect(() => accessReviewFromProtobuf(body.subarray(0, body.length - 3))).toThrow(ProtobufError);
    expect(() => accessReviewFromProtobuf(protobufReview({ 2: 'get' }, 'Pod'))).toThrow(/a Pod, not a SelfSubjectAccessReview/);
    expect(() => accessReviewFromProtobuf(Buffer.from('{"spec":{}}'))).toThrow(/no k8s/);
  });

  it('answers refusals and holds by the deciding rule, and leaves allowed requests to the cluster', async () => {
    const ask = async (attributes: Record<string, string>, tier = 'dev') => {
      const q = accessQuestionOf({ spec: { resourceAttributes: attributes } });
      if (!q.ok) throw new Error(q.reason);
      return decideAttributes(policy, q.request, agent, labels(tier));
    };
    expect(accessStatusOf(await ask({ verb: 'delete', resource: 'namespaces', name: 'prod' }))).toEqual({
      allowed: false,
      denied: true,
      reason: 'Gatehouse policy rule "no-namespace-deletes" denies this request: namespaces are not deleted through the gateway',
    });
    expect(accessStatusOf(await ask({ verb: 'create', resource: 'pods', subresource: 'exec', namespace: 'shop' }, 'prod'))).toEqual({
      allowed: false,
      reason: `Gatehouse policy rule "prod-exec" holds this request for a person's approval: exec in production needs approval`,
    });
    expect(accessStatusOf(await ask({ verb: 'create', resource: 'pods', subresource: 'exec', namespace: 'shop' }, 'dev'))).toBeUndefined();
    expect(accessStatusOf(await ask({ verb: 'patch', group: 'apps', resource: 'deployments', namespace: 'shop' }))).toMatchObject({ allowed: false, reason: expect.stringContaining('proposal') as string });
    // The rule that judges the pod itself is left out: creating a pod is allowed, a privileged one still is not.
    const pods = await ask({ verb: 'create', resource: 'pods', namespace: 'shop' });
    expect(accessStatusOf(pods)).toBeUndefined();
    expect(pods.objectRules).toEqual(['privileged']);
    const q = accessQuestionOf({ spec: { nonResourceAttributes: { verb: 'get', path: '/healthz' } } });
    if (!q.ok) throw new Error(q.reason);
    expect(accessStatusOf(await decideAttributes(policy, q.request, agent, labels('dev')))).toMatchObject({ denied: true, reason: expect.stringContaining('no policy rule matched') as string });
  });

  it('looks namespace labels up only when a rule needs them', async () => {
    let lookups = 0;
    const q = accessQuestionOf({ spec: { resourceAttributes: { verb: 'get', resource: 'pods', namespace: 'shop' } } });
    if (!q.ok) throw new Error(q.reason);
    await decideAttributes(policy, q.request, agent, () => (lookups++, Promise.resolve({})));
    expect(lookups).toBe(0);
  });
});
