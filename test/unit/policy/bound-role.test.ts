import { describe, expect, it, vi } from 'vitest';
import { GatehouseError } from '../../../src/errors/codes.js';
import type { RequestContext, StageOutcome } from '../../../src/pipeline/context.js';
import { boundRoleVariable, roleRefOf, storedRole } from '../../../src/policy/bound-role.js';
import type { RoleRef, StoredRole } from '../../../src/policy/bound-role.js';
import { compileCel } from '../../../src/policy/cel/index.js';
import { baselineAllowFile, builtinGuardrailsDir } from '../../../src/policy/config.js';
import { explainPolicy } from '../../../src/policy/explain.js';
import { loadPolicy } from '../../../src/policy/load.js';
import { staticPolicy } from '../../../src/policy/model.js';
import { createPolicyStage } from '../../../src/policy/stage.js';
import type { PolicyStageOptions } from '../../../src/policy/stage.js';
import { kubeRequest, principal, stageContext } from './helpers.js';

const RBAC = '/apis/rbac.authorization.k8s.io/v1';
const roleRef = (kind: string, name: string) => ({ apiGroup: 'rbac.authorization.k8s.io', kind, name });
const clusterBinding = (role: string) => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'ClusterRoleBinding',
  metadata: { name: 'b' },
  roleRef: roleRef('ClusterRole', role),
  subjects: [{ kind: 'User', name: 'cursor' }],
});
const wildcardVerbs: StoredRole = { labels: {}, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['*'] }] };
const narrow: StoredRole = { labels: {}, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }] };

describe('roleRefOf', () => {
  const facts = (verb: string, resource: string, namespace = '', group = 'rbac.authorization.k8s.io', subresource = '') => ({ verb, group, resource, subresource, namespace });
  it.each([
    ['a ClusterRoleBinding to a ClusterRole', facts('create', 'clusterrolebindings'), roleRef('ClusterRole', 'edit'), { kind: 'ClusterRole', name: 'edit', namespace: '' }],
    ['a RoleBinding to a ClusterRole', facts('update', 'rolebindings', 'dev'), roleRef('ClusterRole', 'edit'), { kind: 'ClusterRole', name: 'edit', namespace: '' }],
    ['a RoleBinding to a Role of its namespace', facts('patch', 'rolebindings', 'dev'), roleRef('Role', 'team'), { kind: 'Role', name: 'team', namespace: 'dev' }],
    ['a ClusterRoleBinding to a Role (refused by the API server)', facts('create', 'clusterrolebindings'), roleRef('Role', 'team'), undefined],
    ['a delete', facts('delete', 'rolebindings', 'dev'), roleRef('Role', 'team'), undefined],
    ['a read', facts('get', 'clusterrolebindings'), roleRef('ClusterRole', 'edit'), undefined],
    ['another group', facts('create', 'clusterrolebindings', '', 'example.com'), roleRef('ClusterRole', 'edit'), undefined],
    ['a role write', facts('create', 'clusterroles'), roleRef('ClusterRole', 'edit'), undefined],
    ['a roleRef of another API group', facts('create', 'clusterrolebindings'), { apiGroup: 'example.com', kind: 'ClusterRole', name: 'x' }, undefined],
    ['a roleRef without a name', facts('create', 'clusterrolebindings'), { kind: 'ClusterRole' }, undefined],
  ])('%s', (_, request, ref, expected) => {
    expect(roleRefOf(request, { roleRef: ref })).toEqual(expected);
  });

  it('reads nothing from a body without a roleRef', () => {
    expect(roleRefOf(facts('create', 'clusterrolebindings'), { metadata: { name: 'x' } })).toBeUndefined();
    expect(roleRefOf(facts('create', 'clusterrolebindings'), undefined)).toBeUndefined();
  });

  it('shows a role that does not exist as one with no rules, and keeps what policy reads of a stored one', () => {
    expect(boundRoleVariable({ kind: 'Role', name: 'team', namespace: 'dev' }, undefined)).toEqual({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'team', namespace: 'dev', labels: {} },
      rules: [],
    });
    const aggregated = storedRole({
      kind: 'ClusterRole',
      metadata: { name: 'agg', labels: { a: 'b' }, annotations: { big: 'x'.repeat(100) }, managedFields: [{}] },
      aggregationRule: { clusterRoleSelectors: [{ matchLabels: { x: 'y' } }] },
      rules: [{ verbs: ['get'] }],
    });
    expect(aggregated).toEqual({ labels: { a: 'b' }, rules: [{ verbs: ['get'] }], aggregationRule: { clusterRoleSelectors: [{ matchLabels: { x: 'y' } }] } });
    expect(storedRole({ kind: 'ClusterRole', metadata: { name: 'empty' } })).toEqual({ labels: {}, rules: [] });
  });
});

describe('the rbac-bind-wildcard-role guardrail in the policy stage', () => {
  const policy = staticPolicy(loadPolicy([builtinGuardrailsDir(), baselineAllowFile()], { compile: compileCel, defaultAction: 'deny' }));

  const context = (method: string, url: string, object?: unknown): RequestContext => stageContext(method, url, object, { principal: principal({ kind: 'agent' }) });
  const run = async (ctx: RequestContext, extra: Partial<PolicyStageOptions>): Promise<StageOutcome> => createPolicyStage({ policy, ...extra }).run(ctx);
  const lookup = (roles: Record<string, StoredRole>) => vi.fn((ref: RoleRef) => Promise.resolve(roles[`${ref.kind}/${ref.namespace}/${ref.name}`]));

  it('holds a binding to a role that grants "*" verbs or resources, naming the role', async () => {
    const boundRole = lookup({ 'ClusterRole//ops': wildcardVerbs, 'Role/dev/readall': { labels: {}, rules: [{ apiGroups: [''], resources: ['*'], verbs: ['get'] }] } });
    const ctx = context('POST', `${RBAC}/clusterrolebindings`, clusterBinding('ops'));
    const outcome = await run(ctx, { boundRole });
    expect(boundRole).toHaveBeenCalledWith({ kind: 'ClusterRole', name: 'ops', namespace: '' }, ctx);
    expect(ctx.decision).toMatchObject({ action: 'review', rule: 'rbac-bind-wildcard-role', message: 'binding the ClusterRole ops, which grants "*" verbs or resources, needs a person\'s approval' });
    expect(outcome).toMatchObject({ action: 'stop', error: { code: 'GH_APPROVAL_UNAVAILABLE' } });

    const roleBinding = { ...clusterBinding('readall'), kind: 'RoleBinding', metadata: { name: 'b', namespace: 'dev' }, roleRef: roleRef('Role', 'readall') };
    const held = context('POST', `${RBAC}/namespaces/dev/rolebindings`, roleBinding);
    expect(await run(held, { boundRole, approvals: true })).toEqual({ action: 'continue' });
    expect(held.decision).toMatchObject({ action: 'review', rule: 'rbac-bind-wildcard-role' });
  });

  it('lets a binding to a narrow role, or to one that does not exist, through', async () => {
    const boundRole = lookup({ 'ClusterRole//view': narrow });
    for (const role of ['view', 'not-there']) {
      const ctx = context('POST', `${RBAC}/clusterrolebindings`, clusterBinding(role));
      expect(await run(ctx, { boundRole })).toEqual({ action: 'continue' });
      expect(ctx.decision).toMatchObject({ action: 'allow', rule: 'allow-everything-else' });
    }
    expect(boundRole).toHaveBeenCalledTimes(2);
  });

  it('looks roles up only for binding writes', async () => {
    const boundRole = lookup({});
    await run(context('GET', `${RBAC}/clusterrolebindings/b`), { boundRole });
    await run(context('DELETE', `${RBAC}/clusterrolebindings/b`), { boundRole });
    await run(context('POST', `${RBAC}/clusterroles`, { kind: 'ClusterRole', metadata: { name: 'r' }, rules: [] }), { boundRole });
    await run(context('POST', '/api/v1/namespaces/dev/configmaps', { kind: 'ConfigMap', metadata: { name: 'c' } }), { boundRole });
    expect(boundRole).not.toHaveBeenCalled();
  });

  it('judges a patch by the roleRef of the binding the patch produces', async () => {
    const boundRole = lookup({ 'ClusterRole//ops': wildcardVerbs });
    const resolveObject = vi.fn(() => Promise.resolve({ object: clusterBinding('ops'), oldObject: clusterBinding('ops') }));
    const ctx = context('PATCH', `${RBAC}/clusterrolebindings/b`, { subjects: [{ kind: 'User', name: 'mallory' }] });
    await run(ctx, { boundRole, resolveObject });
    expect(resolveObject).toHaveBeenCalled();
    expect(ctx.decision).toMatchObject({ action: 'review', rule: 'rbac-bind-wildcard-role' });
  });

  it('fails closed when the role cannot be read, or cannot be looked up at all', async () => {
    const down = { boundRole: () => Promise.reject(new Error('connection refused')) };
    const ctx = context('POST', `${RBAC}/clusterrolebindings`, clusterBinding('ops'));
    const outcome = await run(ctx, down);
    expect(outcome).toMatchObject({ action: 'stop', error: { code: 'GH_POLICY_UNAVAILABLE', retryAfterSeconds: 5 } });
    expect(outcome.action === 'stop' && outcome.error.message).toBe(
      'the gateway could not get ClusterRole "ops", which policy needs to judge this request (connection refused); it was not forwarded. Retry shortly.',
    );
    expect(ctx.decision).toMatchObject({ action: 'deny', rule: undefined });
    const own = new GatehouseError('GH_POLICY_UNAVAILABLE', 'the API server answered 403');
    expect(await run(context('POST', `${RBAC}/clusterrolebindings`, clusterBinding('ops')), { boundRole: () => Promise.reject(own) })).toEqual({ action: 'stop', error: own });

    const unlooked = context('POST', `${RBAC}/clusterrolebindings`, clusterBinding('view'));
    await run(unlooked, {});
    expect(unlooked.decision).toMatchObject({ action: 'deny', rule: 'rbac-bind-wildcard-role' });
    expect(unlooked.decision?.errors).toEqual([
      { rule: 'rbac-bind-wildcard-role', error: 'ClusterRole "view", which this binding refers to, was not looked up, so what it grants cannot be checked' },
    ]);
  });

  it('explains a binding with the role given, and says what is missing without it', () => {
    const request = kubeRequest('POST', `${RBAC}/clusterrolebindings`, clusterBinding('ops'));
    const input = { request, principal: principal(), object: request.object };
    const verdict = (e: ReturnType<typeof explainPolicy>) => e.rules.find((r) => r.rule.name === 'rbac-bind-wildcard-role');
    const ref: RoleRef = { kind: 'ClusterRole', name: 'ops', namespace: '' };
    expect(verdict(explainPolicy(policy.current(), { ...input, boundRole: boundRoleVariable(ref, wildcardVerbs) }))).toMatchObject({ outcome: 'matched' });
    expect(verdict(explainPolicy(policy.current(), { ...input, boundRole: boundRoleVariable(ref, narrow) }))).toMatchObject({ outcome: 'not-matched', reason: 'when: false' });
    expect(verdict(explainPolicy(policy.current(), input))).toMatchObject({ outcome: 'error' });
  });
});
