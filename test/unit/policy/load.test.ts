import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compileCel } from '../../../src/policy/cel/index.js';
import { compilePolicy, loadPolicy, PolicyLoadError } from '../../../src/policy/load.js';
import { compile, policyOf, policyYaml } from './helpers.js';

/** The problems of a policy that must not load, as `file:line:col: message` strings. */
function problemsOf(yaml: string): string[] {
  try {
    policyOf(yaml);
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyLoadError);
    return (err as PolicyLoadError).problems.map((p) => `${p.file}:${p.line}:${p.col}: ${p.message}`);
  }
  throw new Error('the policy loaded');
}

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('policy loader', () => {
  it('compiles rules in file order with their source locations', () => {
    const policy = policyOf(
      policyYaml(`    - name: first
      action: allow
    - name: second
      match: { verbs: [delete] }
      action: deny
      description: deletes are off
`),
    );
    expect(policy.rules.map((r) => [r.name, r.action, r.policy, r.location.line, r.location.col])).toEqual([
      ['first', 'allow', 'test', 6, 7],
      ['second', 'deny', 'test', 8, 7],
    ]);
    expect(policy.rules[1]!.description).toBe('deletes are off');
    expect(policy.defaultAction).toBe('deny');
    expect(policy.defaultActionFrom).toBe('config');
    expect(Object.isFrozen(policy)).toBe(true);
    expect(Object.isFrozen(policy.rules)).toBe(true);
    expect(Object.isFrozen(policy.rules[0])).toBe(true);
  });

  it('reads several documents per file and skips empty ones', () => {
    const doc = (name: string): string => policyYaml(`    - name: ${name}\n      action: allow\n`).replace('name: test', `name: p-${name}`);
    const policy = policyOf(`${doc('a')}---\n${doc('b')}---\n`);
    expect(policy.rules.map((r) => [r.name, r.policy])).toEqual([
      ['a', 'p-a'],
      ['b', 'p-b'],
    ]);
    expect(policy.rules[1]!.location.line).toBe(14);
  });

  it('points at the offending value with file, line and column', () => {
    expect(
      problemsOf(
        policyYaml(`    - name: r
      action: forbid
`),
      ),
    ).toEqual(['test.yaml:7:15: spec.rules[0].action: Invalid option: expected one of "deny"|"review"|"propose"|"mask"|"allow"']);
  });

  it('points at the unknown key, and at the rule for a missing field', () => {
    expect(
      problemsOf(
        policyYaml(`    - name: r
      action: deny
      match:
        verbs: [get]
        namespace: [prod]
    - name: s
      message: no action here
`),
      ),
    ).toEqual([
      'test.yaml:10:9: spec.rules[0].match: unknown field "namespace"',
      'test.yaml:11:7: spec.rules[1].action: required (Invalid option: expected one of "deny"|"review"|"propose"|"mask"|"allow")',
    ]);
  });

  it('reports YAML syntax errors with their position', () => {
    const problems = problemsOf('apiVersion: gatehouse.dev/v1alpha1\nkind: Policy\nspec: { rules: [\n');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^test\.yaml:4:1: invalid YAML: /);
  });

  it('checks the document header', () => {
    expect(problemsOf('apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\nspec: { rules: [] }\n')).toEqual([
      'test.yaml:1:13: apiVersion: must be gatehouse.dev/v1alpha1',
      'test.yaml:2:7: kind: must be Policy',
    ]);
  });

  it('reports CEL that does not compile at the expression', () => {
    expect(
      problemsOf(
        policyYaml(`    - name: r
      when: syntax error (
      action: deny
`),
      ),
    ).toEqual(['test.yaml:7:13: spec.rules[0].when: CEL does not compile: Syntax error: mismatched input']);
  });

  it('places real CEL compile errors at the offending character when the expression is on one line', () => {
    const yaml = policyYaml(`    - name: plain
      when: object.spec.( == 1
      action: deny
    - name: quoted
      when: "1 + 'a' == 2"
      action: deny
    - name: folded
      when: >-
        object.spec.containers.exists(c,
          c.image == 1 +)
      action: deny
`);
    try {
      compilePolicy([{ file: 'cel.yaml', text: yaml }], { compile: compileCel, defaultAction: 'deny' });
      expect.unreachable();
    } catch (err) {
      const problems = (err as PolicyLoadError).problems;
      expect(problems.map((p) => [p.line, p.col])).toEqual([
        [7, 25],
        [10, 14],
        [13, 13],
      ]);
      expect(problems[0]!.message).toMatch(/^spec\.rules\[0\]\.when: CEL does not compile: 1:13: /);
    }
  });

  it('refuses a rule name used twice, naming the first place', () => {
    expect(
      problemsOf(
        policyYaml(`    - name: r
      action: deny
    - name: r
      action: allow
`),
      ),
    ).toEqual(['test.yaml:8:13: spec.rules[1].name: rule "r" is already defined at test.yaml:6:13; rule names must be unique']);
  });

  it('takes the default action from one document, or else from config, and refuses a second', () => {
    expect(policyOf(policyYaml('    []\n', '  defaultAction: allow\n')).defaultAction).toBe('allow');
    expect(policyOf(policyYaml('    []\n', '  defaultAction: allow\n')).defaultActionFrom).toEqual({ file: 'test.yaml', line: 5, col: 18 });
    expect(policyOf(policyYaml('    []\n'), 'allow').defaultAction).toBe('allow');
    const texts = [
      { file: 'a.yaml', text: policyYaml('    []\n', '  defaultAction: allow\n') },
      { file: 'b.yaml', text: policyYaml('    []\n', '  defaultAction: deny\n') },
    ];
    expect(() => compilePolicy(texts, { compile, defaultAction: 'deny' })).toThrow(
      'b.yaml:5:18: spec.defaultAction: already set at a.yaml:5:18; only one Policy document may set it',
    );
  });

  it('explains that RBAC-only verbs are never request verbs', () => {
    const problems = problemsOf(policyYaml(`    - name: r\n      match: { verbs: [get, escalate] }\n      action: review\n`));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('test.yaml:7:29: spec.rules[0].match.verbs[1]: "escalate" is a check the API server makes');
  });

  it('refuses includeWorkloadTemplates on a rule that does not match pods, and resources with nonResourceURLs', () => {
    expect(
      problemsOf(
        policyYaml(`    - name: r
      match:
        resources: [{ group: apps, resource: deployments }]
        includeWorkloadTemplates: true
      action: deny
    - name: s
      match: { resources: [{ group: "", resource: pods }], nonResourceURLs: ["/healthz"] }
      action: deny
`),
      ),
    ).toEqual([
      'test.yaml:9:35: spec.rules[0].match.includeWorkloadTemplates: includeWorkloadTemplates judges workloads by their pod template, so the rule must match pods: add { group: "", resource: pods }',
      'test.yaml:12:77: spec.rules[1].match.nonResourceURLs: a rule matches either resources or nonResourceURLs, not both; write two rules',
    ]);
  });

  it('refuses empty match lists and selector expressions without values', () => {
    expect(
      problemsOf(
        policyYaml(`    - name: r
      match:
        namespaces: []
        namespaceSelector: { matchExpressions: [{ key: tier, operator: In }] }
      action: deny
`),
      ),
    ).toEqual([
      'test.yaml:8:21: spec.rules[0].match.namespaces: list at least one namespace pattern, or leave the field out to match any',
      'test.yaml:9:49: spec.rules[0].match.namespaceSelector.matchExpressions[0].values: operator In needs a non-empty values list',
    ]);
  });

  it('loads files and directories (only *.yaml and *.yml, in name order) and reports missing paths', () => {
    const d = mkdtempSync(join(tmpdir(), 'gh-policy-'));
    dir = d;
    const rule = (name: string): string => policyYaml(`    - name: ${name}\n      action: allow\n`);
    mkdirSync(join(d, 'd'));
    writeFileSync(join(d, 'd', 'b.yml'), rule('b'));
    writeFileSync(join(d, 'd', 'a.yaml'), rule('a'));
    writeFileSync(join(d, 'd', 'notes.txt'), 'not policy');
    writeFileSync(join(d, 'single.yaml'), rule('c'));
    const policy = loadPolicy([join(d, 'd'), join(d, 'single.yaml')], { compile, defaultAction: 'deny' });
    expect(policy.rules.map((r) => r.name)).toEqual(['a', 'b', 'c']);
    expect(policy.files).toEqual([join(d, 'd', 'a.yaml'), join(d, 'd', 'b.yml'), join(d, 'single.yaml')]);
    expect(() => loadPolicy([join(d, 'nope')], { compile, defaultAction: 'deny' })).toThrow(/nope:1:1: cannot read the policy path/);
  });

  it('reports every problem of every file at once', () => {
    const texts = [
      { file: 'a.yaml', text: policyYaml('    - name: x\n      action: nope\n') },
      { file: 'b.yaml', text: policyYaml('    - name: Bad_Name\n      action: deny\n') },
    ];
    try {
      compilePolicy(texts, { compile, defaultAction: 'deny' });
      expect.unreachable();
    } catch (err) {
      const e = err as PolicyLoadError;
      expect(e.problems.map((p) => p.file)).toEqual(['a.yaml', 'b.yaml']);
      expect(e.message).toMatch(/^invalid policy \(2 problems\):\n {2}a\.yaml:7:15: .*\n {2}b\.yaml:6:13: spec\.rules\[0\]\.name: must be lower-case/);
    }
  });

  it('records what each rule needs beyond the request line', () => {
    const policy = policyOf(
      policyYaml(`    - name: a
      when: object.privileged
      action: deny
    - name: b
      when: oldObject.spec.replicas > 1
      action: deny
    - name: c
      match: { namespaceSelector: { matchLabels: { tier: prod } } }
      action: deny
    - name: d
      action: deny
    - name: e
      when: boundRole != null
      action: deny
`),
    );
    expect(policy.rules.map((r) => r.needs)).toEqual([
      { object: true, oldObject: false, namespace: false, boundRole: false },
      { object: false, oldObject: true, namespace: false, boundRole: false },
      { object: false, oldObject: false, namespace: true, boundRole: false },
      { object: false, oldObject: false, namespace: false, boundRole: false },
      // The role a binding names is in its object (for a patch, the object the patch produces).
      { object: true, oldObject: false, namespace: false, boundRole: true },
    ]);
  });
});
