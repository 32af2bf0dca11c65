import type { IncomingMessage } from 'node:http';
import type { KubeRequest } from '../../../src/classify/kube-request.js';
import type { Principal } from '../../../src/identity/principal.js';
import { classifyRequest } from '../../../src/kube/request-info.js';
import { compilePolicy } from '../../../src/policy/load.js';
import type { CelActivation, CelCompiler, CompiledPolicy, PolicyAction } from '../../../src/policy/model.js';
import type { RequestContext } from '../../../src/pipeline/context.js';

/**
 * A stand-in for the CEL compiler: knows a few expressions by their exact
 * source and runs a JavaScript function for each. Sources starting with
 * `syntax error` fail to compile; a function that throws is an evaluation error.
 */
export function fixtureCompiler(table: Record<string, (a: CelActivation) => unknown>): CelCompiler {
  return (source) => {
    if (source.startsWith('syntax error')) return { ok: false, error: 'Syntax error: mismatched input' };
    const fn = table[source];
    if (fn === undefined) return { ok: false, error: `the fixture compiler does not know ${source}` };
    return {
      ok: true,
      program: {
        source,
        resultType: 'dyn',
        costLimit: 0,
        evaluate(a) {
          try {
            return { ok: true, value: fn(a) };
          } catch (err) {
            return { ok: false, error: (err as Error).message };
          }
        },
      },
    };
  };
}

/** Expressions the unit tests use. */
export const expressions: Record<string, (a: CelActivation) => unknown> = {
  'object.privileged': (a) => (a.object as { spec: { privileged: boolean } }).spec.privileged,
  'object.spec.containers.exists(c, c.securityContext.privileged)': (a) =>
    (a.object as { spec: { containers: { securityContext?: { privileged?: boolean } }[] } }).spec.containers.some(
      (c) => c.securityContext?.privileged === true,
    ),
  'true': () => true,
  'false': () => false,
  '"not a boolean"': () => 'not a boolean',
  'object.missing.field': (a) => {
    const o = a.object as Record<string, Record<string, unknown> | undefined> | null;
    if (o === null || o.missing === undefined) throw new Error("no such key: 'missing'");
    return o.missing.field;
  },
  "'pod ' + object.metadata.name + ' is privileged'": (a) => `pod ${(a.object as { metadata: { name: string } }).metadata.name} is privileged`,
  'oldObject.spec.replicas > 1': (a) => (a.oldObject as { spec: { replicas: number } }).spec.replicas > 1,
  'boundRole != null': (a) => a.boundRole !== null && a.boundRole !== undefined,
  'namespaceObject.metadata.labels.tier == "prod"': (a) => (a.namespaceObject as { metadata: { labels: Record<string, string> } }).metadata.labels.tier === 'prod',
};

export const compile = fixtureCompiler(expressions);

export function policyOf(yaml: string, defaultAction: PolicyAction = 'deny', file = 'test.yaml'): CompiledPolicy {
  return compilePolicy([{ file, text: yaml }], { compile, defaultAction });
}

/** A Policy document with the given rules (YAML list items, indented by the caller's template). */
export function policyYaml(rules: string, extraSpec = ''): string {
  return `apiVersion: gatehouse.dev/v1alpha1
kind: Policy
metadata: { name: test }
spec:
${extraSpec}  rules:
${rules}`;
}

/** A classified request, as the classify stage would produce it. */
export function kubeRequest(method: string, url: string, object?: unknown): KubeRequest {
  const result = classifyRequest(method, url);
  if (!result.ok) throw new Error(result.reason);
  const q = url.indexOf('?');
  return { ...result.info, query: q < 0 ? '' : url.slice(q + 1), contentType: object === undefined ? undefined : 'application/json', object };
}

export function principal(overrides: Partial<Principal> = {}): Principal {
  return { subject: 'oidc:alice@example.com', groups: ['dev'], kind: 'human', via: 'oidc', tokenId: undefined, ...overrides };
}

export function pod(name: string, privileged = false): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: { containers: [{ name: 'c', image: 'nginx', securityContext: { privileged } }] },
  };
}

/**
 * The pipeline context the policy stage sees for `method url`, as classify
 * leaves it: the request, the principal and the body (`object` encoded, or `body` as given).
 */
export function stageContext(method: string, url: string, object?: unknown, options: { body?: Buffer; principal?: Principal } = {}): RequestContext {
  return {
    id: 'req-1',
    req: {} as IncomingMessage,
    upgrade: false,
    arrivedMicros: 0,
    startedAt: 0n,
    principal: options.principal ?? principal(),
    request: kubeRequest(method, url, object),
    body: options.body ?? (object === undefined ? undefined : Buffer.from(JSON.stringify(object))),
    timings: {},
  };
}
