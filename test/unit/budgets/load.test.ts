/** Budgets in Policy YAML: compiled once, invalid ones refused with file, line and column like every policy problem. */
import { describe, expect, it } from 'vitest';
import { compilePolicy, PolicyLoadError } from '../../../src/policy/load.js';
import { compile } from '../policy/helpers.js';

function load(budgets: string, rules = '[]', disabledRules: string[] = []) {
  const text = `apiVersion: gatehouse.dev/v1alpha1
kind: Policy
metadata: { name: team }
spec:
  rules: ${rules}
  budgets:
${budgets}`;
  return compilePolicy([{ file: 'team.yaml', text }], { compile, defaultAction: 'deny', disabledRules });
}

function problems(budgets: string, rules = '[]'): string[] {
  try {
    load(budgets, rules);
  } catch (err) {
    if (err instanceof PolicyLoadError) return err.problems.map((p) => `${p.file}:${p.line}:${p.col}: ${p.message}`);
    throw err;
  }
  throw new Error('the policy loaded');
}

describe('budgets in policy', () => {
  it('compiles counters and scale guards with their defaults and a one-line summary', () => {
    const policy = load(`    - name: agent-deletes
      match: { verbs: [delete], principalKinds: [agent] }
      limit: 10
      window: 10m
    - name: namespace-writes
      match: { verbs: [create, update, patch, delete] }
      limit: 100
      window: 1m
      per: namespace
      action: deny
      message: slow down
    - name: no-scale-to-zero
      scale: { minReplicas: 1, maxChangePercent: 50 }
      review: { quorum: 2 }
`);
    expect(policy.budgets.map((b) => [b.name, b.summary, b.action, b.counter?.per, b.counter?.windowMs])).toEqual([
      ['agent-deletes', '10 deletes per 10m per principal', 'review', 'principal', 600_000],
      ['namespace-writes', '100 requests per 1m per namespace', 'deny', 'namespace', 60_000],
      ['no-scale-to-zero', 'replicas at least 1, a change of at most 50%', 'review', undefined, undefined],
    ]);
    expect(policy.budgets[0]!.location).toEqual({ file: 'team.yaml', line: 7, col: 7 });
    expect(policy.budgets[1]!.match.fields.map((f) => f.field)).toEqual(['verbs']);
    expect(policy.budgets[2]!.review).toEqual({ quorum: 2 });
    expect(Object.isFrozen(policy.budgets)).toBe(true);
  });

  it('is empty when no document has budgets', () => {
    const policy = compilePolicy([{ file: 'a.yaml', text: 'apiVersion: gatehouse.dev/v1alpha1\nkind: Policy\nmetadata: { name: a }\nspec: { rules: [] }\n' }], {
      compile,
      defaultAction: 'deny',
    });
    expect(policy.budgets).toEqual([]);
  });

  it('switches a budget off by name through policy.disabledRules', () => {
    const policy = load(`    - { name: a, limit: 1, window: 1m }\n    - { name: b, limit: 1, window: 1m }\n`, '[]', ['a']);
    expect(policy.budgets.map((b) => b.name)).toEqual(['b']);
  });

  it.each([
    ['a counter without a window', '    - { name: x, limit: 5 }\n', 'team.yaml:7:7: spec.budgets[0].window: a counter needs window, e.g. 10m'],
    ['a window without a limit', '    - { name: x, window: 5m }\n', 'team.yaml:7:7: spec.budgets[0].limit: a counter needs limit: how many requests per window'],
    ['neither a counter nor a guard', '    - { name: x }\n', 'team.yaml:7:7: spec.budgets[0].limit: give limit and window (a counter) or scale (a scale guard)'],
    ['both', '    - { name: x, limit: 1, window: 1m, scale: { minReplicas: 1 } }\n', 'team.yaml:7:47: spec.budgets[0].scale: a budget is a counter (limit and window) or a scale guard (scale), not both; write two budgets'],
    ['per on a guard', '    - { name: x, per: namespace, scale: { minReplicas: 1 } }\n', 'team.yaml:7:23: spec.budgets[0].per: per applies to counters (limit and window) only'],
    ['an unknown per', '    - { name: x, limit: 1, window: 1m, per: team }\n', 'team.yaml:7:45: spec.budgets[0].per: Invalid option: expected one of "principal"|"principal+namespace"|"namespace"|"sponsor"'],
    ['action allow', '    - { name: x, limit: 1, window: 1m, action: allow }\n', 'team.yaml:7:48: spec.budgets[0].action: Invalid option: expected one of "review"|"deny"'],
    ['a bad window', '    - { name: x, limit: 1, window: 10 minutes }\n', 'team.yaml:7:36: spec.budgets[0].window: invalid TTL "10 minutes": give a whole number and a unit (s, m, h or d), e.g. 30d, 12h, 90m or 3600s'],
    ['a zero limit', '    - { name: x, limit: 0, window: 1m }\n', 'team.yaml:7:25: spec.budgets[0].limit: Too small: expected number to be >=1'],
    ['an empty scale', '    - { name: x, scale: {} }\n', 'team.yaml:7:25: spec.budgets[0].scale: set minReplicas, maxReplicas or maxChangePercent'],
    ['min above max', '    - { name: x, scale: { minReplicas: 5, maxReplicas: 2 } }\n', 'team.yaml:7:25: spec.budgets[0].scale: minReplicas is above maxReplicas'],
    ['review settings on deny', '    - { name: x, limit: 1, window: 1m, action: deny, review: { quorum: 2 } }\n', 'team.yaml:7:62: spec.budgets[0].review: `review` settings need `action: review`'],
    ['an unknown field', '    - { name: x, limit: 1, window: 1m, burst: 3 }\n', 'team.yaml:7:40: spec.budgets[0]: unknown field "burst"'],
    [
      'workload templates',
      '    - { name: x, limit: 1, window: 1m, match: { resources: [{ group: "", resource: pods }], includeWorkloadTemplates: true } }\n',
      'team.yaml:7:119: spec.budgets[0].match.includeWorkloadTemplates: includeWorkloadTemplates is for rules; a budget counts the request itself',
    ],
  ])('refuses %s', (_what, yaml, problem) => {
    expect(problems(yaml)).toEqual([problem]);
  });

  it('refuses a budget named like a rule or another budget', () => {
    expect(problems('    - { name: x, limit: 1, window: 1m }\n    - { name: deletes, limit: 1, window: 1m }\n', '[{ name: deletes, action: allow }]')).toEqual([
      'team.yaml:8:15: spec.budgets[1].name: "deletes" is already defined at team.yaml:5:19; rule and budget names must be unique',
    ]);
  });
});

describe('policy explain with budgets', () => {
  it('lists which budgets would count the request, and why the others would not', async () => {
    const { explainPolicy, formatExplanation } = await import('../../../src/policy/explain.js');
    const { kubeRequest, principal } = await import('../policy/helpers.js');
    const policy = load(`    - name: agent-deletes
      match: { verbs: [delete], principalKinds: [agent] }
      limit: 10
      window: 10m
    - name: any-deletes
      match: { verbs: [delete] }
      limit: 100
      window: 1h
      per: namespace
      action: deny
`);
    const e = explainPolicy(policy, { request: kubeRequest('DELETE', '/api/v1/namespaces/a/pods/web'), principal: principal() });
    expect(e.budgets?.map((b) => [b.budget.name, b.applies, b.reason])).toEqual([
      ['agent-deletes', false, 'principalKinds: "human" is not in [agent]'],
      ['any-deletes', true, 'every match field holds: the request is counted'],
    ]);
    const text = formatExplanation(e);
    expect(text).toMatch(/\nBUDGET +LIMIT +PAST IT +APPLIES +WHY +WHERE\n/);
    expect(text).toMatch(/\nany-deletes +100 deletes per 1h per namespace +deny +yes +every match field holds: the request is counted +team\.yaml:11:7\n/);
  });
});
