import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { registerPolicy } from '../../../src/cli/policy.js';
import { explainPolicy, formatExplanation } from '../../../src/policy/explain.js';
import { formatTestRun, runPolicyTests, testRunPassed } from '../../../src/policy/testing.js';
import { compile, kubeRequest, policyOf, policyYaml, pod, principal } from './helpers.js';

const repo = resolve(import.meta.dirname, '../../..');
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gh-policy-tools-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

const policyFile = policyYaml(`    - name: no-privileged
      match: { verbs: [create], resources: [{ group: "", resource: pods }] }
      when: object.spec.containers.exists(c, c.securityContext.privileged)
      action: deny
      message: privileged containers are not allowed
    - name: reads
      match: { verbs: [get, list] }
      action: allow
`);

function testFile(cases: string, policies = '[policy.yaml]'): string {
  return `apiVersion: gatehouse.dev/v1alpha1
kind: PolicyTest
metadata: { name: t }
spec:
  policies: ${policies}
  cases:
${cases}`;
}

describe('policy test runner', () => {
  it('passes and fails cases on action and rule, and explains failures', () => {
    writeFileSync(join(dir, 'policy.yaml'), policyFile);
    writeFileSync(
      join(dir, 'cases.yaml'),
      testFile(`    - name: reads pass
      request: { verb: list, resource: pods, namespace: a }
      expect: { action: allow, rule: reads }
    - name: wrong action
      request: { verb: create, object: { apiVersion: v1, kind: Pod, metadata: { name: p }, spec: { containers: [{ securityContext: { privileged: true } }] } } }
      expect: { action: allow }
    - name: wrong rule
      request: { verb: get, resource: pods, namespace: a, name: p }
      expect: { action: allow, rule: other }
    - name: default
      request: { verb: delete, resource: pods, namespace: a, name: p }
      expect: { action: deny, rule: null }
`),
    );
    const run = runPolicyTests(dir, compile);
    expect(run.problems).toEqual([]);
    expect(run.results.map((r) => [r.case, r.pass])).toEqual([
      ['reads pass', true],
      ['wrong action', false],
      ['wrong rule', false],
      ['default', true],
    ]);
    expect(testRunPassed(run)).toBe(false);
    const text = formatTestRun(run);
    expect(text).toMatch(/^RESULT +TEST +CASE +EXPECTED +GOT\n/);
    expect(text).toMatch(/FAIL +t +wrong action +allow +deny \(no-privileged\)/);
    expect(text).toContain(`FAIL ${join(dir, 'cases.yaml')}:10:7 "wrong action": got deny (no-privileged): privileged containers are not allowed`);
    expect(text).toMatch(/2 passed, 2 failed\n$/);
  });

  it('reports test files and policies that do not load', () => {
    writeFileSync(join(dir, 'policy.yaml'), policyYaml('    - name: x\n      action: maybe\n'));
    writeFileSync(join(dir, 'cases.yaml'), testFile('    - name: c\n      request: { verb: list, resource: pods }\n      expect: { action: allow }\n'));
    writeFileSync(join(dir, 'bad-test.yaml'), testFile('    - name: c\n      request: { verb: list }\n      expect: { action: allow }\n'));
    const run = runPolicyTests(dir, compile);
    expect(testRunPassed(run)).toBe(false);
    expect(run.problems.map((p) => `${p.line}:${p.col}: ${p.message.split('\n')[0]}`)).toEqual([
      '8:16: spec.cases[0].request: give a resource (or an object with apiVersion and kind), or a path for a non-resource request',
      '5:13: the policy under test does not load:',
    ]);
    expect(formatTestRun(run)).toMatch(/0 passed, 0 failed, 2 errors\n$/);
    expect(runPolicyTests(join(dir, 'nothing-here'), compile).problems[0]?.message).toMatch(/^cannot read/);
  });

  it('says so when there are no tests', () => {
    writeFileSync(join(dir, 'policy.yaml'), policyFile);
    expect(runPolicyTests(dir, compile).problems.map((p) => p.message)).toEqual(['no PolicyTest documents found']);
  });
});

describe('policy explain', () => {
  it('gives every rule its verdict and the decision', () => {
    const policy = policyOf(
      policyYaml(`    - name: deletes
      match: { verbs: [delete] }
      action: deny
    - name: prod-only
      match: { namespaceSelector: { matchLabels: { tier: prod } } }
      action: review
    - name: no-privileged
      match: { verbs: [create], resources: [{ group: "", resource: pods }] }
      when: object.spec.containers.exists(c, c.securityContext.privileged)
      action: deny
      message: privileged containers are not allowed
      hint: drop privileged
    - name: creates
      match: { verbs: [create] }
      action: allow
`),
    );
    const object = pod('web', true);
    const e = explainPolicy(policy, { request: kubeRequest('POST', '/api/v1/namespaces/a/pods', object), principal: principal(), object, namespaceLabels: { tier: 'dev' } });
    expect(e.rules.map((r) => [r.rule.name, r.outcome, r.reason])).toEqual([
      ['deletes', 'not-matched', 'verbs: "create" is not in [delete]'],
      ['prod-only', 'not-matched', 'namespaceSelector: namespace "a" has no labels matching tier=prod'],
      ['no-privileged', 'matched', 'every match field holds and when is true'],
      ['creates', 'matched', 'every match field holds'],
    ]);
    const text = formatExplanation(e);
    expect(text).toMatch(/^RULE +ACTION +MATCHED +WHY +WHERE\n/);
    expect(text).toMatch(/\ndeletes +deny +no +verbs: "create" is not in \[delete\] +test\.yaml:6:7\n/);
    expect(text).toContain('\ndecision: deny by rule "no-privileged": privileged containers are not allowed\nhint: drop privileged\n');
  });
});

describe('gatehouse policy (CLI)', () => {
  async function cli(args: string[]): Promise<string> {
    let out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((out += String(chunk)), true));
    const program = new Command('gatehouse').exitOverride();
    registerPolicy(program);
    await program.parseAsync(['node', 'gatehouse', 'policy', ...args]);
    return out;
  }

  it('runs the shipped guardrail tests and exits 0', async () => {
    const out = await cli(['test', join(repo, 'policies/guardrails/tests')]);
    expect(out).toMatch(/\n\d+ passed, 0 failed\n$/);
    expect(process.exitCode).toBeUndefined();
  });

  it('exits 1 when a case fails', async () => {
    writeFileSync(join(dir, 'cases.yaml'), testFile(`    - name: wrong\n      request: { verb: list, resource: secrets }\n      expect: { action: allow }\n`, `[${join(repo, 'policies/guardrails')}]`));
    const out = await cli(['test', dir]);
    expect(out).toMatch(/FAIL +t +wrong +allow +deny \(default\)/);
    expect(out).toContain('mask rule "secret-reads" matched, but masking only applies to requests something allows');
    expect(process.exitCode).toBe(1);
  });

  it('explains a manifest against the guardrails', async () => {
    const manifest = join(dir, 'pod.yaml');
    writeFileSync(manifest, 'apiVersion: v1\nkind: Pod\nmetadata: { name: root }\nspec:\n  containers: [{ name: c, image: busybox:1.36, securityContext: { privileged: true } }]\n');
    const out = await cli(['explain', '--policy', join(repo, 'policies/baseline-allow.yaml'), '--builtin-guardrails', '--verb', 'create', '-f', manifest, '--kind', 'agent', '--namespace', 'prod']);
    expect(out).toMatch(/\nprivileged-containers +review +MATCHED +every match field holds and when is true/);
    expect(out).toMatch(/\nprotected-exec +review +no +resources: "core\/pods" is not in \[/);
    expect(out).toContain('decision: review by rule "privileged-containers": a container asks to run privileged (securityContext.privileged = true)');

    const json = JSON.parse(await cli(['explain', '--policy', join(repo, 'policies/baseline-allow.yaml'), '--builtin-guardrails', '--verb', 'get', '--resource', 'secrets', '--name', 's', '--json'])) as {
      decision: { action: string; rule: string };
    };
    expect(json.decision).toMatchObject({ action: 'mask', rule: 'secret-reads' });
  });

  it('explains a binding with the role it names (--bound-role), and says when that is missing', async () => {
    const binding = join(dir, 'binding.yaml');
    writeFileSync(binding, 'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: { name: b }\nroleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ops }\nsubjects: [{ kind: User, name: u }]\n');
    const role = join(dir, 'role.yaml');
    writeFileSync(role, 'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: { name: ops }\nrules: [{ apiGroups: [""], resources: ["*"], verbs: [get] }]\n');
    const args = ['explain', '--policy', join(repo, 'policies/baseline-allow.yaml'), '--builtin-guardrails', '--verb', 'create', '-f', binding];
    expect(await cli([...args, '--bound-role', role])).toContain('decision: review by rule "rbac-bind-wildcard-role": binding the ClusterRole ops, which grants "*" verbs or resources');
    expect(await cli(args)).toMatch(/\nrbac-bind-wildcard-role +review +ERROR +ClusterRole "ops", which this binding refers to, was not looked up/);
    const other = join(dir, 'other.yaml');
    writeFileSync(other, 'kind: ClusterRole\nmetadata: { name: view }\n');
    await expect(cli([...args, '--bound-role', other])).rejects.toThrow(`--bound-role: ${other} is not ClusterRole "ops", which the binding refers to`);
  });
});
