import { describe, expect, it, vi } from 'vitest';
import { GatehouseError } from '../../../src/errors/codes.js';
import { statusFor } from '../../../src/kube/status.js';
import type { RequestContext, StageOutcome } from '../../../src/pipeline/context.js';
import { staticPolicy } from '../../../src/policy/model.js';
import type { CompiledPolicy } from '../../../src/policy/model.js';
import { createPolicyStage } from '../../../src/policy/stage.js';
import { masksAnswer } from '../../../src/proxy/mask-response.js';
import type { PolicyStageOptions } from '../../../src/policy/stage.js';
import { pod, policyOf, policyYaml, principal, stageContext } from './helpers.js';

const context = (method: string, url: string, object?: unknown, body?: Buffer): RequestContext => stageContext(method, url, object, { body, principal: principal({ kind: 'agent' }) });

async function run(policy: CompiledPolicy, ctx: RequestContext, extra: Partial<PolicyStageOptions> = {}): Promise<StageOutcome> {
  return createPolicyStage({ policy: staticPolicy(policy), ...extra }).run(ctx);
}

function refusal(outcome: StageOutcome): GatehouseError {
  if (outcome.action !== 'stop') throw new Error('the request was let through');
  return outcome.error;
}

const rules = policyOf(
  policyYaml(`    - name: no-privileged
      match: { verbs: [create, update, patch], resources: [{ group: "", resource: pods }] }
      when: object.spec.containers.exists(c, c.securityContext.privileged)
      action: deny
      message: privileged containers are not allowed
      hint: remove securityContext.privileged from every container
    - name: protected-delete
      match: { verbs: [delete], namespaceSelector: { matchLabels: { tier: prod } } }
      action: review
      message: deletes in production need a second person
    - name: secrets
      match: { verbs: [get, list, watch], resources: [{ group: "", resource: secrets }] }
      action: mask
      message: secret values are sensitive
    - name: broken
      match: { names: [broken] }
      when: object.missing.field
      action: allow
    - name: reads
      match: { verbs: [get, list, watch] }
      action: allow
    - name: writes
      match: { verbs: [create, update, patch, delete] }
      action: allow
`),
);

describe('policy stage', () => {
  it('lets allowed requests through and records the decision', async () => {
    const ctx = context('GET', '/api/v1/namespaces/a/pods');
    expect(await run(rules, ctx)).toEqual({ action: 'continue' });
    expect(ctx.decision).toMatchObject({ action: 'allow', rule: 'reads' });
  });

  it('denies with a Status naming the rule, why and what to do next', async () => {
    const ctx = context('POST', '/api/v1/namespaces/a/pods', pod('web', true));
    const error = refusal(await run(rules, ctx));
    expect(ctx.decision).toMatchObject({ action: 'deny', rule: 'no-privileged' });
    expect(statusFor(error)).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'denied by policy rule "no-privileged": privileged containers are not allowed. remove securityContext.privileged from every container.',
      reason: 'Forbidden',
      code: 403,
      details: {
        causes: [
          { reason: 'GH_POLICY_DENIED', message: error.message },
          { reason: 'GatehousePolicyRule', message: 'no-privileged', field: 'rule' },
        ],
      },
    });
  });

  it('says how to proceed when no hint is given, and when no rule matched', async () => {
    const noHint = policyOf(policyYaml('    - name: no-deletes\n      match: { verbs: [delete] }\n      action: deny\n      message: deletes are off\n'));
    expect(refusal(await run(noHint, context('DELETE', '/api/v1/namespaces/a/pods/x'))).message).toBe(
      'denied by policy rule "no-deletes": deletes are off. Change the request so the rule no longer matches; do not retry it unchanged. If it must be allowed, ask a gateway administrator to change the policy.',
    );
    const error = refusal(await run(noHint, context('GET', '/api/v1/namespaces/a/pods')));
    expect(error.code).toBe('GH_POLICY_DENIED');
    expect(error.message).toBe(
      'denied by policy: no rule allows this request and the default action is deny. Do not retry it unchanged; ask a gateway administrator for a rule that allows it if it is needed.',
    );
    expect(statusFor(error).details?.causes).toHaveLength(1);
  });

  it('fails closed on a rule that cannot be evaluated, and says it is a policy fault', async () => {
    const ctx = context('POST', '/api/v1/namespaces/a/configmaps', { metadata: { name: 'broken' } });
    const error = refusal(await run(rules, ctx));
    expect(error.code).toBe('GH_POLICY_DENIED');
    expect(error.message).toBe(
      'denied by policy rule "broken": the rule could not be evaluated (when: no such key: \'missing\'), so the request is denied (fail closed). This is a fault in the policy, not in the request: report it to a gateway administrator.',
    );
    expect(ctx.decision?.errors).toEqual([{ rule: 'broken', error: "when: no such key: 'missing'" }]);
  });

  it('refuses review requests while no approval flow exists', async () => {
    const ctx = context('DELETE', '/api/v1/namespaces/prod/pods/x');
    const error = refusal(await run(rules, ctx, { namespaceLabels: () => Promise.resolve({ tier: 'prod' }) }));
    expect(ctx.decision).toMatchObject({ action: 'review', rule: 'protected-delete' });
    expect(error.code).toBe('GH_APPROVAL_UNAVAILABLE');
    expect(error.httpStatus).toBe(403);
    expect(error.message).toBe(
      'policy rule "protected-delete" requires a person\'s approval for this request: deletes in production need a second person. This gateway has no approval flow configured, so the request was refused, not held. Do not retry it unchanged; ask a person with access to run it, or a gateway administrator to enable approvals.',
    );
    expect(statusFor(error).details?.causes?.[1]).toEqual({ reason: 'GatehousePolicyRule', message: 'protected-delete', field: 'rule' });
  });

  it('passes review requests on to the approval stage when one follows, with the rule\'s review settings', async () => {
    const withSettings = policyOf(
      policyYaml(`    - name: prod-delete
      match: { verbs: [delete] }
      action: review
      message: deletes need a second person
      review: { approverGroups: [sre], quorum: 2, grantTtl: 5m }
`),
    );
    const ctx = context('DELETE', '/api/v1/namespaces/prod/pods/x');
    expect(await run(withSettings, ctx, { approvals: true })).toEqual({ action: 'continue' });
    expect(ctx.decision).toMatchObject({ action: 'review', rule: 'prod-delete', review: { approverGroups: ['sre'], quorum: 2, grantTtl: '5m' } });
  });

  it('refuses mask requests while masking does not exist', async () => {
    const error = refusal(await run(rules, context('GET', '/api/v1/namespaces/a/secrets/s')));
    expect(error.code).toBe('GH_MASKING_UNAVAILABLE');
    expect(error.httpStatus).toBe(403);
    expect(error.message).toMatch(/^policy rule "secrets" lets this request through only with sensitive fields of the response masked: secret values are sensitive\. /);
  });

  it('refuses writes whose body it cannot decode when there is no dry-run, and tells the client to send JSON', async () => {
    const ctx = context('POST', '/api/v1/namespaces/a/pods', undefined, Buffer.from([0x6b, 0x38, 0x73, 0x00]));
    ctx.request!.contentType = 'application/vnd.kubernetes.protobuf';
    const error = refusal(await run(rules, ctx));
    expect(error.code).toBe('GH_POLICY_BODY_UNREADABLE');
    expect(error.httpStatus).toBe(415);
    expect(error.reason).toBe('UnsupportedMediaType');
    expect(error.message).toContain('the request body is application/vnd.kubernetes.protobuf, which this gateway cannot inspect');
    expect(error.message).toContain('Send the object as JSON');
    expect(ctx.decision?.action).toBe('deny');
    // A write without a body (e.g. a delete, or an empty create) is judged normally.
    expect(await run(rules, context('DELETE', '/api/v1/namespaces/a/configmaps/x'), { namespaceLabels: () => Promise.resolve({}) })).toEqual({
      action: 'continue',
    });
  });

  it('judges an undecodable body on the object the dry-run resolves', async () => {
    const protobuf = (): ReturnType<typeof context> => {
      const ctx = context('POST', '/api/v1/namespaces/a/pods', undefined, Buffer.from([0x6b, 0x38, 0x73, 0x00]));
      ctx.request!.contentType = 'application/vnd.kubernetes.protobuf';
      return ctx;
    };
    const resolved = (privileged: boolean) => ({
      resolveObject: () =>
        Promise.resolve({
          object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'i', securityContext: { privileged } }] } },
          oldObject: null,
        }),
    });
    expect(await run(rules, protobuf(), resolved(false))).toEqual({ action: 'continue' });
    expect(refusal(await run(rules, protobuf(), resolved(true))).code).toBe('GH_POLICY_DENIED');
  });

  it('looks up namespace labels only when a rule that could match needs them', async () => {
    const namespaceLabels = vi.fn(() => Promise.resolve({ tier: 'dev' }));
    await run(rules, context('GET', '/api/v1/namespaces/a/pods'), { namespaceLabels });
    expect(namespaceLabels).not.toHaveBeenCalled();
    expect(await run(rules, context('DELETE', '/api/v1/namespaces/a/pods/x'), { namespaceLabels })).toEqual({ action: 'continue' });
    expect(namespaceLabels).toHaveBeenCalledWith('a', expect.anything());
  });

  it('fails closed when the namespace labels cannot be had', async () => {
    const failing = { namespaceLabels: () => Promise.reject(new Error('connection refused')) };
    const error = refusal(await run(rules, context('DELETE', '/api/v1/namespaces/a/pods/x'), failing));
    expect(error.code).toBe('GH_POLICY_UNAVAILABLE');
    expect(error.retryAfterSeconds).toBe(5);
    expect(error.message).toBe(
      'the gateway could not get the labels of namespace "a", which policy needs to judge this request (connection refused); it was not forwarded. Retry shortly.',
    );
    const own = new GatehouseError('GH_UPSTREAM_UNAVAILABLE', 'down');
    expect(refusal(await run(rules, context('DELETE', '/api/v1/namespaces/a/pods/x'), { namespaceLabels: () => Promise.reject(own) }))).toBe(own);
    // Without any lookup configured the selector rule cannot be checked: deny.
    expect(refusal(await run(rules, context('DELETE', '/api/v1/namespaces/a/pods/x'))).message).toContain('denied by policy rule "protected-delete": the rule could not be evaluated');
  });

  it('notes when a read of the object a write answers with would not be allowed as it is, so its answer is masked', async () => {
    const guarded = policyOf(
      policyYaml(`    - name: secrets
      match: { verbs: [get, list, watch], resources: [{ group: "", resource: secrets }] }
      action: mask
      message: secret values are sensitive
    - name: sealed
      match: { verbs: [get], resources: [{ group: "", resource: configmaps }], names: [sealed], namespaceSelector: { matchLabels: { tier: prod } } }
      action: deny
      message: not to be read
    - name: review-reads
      match: { verbs: [get], resources: [{ group: authentication.k8s.io, resource: "*" }] }
      action: mask
      message: a read would be masked, if there were one
    - name: shell-reads
      match: { verbs: [get], resources: [{ group: "", resource: "*" }], names: [shell] }
      action: mask
      message: what is read of the shell pod and service is masked
    - name: reads
      match: { verbs: [get, list, watch] }
      action: allow
    - name: writes
      match: { verbs: [create, update, patch, delete, deletecollection] }
      action: allow
`),
    );
    const answer = async (method: string, url: string, object?: unknown, extra: Partial<PolicyStageOptions> = {}) => {
      const ctx = context(method, url, object);
      expect(await run(guarded, ctx, extra)).toEqual({ action: 'continue' });
      expect(ctx.decision).toMatchObject({ action: 'allow', rule: 'writes' });
      return { readBack: ctx.decision!.readBack, masked: masksAnswer(ctx.decision) };
    };
    // A no-op patch of a Secret answers with its data: masked as a get of it is.
    expect(await answer('PATCH', '/api/v1/namespaces/a/secrets/db', {})).toEqual({ readBack: { action: 'mask', rule: 'secrets' }, masked: true });
    // A create names its object in the body; a deletecollection answers with a list.
    expect(await answer('POST', '/api/v1/namespaces/a/secrets', { metadata: { name: 'new' } })).toEqual({ readBack: { action: 'mask', rule: 'secrets' }, masked: true });
    expect(await answer('DELETE', '/api/v1/namespaces/a/secrets')).toEqual({ readBack: { action: 'mask', rule: 'secrets' }, masked: true });
    // What may be read as it is comes back as it is.
    expect(await answer('PATCH', '/api/v1/namespaces/a/pods/web', {})).toEqual({ readBack: undefined, masked: false });
    // A read policy would refuse: the answer is masked (the namespace's labels looked up for the read's rule).
    const namespaceLabels = vi.fn(() => Promise.resolve({ tier: 'prod' }));
    expect(await answer('PATCH', '/api/v1/namespaces/a/configmaps/sealed', {}, { namespaceLabels })).toEqual({ readBack: { action: 'deny', rule: 'sealed' }, masked: true });
    expect(namespaceLabels).toHaveBeenCalledTimes(1);
    // Sessions and proxied HTTP are not objects: their own rules decide them.
    expect(await answer('POST', '/api/v1/namespaces/a/pods/shell/exec?command=env', undefined)).toEqual({ readBack: undefined, masked: false });
    expect(await answer('POST', '/api/v1/namespaces/a/services/shell/proxy/x', undefined)).toEqual({ readBack: undefined, masked: false });
    expect(await answer('PATCH', '/api/v1/namespaces/a/pods/shell/status', {})).toEqual({ readBack: { action: 'mask', rule: 'shell-reads' }, masked: true });
    // Nor is a review: its answer is a verdict (who the token is, what the caller may do), nothing stored.
    expect(await answer('POST', '/apis/authentication.k8s.io/v1/tokenreviews', { spec: { token: 'x' } })).toEqual({ readBack: undefined, masked: false });
  });

  it('masks what a person let through when a mask rule matched too', () => {
    const decision = { rule: 'held', message: 'm', hint: undefined, errors: [] };
    const maskRule = { rule: 'sessions', action: 'mask' as const, message: 'masked' };
    expect(masksAnswer({ ...decision, action: 'review', matched: [{ rule: 'held', action: 'review', message: 'm' }, maskRule] })).toBe(true);
    expect(masksAnswer({ ...decision, action: 'review', matched: [{ rule: 'held', action: 'review', message: 'm' }] })).toBe(false);
    expect(masksAnswer({ ...decision, action: 'allow', matched: [] })).toBe(false);
    expect(masksAnswer(undefined)).toBe(false);
  });

  it('judges a patch on the object it would produce', async () => {
    const resolveObject = vi.fn(() => Promise.resolve({ object: pod('web', true), oldObject: pod('web', false) }));
    const patch = context('PATCH', '/api/v1/namespaces/a/pods/web', { spec: { containers: [{ name: 'c', securityContext: { privileged: true } }] } });
    const error = refusal(await run(rules, patch, { resolveObject }));
    expect(resolveObject).toHaveBeenCalledWith(patch);
    expect(error.message).toMatch(/^denied by policy rule "no-privileged"/);

    resolveObject.mockClear();
    await run(rules, context('GET', '/api/v1/namespaces/a/pods/web'), { resolveObject });
    await run(rules, context('POST', '/api/v1/namespaces/a/pods', pod('web')), { resolveObject });
    await run(rules, context('PATCH', '/api/v1/namespaces/a/configmaps/c', { data: {} }), { resolveObject });
    expect(resolveObject).not.toHaveBeenCalled();
  });

  it('refuses a patch it must judge when no resolver is configured', async () => {
    const ctx = context('PATCH', '/api/v1/namespaces/a/pods/web', { metadata: { labels: { a: 'b' } } });
    const error = refusal(await run(rules, ctx));
    expect(error.code).toBe('GH_POLICY_DENIED');
    expect(error.message).toContain('a rule must judge the object this patch would produce, and this gateway cannot work it out');
    expect(ctx.decision?.action).toBe('deny');
  });

  it('gives updates their oldObject when a rule reads it', async () => {
    const scaleDown = policyOf(
      policyYaml(`    - name: no-scale-down
      match: { verbs: [update] }
      when: oldObject.spec.replicas > 1
      action: deny
    - name: rest
      action: allow
`),
    );
    const resolveObject = vi.fn(() => Promise.resolve({ object: { spec: { replicas: 1 } }, oldObject: { spec: { replicas: 3 } } }));
    const ctx = context('PUT', '/apis/apps/v1/namespaces/a/deployments/web', { spec: { replicas: 1 } });
    expect(refusal(await run(scaleDown, ctx, { resolveObject })).message).toMatch(/^denied by policy rule "no-scale-down"/);
  });

  it('reads the policy in force at each request', async () => {
    let current = policyOf(policyYaml('    []\n'), 'deny');
    const stage = createPolicyStage({ policy: { current: () => current, close: () => undefined } });
    expect((await stage.run(context('GET', '/api'))).action).toBe('stop');
    current = policyOf(policyYaml('    []\n'), 'allow');
    expect((await stage.run(context('GET', '/api'))).action).toBe('continue');
  });
});
