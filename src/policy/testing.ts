/**
 * Policy tests (`gatehouse policy test`): YAML files of kind `PolicyTest`
 * that name the policy to load and list requests with the action (and
 * optionally the rule) each must get. See docs/policy.md.
 *
 * @module
 */

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import type { Principal } from '../identity/principal.js';
import { boundRoleVariable, roleRefOf, storedRole } from './bound-role.js';
import { evaluatePolicy, requestFacts } from './engine.js';
import type { Decision } from './engine.js';
import { table } from './explain.js';
import { isClusterScopedKind, kubeRequestFor, nonResourceRequestFor, resourceForKind, splitApiVersion } from './kinds.js';
import { loadPolicy, PolicyLoadError } from './load.js';
import { formatLocation, POLICY_API_VERSION, defaultActions, policyActions, principalKinds } from './model.js';
import type { CelCompiler, PolicyAction, SourceLocation } from './model.js';
import { isRecord } from '../kube/object.js';
import { parseDocuments } from './yaml-source.js';
import type { PolicyProblem } from './yaml-source.js';
import type { RequestFacts } from './match.js';

const requestSchema = z
  .object({
    verb: z.string().min(1),
    /** API group; taken from `object.apiVersion` when left out, else "". */
    group: z.string().optional(),
    version: z.string().optional(),
    /** `pods`, or `pods/exec`; taken from `object.kind` when left out. */
    resource: z.string().optional(),
    namespace: z.string().optional(),
    name: z.string().default(''),
    query: z.string().default(''),
    /** A non-resource request (`/version`), instead of group/resource. */
    path: z.string().startsWith('/').optional(),
    object: z.unknown().optional(),
    oldObject: z.unknown().optional(),
  })
  .strict()
  .refine((r) => r.path !== undefined || r.resource !== undefined || isRecord(r.object), {
    message: 'give a resource (or an object with apiVersion and kind), or a path for a non-resource request',
  });

const principalSchema = z
  .object({
    subject: z.string().default('test:user'),
    groups: z.array(z.string()).default([]),
    kind: z.enum(principalKinds).default('human'),
    via: z.enum(['bootstrap-token', 'token', 'oidc']).default('token'),
  })
  .strict();

const roleSchema = z
  .looseObject({
    kind: z.enum(['Role', 'ClusterRole']),
    metadata: z.looseObject({ name: z.string().min(1), namespace: z.string().min(1).optional() }),
    rules: z.array(z.unknown()).optional(),
  })
  .refine((r) => (r.kind === 'Role') === (r.metadata.namespace !== undefined), { message: 'a Role needs metadata.namespace; a ClusterRole has none' });

const caseSchema = z
  .object({
    name: z.string().min(1),
    request: requestSchema,
    principal: principalSchema.default({ subject: 'test:user', groups: [], kind: 'human', via: 'token' }),
    expect: z
      .object({
        action: z.enum(policyActions),
        /** The deciding rule; null for "no rule matched, the default action applied". */
        rule: z.string().nullable().optional(),
      })
      .strict(),
  })
  .strict();

export const policyTestSchema = z
  .object({
    apiVersion: z.literal(POLICY_API_VERSION, { error: `must be ${POLICY_API_VERSION}` }),
    kind: z.literal('PolicyTest'),
    metadata: z.looseObject({ name: z.string().min(1) }),
    spec: z
      .object({
        /** Policy files and directories, relative to this file. */
        policies: z.array(z.string()).min(1),
        defaultAction: z.enum(defaultActions).default('deny'),
        /** Labels of the namespaces the cases use; others have none. */
        namespaces: z.record(z.string(), z.record(z.string(), z.string())).default({}),
        /** Roles and ClusterRoles in the cluster, for bindings the cases write (`boundRole`); others do not exist. */
        roles: z.array(roleSchema).default([]),
        cases: z.array(caseSchema).min(1),
      })
      .strict(),
  })
  .strict();
type PolicyTestCase = z.infer<typeof caseSchema>;
type RoleFixture = z.infer<typeof roleSchema>;

export interface CaseResult {
  readonly test: string;
  readonly case: string;
  readonly location: SourceLocation;
  readonly expected: { readonly action: PolicyAction; readonly rule?: string | null | undefined };
  readonly decision: Decision;
  readonly pass: boolean;
}

export interface TestRun {
  readonly results: readonly CaseResult[];
  /** Test files or policies that did not load; any makes the run fail. */
  readonly problems: readonly PolicyProblem[];
}

/**
 * Runs every PolicyTest document in a file, or in the YAML files under a
 * directory (recursively).
 *
 * @example
 * const run = runPolicyTests('policies/guardrails/tests', compileCel);
 * process.stdout.write(formatTestRun(run));
 * process.exitCode = testRunPassed(run) ? 0 : 1;
 */
export function runPolicyTests(path: string, compile: CelCompiler): TestRun {
  const problems: PolicyProblem[] = [];
  const results: CaseResult[] = [];
  const files = yamlFilesUnder(path, problems);
  let found = 0;
  for (const file of files) {
    const docs = parseDocuments(file, readFileSync(file, 'utf8'), policyTestSchema, problems, (js) => isRecord(js) && js.kind === 'PolicyTest');
    for (const { data, at } of docs) {
      found++;
      const paths = data.spec.policies.map((p) => resolve(dirname(file), p));
      let policy;
      try {
        policy = loadPolicy(paths, { compile, defaultAction: data.spec.defaultAction });
      } catch (err) {
        if (!(err instanceof PolicyLoadError)) throw err;
        problems.push({ ...at(['spec', 'policies']), message: `the policy under test does not load:\n    ${err.problems.map((p) => `${formatLocation(p)}: ${p.message}`).join('\n    ')}` });
        continue;
      }
      data.spec.cases.forEach((c, i) => {
        const labels = (ns: string) => data.spec.namespaces[ns] ?? {};
        let input;
        try {
          input = caseInput(c);
        } catch (err) {
          problems.push({ ...at(['spec', 'cases', i, 'request']), message: `spec.cases[${i}].request: ${(err as Error).message}` });
          return;
        }
        const boundRole = fixtureRole(data.spec.roles, requestFacts(input.request, input.principal, input.object), input.object);
        const decision = evaluatePolicy(policy, { ...input, namespaceLabels: labels(input.request.namespace), boundRole, requestId: `test-${i}` });
        const ruleOk = c.expect.rule === undefined || (c.expect.rule ?? undefined) === decision.rule;
        results.push({
          test: data.metadata.name,
          case: c.name,
          location: at(['spec', 'cases', i]),
          expected: c.expect,
          decision,
          pass: decision.action === c.expect.action && ruleOk,
        });
      });
    }
  }
  if (found === 0 && problems.length === 0) problems.push({ file: path, line: 1, col: 1, message: 'no PolicyTest documents found' });
  return { results, problems };
}

export function testRunPassed(run: TestRun): boolean {
  return run.problems.length === 0 && run.results.every((r) => r.pass);
}

function caseInput(c: PolicyTestCase): { request: ReturnType<typeof kubeRequestFor>; principal: Principal; object: unknown; oldObject: unknown } {
  const r = c.request;
  const principal: Principal = { ...c.principal, tokenId: undefined };
  if (r.path !== undefined) return { request: nonResourceRequestFor(r.verb, r.path), principal, object: undefined, oldObject: undefined };
  const object = isRecord(r.object) ? r.object : undefined;
  const [objGroup, objVersion] = splitApiVersion(typeof object?.apiVersion === 'string' ? object.apiVersion : 'v1');
  const kind = typeof object?.kind === 'string' ? object.kind : '';
  const metadata = isRecord(object?.metadata) ? object.metadata : {};
  const defaultNamespace = isClusterScopedKind(kind) ? '' : typeof metadata.namespace === 'string' ? metadata.namespace : 'default';
  const request = kubeRequestFor({
    verb: r.verb,
    group: r.group ?? objGroup,
    version: r.version ?? objVersion,
    resource: r.resource ?? resourceForKind(kind),
    namespace: r.namespace ?? defaultNamespace,
    name: r.name,
    query: r.query,
    object: r.object,
  });
  return { request, principal, object: r.object, oldObject: r.oldObject };
}

/** The `boundRole` of a binding case, from the file's roles (one not listed does not exist, as in the gateway). */
function fixtureRole(roles: readonly RoleFixture[], facts: RequestFacts, object: unknown): Record<string, unknown> | undefined {
  const ref = roleRefOf(facts, object);
  if (ref === undefined) return undefined;
  const role = roles.find((r) => r.kind === ref.kind && r.metadata.name === ref.name && (r.metadata.namespace ?? '') === ref.namespace);
  return boundRoleVariable(ref, role === undefined ? undefined : storedRole(role));
}

function yamlFilesUnder(path: string, problems: PolicyProblem[]): string[] {
  try {
    if (!statSync(path).isDirectory()) return [path];
  } catch (err) {
    problems.push({ file: path, line: 1, col: 1, message: `cannot read: ${(err as Error).message}` });
    return [];
  }
  const out: string[] = [];
  for (const entry of readdirSync(path, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = join(path, entry.name);
    if (entry.isDirectory()) out.push(...yamlFilesUnder(full, problems));
    else if (entry.isFile() && /\.ya?ml$/.test(entry.name)) out.push(full);
  }
  return out;
}

/** The pass/fail table, failures explained, and a summary line. */
export function formatTestRun(run: TestRun): string {
  const rows = run.results.map((r) => [
    r.pass ? 'PASS' : 'FAIL',
    r.test,
    r.case,
    expectation(r.expected.action, r.expected.rule),
    expectation(r.decision.action, r.decision.rule ?? null),
  ]);
  const out: string[] = [];
  if (rows.length > 0) out.push(table(['RESULT', 'TEST', 'CASE', 'EXPECTED', 'GOT'], rows), '');
  for (const r of run.results.filter((x) => !x.pass)) {
    out.push(`FAIL ${formatLocation(r.location)} "${r.case}": got ${expectation(r.decision.action, r.decision.rule ?? null)}: ${r.decision.message}`);
    for (const e of r.decision.errors) out.push(`  rule ${e.rule} could not be evaluated: ${e.error}`);
  }
  for (const p of run.problems) out.push(`ERROR ${formatLocation(p)}: ${p.message}`);
  const failed = run.results.filter((r) => !r.pass).length;
  out.push(`${run.results.length - failed} passed, ${failed} failed${run.problems.length > 0 ? `, ${run.problems.length} error${run.problems.length === 1 ? '' : 's'}` : ''}`);
  return `${out.join('\n')}\n`;
}

function expectation(action: string, rule: string | null | undefined): string {
  if (rule === undefined) return action;
  return rule === null ? `${action} (default)` : `${action} (${rule})`;
}
