import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { compileCel } from '../../../src/policy/cel/index.js';
import { baselineAllowFile, builtinGuardrailsDir, policyPaths } from '../../../src/policy/config.js';
import { evaluatePolicy } from '../../../src/policy/engine.js';
import { kubeRequestFor } from '../../../src/policy/kinds.js';
import { loadPolicy, PolicyLoadError } from '../../../src/policy/load.js';
import type { CompiledPolicy } from '../../../src/policy/model.js';
import { formatTestRun, runPolicyTests, testRunPassed } from '../../../src/policy/testing.js';
import { principal } from './helpers.js';

const tests = resolve(import.meta.dirname, '../../../policies/guardrails/tests');

function createPod(policy: CompiledPolicy, spec: Record<string, unknown>, namespaceLabels: Record<string, string> = {}) {
  const object = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'dev' }, spec };
  const request = kubeRequestFor({ verb: 'create', group: '', version: 'v1', resource: 'pods', namespace: 'dev', name: '', object });
  return evaluatePolicy(policy, { request, principal: principal({ kind: 'agent' }), object, namespaceLabels });
}

describe('shipped guardrail pack', () => {
  const policy = loadPolicy([builtinGuardrailsDir(), baselineAllowFile()], { compile: compileCel, defaultAction: 'deny' });

  it('loads with the real CEL compiler; every rule says why, and every deny or review says what to do next', () => {
    expect(policy.rules.length).toBeGreaterThanOrEqual(33);
    for (const rule of policy.rules) {
      expect(rule.description, rule.name).toMatch(/\S/);
      expect(rule.message, rule.name).toMatch(/\S/);
      if (rule.action === 'deny' || rule.action === 'review') expect(rule.hint, rule.name).toMatch(/\S/);
    }
    // The pack never sets the default action: that stays the gateway config's (deny).
    expect(policy.defaultActionFrom).toBe('config');
  });

  it('passes its policy tests (policies/guardrails/tests)', () => {
    const run = runPolicyTests(tests, compileCel);
    const report = formatTestRun(run);
    expect(run.problems, report).toEqual([]);
    expect(run.results.length).toBeGreaterThanOrEqual(110);
    expect(testRunPassed(run), report).toBe(true);
  });

  it('has a policy test that names every rule as the deciding one', () => {
    const run = runPolicyTests(tests, compileCel);
    const decided = new Set(run.results.map((r) => r.decision.rule));
    const untested = policy.rules.map((r) => r.name).filter((name) => !decided.has(name) && name !== 'image-registries');
    expect(untested).toEqual([]);
  });

  it('stays far inside the CEL cost budget on a large pod (no rule fails closed)', () => {
    const container = (i: number) => ({
      name: `c${i}`,
      image: `registry.example/team/app-${i}:1.${i}`,
      ports: [{ containerPort: 8000 + i }],
      env: Array.from({ length: 20 }, (_, k) => ({ name: `V${k}`, value: 'x'.repeat(40) })),
      securityContext: {
        allowPrivilegeEscalation: false,
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
        capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] },
        seLinuxOptions: { level: 's0:c1,c2' },
      },
    });
    const spec = {
      securityContext: { runAsNonRoot: true, sysctls: [{ name: 'net.ipv4.tcp_syncookies', value: '1' }] },
      initContainers: Array.from({ length: 10 }, (_, i) => container(100 + i)),
      containers: Array.from({ length: 40 }, (_, i) => container(i)),
      volumes: Array.from({ length: 30 }, (_, i) => ({ name: `v${i}`, configMap: { name: `cm${i}` } })),
    };
    const restricted = createPod(policy, spec, { 'gatehouse.dev/pod-security': 'restricted' });
    expect(restricted.errors).toEqual([]);
    expect(restricted).toMatchObject({ action: 'allow', rule: 'allow-everything-else' });
  });

  it('applies the restricted rules only where the namespace opts in', () => {
    const plain = { containers: [{ name: 'c', image: 'nginx:1.27' }] };
    expect(createPod(policy, plain)).toMatchObject({ action: 'allow' });
    expect(createPod(policy, plain, { 'gatehouse.dev/pod-security': 'baseline' })).toMatchObject({ action: 'allow' });
    const restricted = createPod(policy, plain, { 'gatehouse.dev/pod-security': 'restricted' });
    expect(restricted.action).toBe('deny');
    expect(restricted.matched.map((m) => m.rule)).toEqual(['restricted-privilege-escalation', 'restricted-run-as-non-root', 'restricted-seccomp', 'restricted-capabilities', 'allow-everything-else']);
  });

  it('names what is wrong in the message', () => {
    const caps = createPod(policy, { containers: [{ name: 'c', image: 'nginx:1.27', securityContext: { capabilities: { add: ['CHOWN', 'SYS_ADMIN', 'NET_RAW', 'SYS_ADMIN'] } } }] });
    expect(caps.message).toBe('a container adds capabilities beyond the baseline set: SYS_ADMIN, NET_RAW');
    const sysctls = createPod(policy, { securityContext: { sysctls: [{ name: 'kernel.msgmax', value: '1' }] }, containers: [{ name: 'c', image: 'nginx:1.27' }] });
    expect(sysctls.message).toBe('the pod sets sysctls outside the safe set: kernel.msgmax');
    const images = createPod(policy, { initContainers: [{ name: 'i', image: 'busybox' }], containers: [{ name: 'c', image: 'nginx:latest' }] });
    expect(images).toMatchObject({ action: 'deny', rule: 'latest-or-untagged-images' });
    expect(images.hint).toContain('pin a tag or digest');
    expect(images.message).toBe('images must be pinned to a tag or digest, not: nginx:latest, busybox');
  });
});

describe('switching guardrails off (docs/policy.md)', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  /** A copy of the pack, as a user vendors it into their own policy directory. */
  function vendorPack(): string {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-pack-'));
    for (const f of readdirSync(builtinGuardrailsDir()).filter((f) => f.endsWith('.yaml'))) copyFileSync(join(builtinGuardrailsDir(), f), join(dir, f));
    return dir;
  }

  function removeRule(file: string, name: string): void {
    const doc = parseDocument(readFileSync(file, 'utf8'));
    const rules = doc.getIn(['spec', 'rules']) as { items: { get(key: string): unknown }[] };
    const index = rules.items.findIndex((r) => r.get('name') === name);
    expect(index, name).toBeGreaterThanOrEqual(0);
    doc.deleteIn(['spec', 'rules', index]);
    writeFileSync(file, doc.toString());
  }

  it('switches one built-in rule off by name with policy.disabledRules, and refuses an unknown name', () => {
    const config = { paths: [baselineAllowFile()], defaultAction: 'deny' as const, builtinGuardrails: true, disabledRules: ['latest-or-untagged-images'] };
    const policy = loadPolicy(policyPaths(config), { compile: compileCel, defaultAction: 'deny', disabledRules: config.disabledRules });
    expect(policy.rules.map((r) => r.name)).not.toContain('latest-or-untagged-images');
    expect(createPod(policy, { containers: [{ name: 'c', image: 'nginx' }] })).toMatchObject({ action: 'allow' });
    expect(createPod(policy, { containers: [{ name: 'c', image: 'nginx', securityContext: { privileged: true } }] })).toMatchObject({ rule: 'privileged-containers' });
    expect(() => loadPolicy(policyPaths(config), { compile: compileCel, defaultAction: 'deny', disabledRules: ['no-such-rule'] })).toThrow(
      'policy.disabledRules: no loaded rule is named "no-such-rule"',
    );
  });

  it('switches one rule off: builtinGuardrails false, and a copy of the pack without the rule', () => {
    const copy = vendorPack();
    removeRule(join(copy, 'images.yaml'), 'latest-or-untagged-images');
    const config = { paths: [copy, baselineAllowFile()], defaultAction: 'deny' as const, builtinGuardrails: false, disabledRules: [] };
    const policy = loadPolicy(policyPaths(config), { compile: compileCel, defaultAction: 'deny' });
    expect(policy.rules.map((r) => r.name)).not.toContain('latest-or-untagged-images');
    expect(policy.rules.map((r) => r.name)).toContain('privileged-containers');
    expect(createPod(policy, { containers: [{ name: 'c', image: 'nginx' }] })).toMatchObject({ action: 'allow' });
    expect(createPod(policy, { containers: [{ name: 'c', image: 'nginx', securityContext: { privileged: true } }] })).toMatchObject({ rule: 'privileged-containers' });
  });

  it('refuses the copy next to the built-in pack: rule names are unique, so builtinGuardrails must be false', () => {
    const copy = vendorPack();
    const config = { paths: [copy], defaultAction: 'deny' as const, builtinGuardrails: true, disabledRules: [] };
    let error: unknown;
    try {
      loadPolicy(policyPaths(config), { compile: compileCel, defaultAction: 'deny' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PolicyLoadError);
    expect((error as PolicyLoadError).problems.map((p) => p.message).join('\n')).toContain('rule "latest-or-untagged-images" is already defined at');
  });
});
