/** `action: propose` in the policy model and engine: precedence, writes only, explain, the schema's limits. */
import { describe, expect, it } from 'vitest';
import { evaluatePolicy, isProposable } from '../../../src/policy/engine.js';
import { explainPolicy } from '../../../src/policy/explain.js';
import { policyDocumentSchema } from '../../../src/policy/model.js';
import { outcomeOf } from '../../../src/policy/stage.js';
import { kubeRequest, policyOf, policyYaml, principal } from '../policy/helpers.js';

const agent = principal({ subject: 'token:bot', kind: 'agent', via: 'token' });
const rules = `    - name: agents-propose
      match: { principalKinds: [agent] }
      action: propose
      message: agents propose; people apply
      review: { approverGroups: [platform] }
    - name: everything
      action: allow
    - name: no-secrets
      match: { resources: [{ group: "", resource: secrets }] }
      action: mask
    - name: privileged
      match: { namespaces: [kube-system] }
      action: review
`;
const policy = policyOf(policyYaml(rules));
const decide = (method: string, url: string, who = agent) => evaluatePolicy(policy, { request: kubeRequest(method, url, method === 'GET' ? undefined : {}), principal: who });

describe('action: propose', () => {
  it('turns an agent’s writes into proposals, with the rule’s review settings', () => {
    for (const [method, url] of [
      ['POST', '/apis/apps/v1/namespaces/dev/deployments'],
      ['PATCH', '/apis/apps/v1/namespaces/dev/deployments/web'],
      ['PUT', '/apis/apps/v1/namespaces/dev/deployments/web/scale'],
      ['DELETE', '/api/v1/namespaces/dev/pods/web'],
      ['DELETE', '/api/v1/namespaces/dev/pods'],
      ['POST', '/api/v1/namespaces/dev/pods/web/exec?command=sh'],
    ] as const) {
      expect(decide(method, url), `${method} ${url}`).toMatchObject({ action: 'propose', rule: 'agents-propose', review: { approverGroups: ['platform'] } });
    }
  });

  it('never matches reads: the other rules decide them', () => {
    expect(decide('GET', '/apis/apps/v1/namespaces/dev/deployments')).toMatchObject({ action: 'allow', rule: 'everything' });
    expect(decide('GET', '/api/v1/namespaces/dev/secrets/x')).toMatchObject({ action: 'mask', rule: 'no-secrets' });
    expect(decide('GET', '/api/v1/namespaces/dev/pods?watch=true').matched.map((m) => m.rule)).not.toContain('agents-propose');
    expect([isProposable('get'), isProposable('list'), isProposable('watch'), isProposable('head')]).toEqual([false, false, false, false]);
  });

  it('ranks below deny and review, above mask and allow', () => {
    expect(decide('POST', '/api/v1/namespaces/kube-system/configmaps')).toMatchObject({ action: 'review', rule: 'privileged' });
    expect(decide('POST', '/api/v1/namespaces/dev/secrets')).toMatchObject({ action: 'propose' });
    // People are not in propose-only mode.
    expect(decide('POST', '/api/v1/namespaces/dev/configmaps', principal())).toMatchObject({ action: 'allow' });
  });

  it('says in explain why a read does not match a propose rule', () => {
    const { rules: verdicts } = explainPolicy(policy, { request: kubeRequest('GET', '/api/v1/namespaces/dev/pods'), principal: agent });
    expect(verdicts.find((v) => v.rule.name === 'agents-propose')).toMatchObject({ outcome: 'not-matched', reason: 'propose rules apply to writes only, and list is a read' });
  });

  it('is refused by the policy stage alone when no proposal stage follows', () => {
    const outcome = outcomeOf(decide('POST', '/api/v1/namespaces/dev/configmaps'));
    expect(outcome).toMatchObject({ action: 'stop', error: { code: 'GH_PROPOSAL_UNSUPPORTED' } });
  });

  it('is not a default action, and takes review settings', () => {
    const doc = (spec: Record<string, unknown>) => policyDocumentSchema.safeParse({ apiVersion: 'gatehouse.dev/v1alpha1', kind: 'Policy', metadata: { name: 'p' }, spec });
    expect(doc({ defaultAction: 'propose' }).success).toBe(false);
    expect(doc({ rules: [{ name: 'a', action: 'propose', review: { approverGroups: ['x'] } }] }).success).toBe(true);
    expect(doc({ rules: [{ name: 'a', action: 'allow', review: { approverGroups: ['x'] } }] }).success).toBe(false);
  });
});
