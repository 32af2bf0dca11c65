import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileCel } from '../../../src/policy/cel/index.js';
import { baselineAllowFile, builtinGuardrailsDir } from '../../../src/policy/config.js';
import { loadPolicy } from '../../../src/policy/load.js';
import { formatTestRun, runPolicyTests, testRunPassed } from '../../../src/policy/testing.js';

const tests = resolve(import.meta.dirname, '../../../policies/guardrails/tests');

describe('shipped guardrail pack', () => {
  it('loads with the real CEL compiler, every rule described', () => {
    const policy = loadPolicy([builtinGuardrailsDir(), baselineAllowFile()], { compile: compileCel, defaultAction: 'deny' });
    expect(policy.rules.length).toBeGreaterThanOrEqual(13);
    for (const rule of policy.rules) expect(rule.description, rule.name).toMatch(/\S/);
    // The pack never sets the default action: that stays the gateway config's (deny).
    expect(policy.defaultActionFrom).toBe('config');
  });

  it('passes its policy tests (policies/guardrails/tests)', () => {
    const run = runPolicyTests(tests, compileCel);
    const report = formatTestRun(run);
    expect(run.problems, report).toEqual([]);
    expect(run.results.length).toBeGreaterThanOrEqual(40);
    expect(testRunPassed(run), report).toBe(true);
  });
});
