import { describe, expect, it } from 'vitest';
import { candidateRules, evaluatePolicy, requestFacts } from '../../../src/policy/engine.js';
import { compileCel } from '../../../src/policy/cel/index.js';
import { baselineAllowFile, builtinGuardrailsDir } from '../../../src/policy/config.js';
import { compilePolicy, loadPolicy } from '../../../src/policy/load.js';
import type { PolicyInput } from '../../../src/policy/engine.js';
import type { CompiledPolicy } from '../../../src/policy/model.js';
import { kubeRequest, pod, policyOf, policyYaml, principal } from './helpers.js';

const input = (method: string, url: string, extra: Partial<PolicyInput> = {}): PolicyInput => ({
  request: kubeRequest(method, url, extra.object),
  principal: principal(),
  ...extra,
});

/** One rule with the given match block (flow YAML) and action allow; everything else falls to the default deny. */
function matcher(match: string): CompiledPolicy {
  return policyOf(policyYaml(`    - name: r\n      match: ${match}\n      action: allow\n`));
}
const matches = (policy: CompiledPolicy, i: PolicyInput): boolean => evaluatePolicy(policy, i).rule === 'r';

describe('policy engine: request variables Gatehouse adds', () => {
  it('gives CEL the cluster and a list\'s label selector, decoded', () => {
    const when = (expression: string) =>
      compilePolicy([{ file: 't.yaml', text: policyYaml(`    - name: r\n      match: { verbs: [list] }\n      when: "${expression}"\n      action: allow\n`) }], { compile: compileCel, defaultAction: 'deny' });
    const helmList = input('GET', '/api/v1/namespaces/a/secrets?labelSelector=name%3Drel%2Cowner%3Dhelm&limit=500');
    expect(matches(when("request.labelSelector == 'name=rel,owner=helm'"), helmList)).toBe(true);
    expect(matches(when("request.labelSelector == ''"), input('GET', '/api/v1/namespaces/a/secrets'))).toBe(true);
    expect(matches(when("request.cluster == 'prod'"), { ...helmList, request: { ...helmList.request, cluster: 'prod' } })).toBe(true);
    expect(matches(when("request.cluster == 'prod'"), helmList)).toBe(false);
  });
});

describe('policy engine: precedence and default', () => {
  const all = (order: string[]): CompiledPolicy =>
    policyOf(policyYaml(order.map((a, i) => `    - name: ${a}-${i}\n      action: ${a}\n      message: said ${a}\n`).join('')));

  it('decides deny > review > mask > allow whatever the order of the rules', () => {
    const i = input('GET', '/api/v1/namespaces/default/pods');
    for (const order of [
      ['allow', 'mask', 'review', 'deny'],
      ['deny', 'allow', 'review', 'mask'],
    ]) {
      const d = evaluatePolicy(all(order), i);
      expect(d.action).toBe('deny');
      expect(d.message).toBe('said deny');
      expect(d.matched.map((m) => m.action)).toEqual(order);
    }
    expect(evaluatePolicy(all(['allow', 'mask', 'review']), i).action).toBe('review');
    expect(evaluatePolicy(all(['allow', 'mask', 'allow']), i).action).toBe('mask');
    expect(evaluatePolicy(all(['allow', 'allow']), i)).toMatchObject({ action: 'allow', rule: 'allow-0' });
  });

  it('names the first rule of the winning action', () => {
    expect(evaluatePolicy(all(['allow', 'review', 'review']), input('GET', '/api')).rule).toBe('review-1');
  });

  it('applies the default action when nothing matches', () => {
    const yaml = policyYaml('    - name: r\n      match: { verbs: [delete] }\n      action: allow\n');
    const i = input('GET', '/api/v1/namespaces/default/pods/p');
    expect(evaluatePolicy(policyOf(yaml, 'deny'), i)).toEqual({
      action: 'deny',
      rule: undefined,
      message: 'no policy rule matched, and the default action is deny',
      hint: undefined,
      matched: [],
      errors: [],
    });
    expect(evaluatePolicy(policyOf(yaml, 'allow'), i).action).toBe('allow');
    expect(evaluatePolicy(policyOf(yaml, 'allow'), input('DELETE', '/api/v1/namespaces/default/pods/p')).rule).toBe('r');
  });

  it('treats mask as a modifier of an allowed request, never as an allow of its own', () => {
    const i = input('GET', '/api/v1/namespaces/default/secrets/s');
    const maskOnly = policyYaml('    - name: m\n      action: mask\n');
    const denied = evaluatePolicy(policyOf(maskOnly, 'deny'), i);
    expect(denied).toMatchObject({ action: 'deny', rule: undefined, matched: [{ rule: 'm', action: 'mask' }] });
    expect(denied.message).toContain('mask rule "m" matched, but masking only applies to requests something allows');
    expect(evaluatePolicy(policyOf(maskOnly, 'review'), i).action).toBe('review');
    expect(evaluatePolicy(policyOf(maskOnly, 'allow'), i)).toMatchObject({ action: 'mask', rule: 'm' });
    expect(evaluatePolicy(all(['mask', 'allow']), i)).toMatchObject({ action: 'mask', rule: 'mask-0' });
  });
});

describe('policy engine: match fields', () => {
  it('verbs', () => {
    const p = matcher('{ verbs: [create, deletecollection] }');
    expect(matches(p, input('POST', '/api/v1/namespaces/a/pods'))).toBe(true);
    expect(matches(p, input('DELETE', '/api/v1/namespaces/a/pods'))).toBe(true);
    expect(matches(p, input('DELETE', '/api/v1/namespaces/a/pods/x'))).toBe(false);
    expect(matches(p, input('GET', '/api/v1/namespaces/a/pods'))).toBe(false);
    expect(matches(matcher('{ verbs: ["*"] }'), input('GET', '/api/v1/pods'))).toBe(true);
  });

  it('resources: groups, subresources and wildcards', () => {
    const pods = matcher('{ resources: [{ group: "", resource: pods }] }');
    expect(matches(pods, input('GET', '/api/v1/namespaces/a/pods/x'))).toBe(true);
    expect(matches(pods, input('GET', '/api/v1/namespaces/a/pods/x/log'))).toBe(false);
    expect(matches(pods, input('GET', '/apis/example.com/v1/namespaces/a/pods/x'))).toBe(false);
    expect(matches(pods, input('GET', '/api'))).toBe(false);

    const exec = matcher('{ resources: [{ group: "", resource: pods/exec }] }');
    expect(matches(exec, input('POST', '/api/v1/namespaces/a/pods/x/exec?command=sh'))).toBe(true);
    expect(matches(exec, input('POST', '/api/v1/namespaces/a/pods/x/attach'))).toBe(false);

    const anyApps = matcher('{ resources: [{ group: apps, resource: "*" }] }');
    expect(matches(anyApps, input('GET', '/apis/apps/v1/namespaces/a/deployments/d/scale'))).toBe(true);
    expect(matches(anyApps, input('GET', '/apis/batch/v1/namespaces/a/jobs'))).toBe(false);

    const anyScale = matcher('{ resources: [{ group: "*", resource: "*/scale" }] }');
    expect(matches(anyScale, input('PATCH', '/apis/apps/v1/namespaces/a/deployments/d/scale'))).toBe(true);
    expect(matches(anyScale, input('PATCH', '/apis/apps/v1/namespaces/a/deployments/d'))).toBe(false);

    const podSubs = matcher('{ resources: [{ group: "", resource: "pods/*" }] }');
    expect(matches(podSubs, input('GET', '/api/v1/namespaces/a/pods/x/log'))).toBe(true);
    expect(matches(podSubs, input('GET', '/api/v1/namespaces/a/pods/x'))).toBe(false);
  });

  it('nonResourceURLs', () => {
    const p = matcher('{ nonResourceURLs: ["/version", "/apis/*"] }');
    expect(matches(p, input('GET', '/version'))).toBe(true);
    expect(matches(p, input('GET', '/apis/apps/v1'))).toBe(true);
    expect(matches(p, input('GET', '/healthz'))).toBe(false);
    expect(matches(p, input('GET', '/apis/apps/v1/deployments'))).toBe(false); // a resource request
  });

  it('namespaces: globs and negation; cluster-wide requests only with ""', () => {
    const p = matcher('{ namespaces: ["prod-*", "!prod-sandbox", team-a] }');
    expect(matches(p, input('GET', '/api/v1/namespaces/prod-eu/pods'))).toBe(true);
    expect(matches(p, input('GET', '/api/v1/namespaces/team-a/pods'))).toBe(true);
    expect(matches(p, input('GET', '/api/v1/namespaces/prod-sandbox/pods'))).toBe(false);
    expect(matches(p, input('GET', '/api/v1/namespaces/staging/pods'))).toBe(false);
    expect(matches(p, input('GET', '/api/v1/pods'))).toBe(false);
    const negOnly = matcher('{ namespaces: ["!kube-*"] }');
    expect(matches(negOnly, input('GET', '/api/v1/namespaces/default/pods'))).toBe(true);
    expect(matches(negOnly, input('GET', '/api/v1/namespaces/kube-system/pods'))).toBe(false);
    expect(matches(negOnly, input('GET', '/api/v1/nodes'))).toBe(false);
    expect(matches(matcher('{ namespaces: [""] }'), input('GET', '/api/v1/nodes'))).toBe(true);
    expect(matches(matcher('{ namespaces: [""] }'), input('GET', '/api/v1/namespaces/a/pods'))).toBe(false);
  });

  it('names: from the path, or from the body of a create', () => {
    const p = matcher('{ names: ["web-*", "!web-canary"] }');
    expect(matches(p, input('GET', '/api/v1/namespaces/a/pods/web-1'))).toBe(true);
    expect(matches(p, input('GET', '/api/v1/namespaces/a/pods/web-canary'))).toBe(false);
    expect(matches(p, input('GET', '/api/v1/namespaces/a/pods'))).toBe(false);
    expect(matches(p, input('POST', '/api/v1/namespaces/a/pods', { object: pod('web-2') }))).toBe(true);
    expect(matches(p, input('POST', '/api/v1/namespaces/a/pods', { object: pod('db-1') }))).toBe(false);
  });

  it('users, groups and principal kinds', () => {
    const req = '/api/v1/namespaces/a/pods';
    const users = matcher('{ users: ["oidc:*@example.com", "!oidc:mallory@example.com"] }');
    expect(matches(users, { ...input('GET', req), principal: principal() })).toBe(true);
    expect(matches(users, { ...input('GET', req), principal: principal({ subject: 'oidc:mallory@example.com' }) })).toBe(false);
    expect(matches(users, { ...input('GET', req), principal: principal({ subject: 'token:ci' }) })).toBe(false);

    const groups = matcher('{ groups: [ai-agents, "team-*"] }');
    expect(matches(groups, { ...input('GET', req), principal: principal({ groups: ['dev', 'ai-agents'] }) })).toBe(true);
    expect(matches(groups, { ...input('GET', req), principal: principal({ groups: ['team-x'] }) })).toBe(true);
    expect(matches(groups, { ...input('GET', req), principal: principal({ groups: ['dev'] }) })).toBe(false);
    expect(matches(groups, { ...input('GET', req), principal: principal({ groups: [] }) })).toBe(false);
    const notContractors = matcher('{ groups: ["!contractors"] }');
    expect(matches(notContractors, { ...input('GET', req), principal: principal({ groups: ['dev'] }) })).toBe(true);
    expect(matches(notContractors, { ...input('GET', req), principal: principal({ groups: ['dev', 'contractors'] }) })).toBe(false);

    const kinds = matcher('{ principalKinds: [agent, ci] }');
    expect(matches(kinds, { ...input('GET', req), principal: principal({ kind: 'agent' }) })).toBe(true);
    expect(matches(kinds, { ...input('GET', req), principal: principal({ kind: 'ci' }) })).toBe(true);
    expect(matches(kinds, { ...input('GET', req), principal: principal({ kind: 'human' }) })).toBe(false);
  });

  it('namespaceSelector: matchLabels and matchExpressions on the target namespace', () => {
    const p = matcher(
      '{ namespaceSelector: { matchLabels: { tier: prod }, matchExpressions: [{ key: team, operator: NotIn, values: [sandbox] }, { key: frozen, operator: DoesNotExist }] } }',
    );
    const at = (labels: Record<string, string> | undefined): PolicyInput => ({ ...input('GET', '/api/v1/namespaces/a/pods'), namespaceLabels: labels });
    expect(matches(p, at({ tier: 'prod' }))).toBe(true);
    expect(matches(p, at({ tier: 'prod', team: 'payments' }))).toBe(true);
    expect(matches(p, at({ tier: 'prod', team: 'sandbox' }))).toBe(false);
    expect(matches(p, at({ tier: 'prod', frozen: '' }))).toBe(false);
    expect(matches(p, at({ tier: 'dev' }))).toBe(false);
    expect(matches(p, at({}))).toBe(false);
    expect(matches(p, { ...input('GET', '/api/v1/nodes'), namespaceLabels: { tier: 'prod' } })).toBe(false);

    const exists = matcher('{ namespaceSelector: { matchExpressions: [{ key: tier, operator: In, values: [prod, staging] }, { key: owner, operator: Exists }] } }');
    expect(matches(exists, at({ tier: 'staging', owner: 'x' }))).toBe(true);
    expect(matches(exists, at({ tier: 'staging' }))).toBe(false);
  });

  it('fails closed when the namespace labels are needed but unknown', () => {
    const p = policyOf(policyYaml('    - name: r\n      match: { namespaceSelector: { matchLabels: { tier: prod } } }\n      action: allow\n'), 'allow');
    const d = evaluatePolicy(p, input('GET', '/api/v1/namespaces/a/pods'));
    expect(d.action).toBe('deny');
    expect(d.rule).toBe('r');
    expect(d.errors).toEqual([{ rule: 'r', error: 'the labels of namespace "a" are not available to check its namespaceSelector' }]);
  });

  it('requires every constrained field (AND), any listed value within one (OR)', () => {
    const p = matcher('{ verbs: [list], namespaces: [a], principalKinds: [agent] }');
    const req = input('GET', '/api/v1/namespaces/a/pods');
    expect(matches(p, { ...req, principal: principal({ kind: 'agent' }) })).toBe(true);
    expect(matches(p, req)).toBe(false);
    expect(matches(p, { ...input('GET', '/api/v1/namespaces/b/pods'), principal: principal({ kind: 'agent' }) })).toBe(false);
  });
});

describe('policy engine: when and messages', () => {
  const privileged = policyOf(
    policyYaml(`    - name: no-privileged
      match: { resources: [{ group: "", resource: pods }] }
      when: object.spec.containers.exists(c, c.securityContext.privileged)
      action: deny
      message: privileged containers are not allowed
      messageExpression: "'pod ' + object.metadata.name + ' is privileged'"
    - name: everything
      action: allow
`),
  );

  it('matches only when `when` is true, with the message from messageExpression', () => {
    const create = (p: unknown): PolicyInput => input('POST', '/api/v1/namespaces/a/pods', { object: p });
    expect(evaluatePolicy(privileged, create(pod('web', true)))).toMatchObject({ action: 'deny', rule: 'no-privileged', message: 'pod web is privileged' });
    expect(evaluatePolicy(privileged, create(pod('web', false)))).toMatchObject({ action: 'allow', rule: 'everything' });
  });

  it('falls back to message when messageExpression fails, then to the description', () => {
    const p = policyOf(
      policyYaml(`    - name: a
      action: deny
      message: plain message
      messageExpression: object.missing.field
    - name: b
      action: review
      description: why b exists
`),
    );
    expect(evaluatePolicy(p, input('GET', '/api')).matched).toEqual([
      { rule: 'a', action: 'deny', message: 'plain message' },
      { rule: 'b', action: 'review', message: 'why b exists' },
    ]);
  });

  it('fails closed: a `when` that errors or is not a boolean counts as a deny', () => {
    const p = policyOf(
      policyYaml(`    - name: broken
      when: object.missing.field
      action: allow
    - name: stringly
      when: '"not a boolean"'
      action: allow
    - name: fine
      action: allow
`),
    );
    const d = evaluatePolicy(p, input('DELETE', '/api/v1/namespaces/a/pods/x'));
    expect(d.action).toBe('deny');
    expect(d.rule).toBe('broken');
    expect(d.message).toBe("the rule could not be evaluated (when: no such key: 'missing'), so the request is denied (fail closed)");
    expect(d.errors).toEqual([
      { rule: 'broken', error: "when: no such key: 'missing'" },
      { rule: 'stringly', error: 'when: the expression gave string "not a boolean", not a boolean' },
    ]);
    expect(d.matched.map((m) => [m.rule, m.action])).toEqual([
      ['broken', 'deny'],
      ['stringly', 'deny'],
      ['fine', 'allow'],
    ]);
  });

  it('gives expressions the admission variables', () => {
    let seen: Record<string, unknown> | undefined;
    const policy = policyOf(
      policyYaml(`    - name: look
      when: "true"
      action: allow
`),
    );
    // Capture the activation through a rule whose program records it.
    const rule = policy.rules[0]!;
    const spy = { ...rule, when: { source: 'true', resultType: 'bool', costLimit: 0, evaluate: (a: unknown) => ((seen = a as Record<string, unknown>), { ok: true as const, value: true }) } };
    const spied: CompiledPolicy = { ...policy, rules: [spy] };
    evaluatePolicy(spied, {
      request: kubeRequest('PATCH', '/apis/apps/v1/namespaces/prod/deployments/web?dryRun=All'),
      principal: principal({ kind: 'agent', groups: ['ai-agents'], via: 'token', tokenId: 't1' }),
      object: { kind: 'Deployment' },
      oldObject: { kind: 'Deployment', old: true },
      namespaceLabels: { tier: 'prod' },
      requestId: 'req-1',
    });
    expect(seen).toEqual({
      object: { kind: 'Deployment' },
      oldObject: { kind: 'Deployment', old: true },
      namespaceObject: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod', labels: { tier: 'prod' } } },
      principal: { subject: 'oidc:alice@example.com', groups: ['ai-agents'], kind: 'agent', via: 'token', tokenId: 't1' },
      // Not a binding write.
      boundRole: null,
      request: {
        uid: 'req-1',
        kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
        resource: { group: 'apps', version: 'v1', resource: 'deployments' },
        subResource: '',
        requestKind: { group: 'apps', version: 'v1', kind: 'Deployment' },
        requestResource: { group: 'apps', version: 'v1', resource: 'deployments' },
        requestSubResource: '',
        name: 'web',
        namespace: 'prod',
        operation: 'UPDATE',
        userInfo: {
          username: 'oidc:alice@example.com',
          uid: 't1',
          groups: ['ai-agents'],
          extra: { 'gatehouse.dev/principal-kind': ['agent'], 'gatehouse.dev/via': ['token'] },
        },
        dryRun: true,
        verb: 'patch',
        path: '/apis/apps/v1/namespaces/prod/deployments/web',
        cluster: '',
        labelSelector: '',
      },
    });
  });
});

describe('policy engine: rules by kind of request', () => {
  it('finds the same candidate rules through its per-verb-and-resource index as by checking every rule', () => {
    const policy = loadPolicy([builtinGuardrailsDir(), baselineAllowFile()], { compile: compileCel, defaultAction: 'deny' });
    const requests: [string, string, unknown?][] = [
      ['POST', '/api/v1/namespaces/a/pods', pod('p')],
      ['PATCH', '/apis/apps/v1/namespaces/a/deployments/web', { spec: {} }],
      ['POST', '/api/v1/namespaces/a/pods/web/exec?command=sh'],
      ['GET', '/api/v1/namespaces/a/secrets'],
      ['DELETE', '/api/v1/namespaces/a/configmaps/c'],
      ['POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', { roleRef: { kind: 'ClusterRole', name: 'x' } }],
      ['GET', '/version'],
      ['POST', '/api/v1/namespaces/a/pods', pod('again')],
    ];
    for (const [method, url, object] of requests) {
      const facts = requestFacts(kubeRequest(method, url, object), principal(), object);
      const indexed = candidateRules(policy, facts).map((r) => r.name);
      const everyRule = candidateRules(policy, facts, () => undefined).map((r) => r.name);
      expect(indexed, `${method} ${url}`).toEqual(everyRule);
    }
  });

  it('keeps kinds apart part by part, and stays right past its size limit (made-up resources)', () => {
    const policy = loadPolicy([builtinGuardrailsDir(), baselineAllowFile()], { compile: compileCel, defaultAction: 'deny' });
    const same = (facts: ReturnType<typeof requestFacts>): void => {
      expect(candidateRules(policy, facts).map((r) => r.name), JSON.stringify(facts)).toEqual(candidateRules(policy, facts, () => undefined).map((r) => r.name));
    };
    const create = requestFacts(kubeRequest('POST', '/api/v1/namespaces/a/pods', pod('p')), principal(), pod('p'));
    const secrets = requestFacts(kubeRequest('GET', '/api/v1/namespaces/a/secrets/s'), principal(), undefined);
    // Parts that would run together in a joined key: a group and a resource, a resource and a subresource.
    same({ ...secrets, group: '', resource: 'secrets' });
    same({ ...secrets, group: 'secrets', resource: '' });
    same({ ...create, resource: 'pods', subresource: 'exec' });
    same({ ...create, resource: 'pods/exec', subresource: '' });
    for (let i = 0; i < 2_500; i++) {
      same({ ...secrets, group: `made-up-${i}.example.com`, resource: `things${i % 7}` });
      if (i % 500 === 0) {
        same(create);
        same(secrets);
      }
    }
    same(create);
    same(secrets);
  });
});
