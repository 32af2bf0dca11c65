/**
 * Differential test of the compiled code (src/policy/cel/codegen.ts)
 * against the CEL library: every expression of the shipped policies and a
 * set of tricky ones, over many generated objects (missing fields, wrong
 * types, nulls, empty lists, maps from objects with `constructor` keys),
 * must give the same value or the same error, at the same cost.
 */
import { describe, expect, it } from 'vitest';
import { celEnv, VARIABLES } from '../../../../src/policy/cel/env.js';
import { BAIL, compileCode } from '../../../../src/policy/cel/codegen.js';
import { usesCompiledCode } from '../../../../src/policy/cel/compile.js';
import { compileCel, lastEvaluationCost, prepareActivation, type CelActivation, type CelProgram } from '../../../../src/policy/cel/index.js';
import { instrument } from '../../../../src/policy/cel/instrument.js';
import { startMeter, stopMeter } from '../../../../src/policy/cel/meter.js';
import { baselineAllowFile, builtinGuardrailsDir } from '../../../../src/policy/config.js';
import { loadPolicy } from '../../../../src/policy/load.js';
import { fromCel, toPrincipal, toRequest } from '../../../../src/policy/cel/values.js';
import { prng } from '../../../helpers/prng.js';
import { principal, request } from './fixtures.js';

const shipped = loadPolicy([builtinGuardrailsDir(), baselineAllowFile()], { compile: compileCel, defaultAction: 'deny' }).rules.flatMap((r) =>
  [r.when, r.messageExpression].filter((p): p is CelProgram => p !== undefined).map((p) => p.source),
);

const tricky = [
  'object.a || true',
  'true || object.a',
  'object.a && false',
  'object.a || object.b',
  '!object.a',
  'object.a ? object.b : object.c',
  'object.a == 1',
  'object.a == 1.5',
  "object.a == 'x'",
  'object.a == null',
  'null != object.a',
  'object.a == object.b',
  'object.a != object.b',
  'object.a > 0',
  'object.a <= 1.5',
  'object.a < object.b',
  'object.a >= object.b',
  "object.a in ['x', 'y', '']",
  "'x' in object.a",
  'object.a in object.b',
  'object.a + object.b',
  'has(object.a)',
  'has(object.a.b)',
  'has(object.a.b.c)',
  'has(object.toString) || has(object.a.constructor)',
  'object.?toString.hasValue() || object.?a.?__proto__.hasValue()',
  'object.a.valueOf',
  "object.?a.?b.orValue('d')",
  'object.?a.orValue(object.b)',
  'object.?a.?b.?c.hasValue()',
  'object.?a.value()',
  'object.a.b.c == 1',
  'object.a[0]',
  "object.a['b']",
  'object.a[object.k]',
  'size(object.a)',
  'object.a.size() > 1',
  'object.a.all(x, x > 0)',
  'object.a.exists(x, x)',
  'object.a.all(x, x)',
  'object.a.exists_one(x, x)',
  'object.a.filter(x, x)',
  'object.a.map(x, x, x)',
  'object.a.b.c.d',
  "object.a.exists(x, x == 'x')",
  "object.a.exists_one(x, x == 'x')",
  'object.a.filter(x, x != null)',
  "object.a.map(x, x != '', x)",
  'object.a.map(x, x.b)',
  "object.a.exists(k, object.a[k] == 'x')",
  'object.a.exists(x, x.exists(y, y == 1))',
  'object.a.all(x, object.a.all(y, object.a.all(z, true)))',
  "object.a.contains('x')",
  "object.a.startsWith('x') || object.a.endsWith('y')",
  "object.a.matches('^[a-z]+$')",
  'object.a.matches(object.b)',
  "cel.bind(x, object.a, x == null ? 'none' : x)",
  'cel.bind(x, 1, cel.bind(x, object.a, x))',
  "{'a': object.a, 'b': 1}",
  '[object.a, object.b, 1]',
  'object.a.b.exists(x, x > 2) || object.c',
  "request.operation == 'CREATE' && principal.kind == 'agent'",
  "request.userInfo.groups.exists(g, g == 'x') || principal.groups.all(g, g.startsWith('a'))",
  'request.kind.kind + object.a',
  'oldObject == null',
  "namespaceObject.metadata.labels.env == 'production'",
  'boundRole != null && boundRole.rules.size() > 0',
  'object.exists(object, object == "a")',
  'object.a.k.exists(x, x in object.b)',
  // Integral doubles next to JSON ints (compiled code reads JSON numbers unconverted).
  '[2.0, object.a][0] == 2.0',
  'cel.bind(x, 2.0, [x, object.a][0] == x)',
  "{'d': 1.0, 'a': object.a}.d",
  'object.a == [1]',
  'object.a.exists(x, x == 1)',
  'object.a.filter(x, x == 8080).size() == 1',
  'object.a.b == 80 || object.a[0] == 80',
  'object.?a.?b.orValue(0) == 0',
  'object.?a.value() == 1',
  // Strings: `+` and split.
  "object.a + '/x'",
  "'x' + object.a == 'xx'",
  "object.a.split(':').size() > 1",
  "object.a.split('').exists(c, c == 'x')",
];

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

const STRINGS = [
  '', 'x', 'y', 'b', '*', 'ALL', 'latest', 'nginx', 'nginx:latest', 'nginx:1.27', 'reg:5000/app', 'a@sha256:1', 'Unconfined', 'RuntimeDefault',
  'Localhost', 'localhost/p', 'runtime/default', 'unconfined', 'windows', 'linux', 'container_t', 'spc_t', 'kubernetes.io/service-account-token',
  'cluster-admin', 'ClusterRole', 'Role', 'bind', 'escalate', 'get', 'NET_ADMIN', 'NET_BIND_SERVICE', 'CHOWN', 'Default', 'Unmasked', '😀', '(a',
  'container.apparmor.security.beta.kubernetes.io/app', 'net.ipv4.tcp_syncookies', 'kernel.msgmax', 'constructor',
];

/** Any JSON-like value, a wrong type anywhere. */
function junk(r: Rand, depth: number): unknown {
  const x = r();
  if (x < 0.1) return null;
  if (x < 0.2) return r() < 0.5;
  if (x < 0.3) return pick(r, [0, 1, -1, 2, 80, 8080, 1.5, 2 ** 53, -0.5]);
  if (x < 0.55 || depth > 3) return pick(r, STRINGS);
  if (x < 0.75) return list(r, () => junk(r, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(r() * 4); i > 0; i--) o[pick(r, ['a', 'b', 'c', 'k', 'x', pick(r, STRINGS)])] = junk(r, depth + 1);
  return o;
}

function list(r: Rand, item: () => unknown): unknown[] {
  return Array.from({ length: Math.floor(r() * 4) }, item);
}

/** `make()` mostly; sometimes missing (undefined), null or a value of another type. */
function maybe(r: Rand, make: () => unknown): unknown {
  const x = r();
  if (x < 0.2) return undefined;
  if (x < 0.27) return junk(r, 3);
  return make();
}

function obj(r: Rand, fields: Record<string, () => unknown>): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, make] of Object.entries(fields)) {
    const v = maybe(r, make);
    if (v !== undefined) o[k] = v;
  }
  if (r() < 0.03) Object.assign(o, { constructor: 'x' }); // becomes a Map
  return o;
}

function securityContext(r: Rand, pod: boolean): Record<string, unknown> {
  const s = (xs: readonly string[]) => () => pick(r, xs);
  const bool = () => r() < 0.5;
  return obj(r, {
    privileged: bool,
    allowPrivilegeEscalation: bool,
    runAsNonRoot: bool,
    runAsUser: s([0, 1000] as unknown as string[]),
    procMount: s(['Default', 'Unmasked']),
    capabilities: () => obj(r, { add: () => list(r, s(['NET_ADMIN', 'CHOWN', 'NET_BIND_SERVICE'])), drop: () => list(r, s(['ALL', 'KILL'])) }),
    seccompProfile: () => obj(r, { type: s(['RuntimeDefault', 'Localhost', 'Unconfined']) }),
    appArmorProfile: () => obj(r, { type: s(['RuntimeDefault', 'Localhost', 'Unconfined']) }),
    seLinuxOptions: () => obj(r, { type: s(['', 'container_t', 'spc_t']), user: s(['', 'u']), role: s(['', 'r']) }),
    windowsOptions: () => obj(r, { hostProcess: bool }),
    ...(pod ? { sysctls: () => list(r, () => obj(r, { name: s(['net.ipv4.tcp_syncookies', 'kernel.msgmax']), value: s(['1']) })) } : {}),
  });
}

function container(r: Rand): Record<string, unknown> {
  return obj(r, {
    name: () => pick(r, ['app', 'side']),
    image: () => pick(r, ['nginx', 'nginx:latest', 'nginx:1.27', 'reg:5000/app', 'a@sha256:1', 'ghcr.io/acme/x:1', '']),
    ports: () => list(r, () => obj(r, { containerPort: () => 8080, hostPort: () => pick(r, [0, 80, -1, 1.5]) })),
    env: () => list(r, () => obj(r, { name: () => 'E', value: () => 'v', valueFrom: () => obj(r, { secretKeyRef: () => ({ name: 's' }), fieldRef: () => ({}) }) })),
    envFrom: () => list(r, () => obj(r, { secretRef: () => ({ name: 's' }), configMapRef: () => ({ name: 'c' }) })),
    securityContext: () => securityContext(r, false),
  });
}

function volume(r: Rand): Record<string, unknown> {
  const kind = pick(r, ['hostPath', 'secret', 'configMap', 'projected', 'nfs', 'emptyDir']);
  const body = kind === 'projected' ? { sources: list(r, () => obj(r, { secret: () => ({}), serviceAccountToken: () => ({}) })) } : {};
  return { name: 'v', [kind]: r() < 0.9 ? body : null };
}

function rule(r: Rand): Record<string, unknown> {
  return obj(r, { verbs: () => list(r, () => pick(r, ['get', 'bind', 'escalate', '*'])), resources: () => list(r, () => pick(r, ['pods', '*'])) });
}

/** A Pod, RBAC object or Secret with every field the guardrails read, each maybe missing, null or of a wrong type. */
function object(r: Rand): unknown {
  if (r() < 0.05) return null;
  return obj(r, {
    metadata: () =>
      obj(r, {
        name: () => 'n',
        annotations: () =>
          Object.fromEntries(
            list(r, () => [pick(r, ['container.apparmor.security.beta.kubernetes.io/app', 'a', 'constructor']), pick(r, ['', 'runtime/default', 'localhost/p', 'unconfined'])]) as [string, string][],
          ),
      }),
    spec: () =>
      obj(r, {
        containers: () => list(r, () => container(r)),
        initContainers: () => list(r, () => container(r)),
        ephemeralContainers: () => list(r, () => container(r)),
        volumes: () => list(r, () => volume(r)),
        hostNetwork: () => r() < 0.5,
        hostPID: () => r() < 0.5,
        hostIPC: () => r() < 0.5,
        os: () => obj(r, { name: () => pick(r, ['linux', 'windows']) }),
        securityContext: () => securityContext(r, true),
      }),
    roleRef: () => obj(r, { kind: () => pick(r, ['ClusterRole', 'Role']), name: () => pick(r, ['cluster-admin', 'view']) }),
    rules: () => list(r, () => rule(r)),
    type: () => pick(r, ['Opaque', 'kubernetes.io/service-account-token']),
    a: () => junk(r, 0),
    b: () => junk(r, 0),
    c: () => junk(r, 0),
    k: () => pick(r, ['a', 'b', 'x', 0]),
  });
}

function activation(r: Rand): CelActivation {
  return {
    object: object(r),
    oldObject: r() < 0.5 ? null : object(r),
    request: { ...request, operation: pick(r, ['CREATE', 'DELETE']) },
    namespaceObject: r() < 0.3 ? null : { metadata: { labels: r() < 0.5 ? { env: 'production' } : {} } },
    principal: { ...principal, kind: pick(r, ['agent', 'human']), groups: list(r, () => pick(r, ['a1', 'x', 'b'])) },
    boundRole: r() < 0.3 ? null : { kind: 'ClusterRole', metadata: { name: 'r' }, rules: list(r, () => rule(r)) },
  };
}

function compilePair(source: string, costLimit?: number): [CelProgram, CelProgram] {
  const fast = compileCel(source, { costLimit });
  const slow = compileCel(source, { costLimit, interpretOnly: true });
  if (!fast.ok || !slow.ok) throw new Error(`${source}: ${fast.ok ? '' : fast.error}`);
  return [fast.program, slow.program];
}

function outcome(program: CelProgram, a: CelActivation): unknown {
  const r = program.evaluate(a);
  return { ...r, cost: lastEvaluationCost() };
}

const ACTIVATIONS = 400;
/** The comparisons run ~100 000 evaluations; a loaded machine needs more than the default 5 s. */
const SLOW = { timeout: 120_000 };
const sources = [...shipped, ...tricky];

describe('generated source', () => {
  const compileSource = (source: string): NonNullable<ReturnType<typeof compileCode>> => {
    const parsed = celEnv.parse(source);
    if (!parsed.check().valid) throw new Error(source);
    instrument(parsed.ast);
    const compiled = compileCode(parsed.ast, [...VARIABLES]);
    if (compiled === undefined) throw new Error(`not compiled: ${source}`);
    return compiled;
  };
  const run = (compiled: NonNullable<ReturnType<typeof compileCode>>, object: unknown): unknown => {
    const frame = new Array<unknown>(compiled.slots).fill(null);
    frame[VARIABLES.indexOf('object')] = object;
    startMeter(Number.POSITIVE_INFINITY);
    try {
      return compiled.run(frame);
    } finally {
      stopMeter();
    }
  };

  it('holds no string literal of the expression: they are constants the function is given', () => {
    const evil = '"); globalThis.gatehouseInjected = 1; ("';
    const compiled = compileSource(`object.a in ['${evil}', 'b'] && {'${evil}': 1}[object.a] == 1 && object.a == '${evil}'`);
    expect(compiled.source).not.toContain('gatehouseInjected');
    expect(run(compiled, { a: evil })).toBe(true);
    expect(run(compiled, { a: 'c' })).toBe(false);
    expect((globalThis as Record<string, unknown>).gatehouseInjected).toBeUndefined();
  });

  it('spells out field names that are identifiers and reads any other name as a constant', () => {
    const compiled = compileSource("object.spec.name == 'x' && has(object.spec.kind) && object.?spec.?zone.orValue('') == ''");
    expect(compiled.source).toContain('v.spec');
    expect(compiled.source).toContain('v.name');
    // The parser gives identifiers only; a name that is not one must still not reach the source.
    const parsed = celEnv.parse('object.a == 1');
    parsed.check();
    instrument(parsed.ast);
    const select = (parsed.ast as unknown as { args: [{ args: [unknown, string] }] }).args[0];
    const evil = 'a; globalThis.gatehouseInjected = 1; //';
    select.args[1] = evil;
    const odd = compileCode(parsed.ast, [...VARIABLES]);
    expect(odd?.source).not.toContain('gatehouseInjected');
    expect(run(odd!, { [evil]: 1n })).toBe(true);
    expect((globalThis as Record<string, unknown>).gatehouseInjected).toBeUndefined();
  });
});

describe('compiled code against the CEL library', () => {
  it('gives the library value or error for input the generator does not make: holes, undefined fields, big numbers, Maps, deep nesting, functions', () => {
    let deep: unknown = { b: 1 };
    for (let i = 0; i < 200; i++) deep = { a: deep };
    const odd: unknown[] = [
      { a: [1, undefined, 2], b: { k: undefined, x: 1 } },
      { a: { x: undefined }, b: [undefined] },
      { a: { b: 80, c: undefined }, c: [80, 1.5, 2 ** 53, 2 ** 70] },
      { a: new Map([['b', 1]]), k: 'b' },
      Object.assign(Object.create(null) as Record<string, unknown>, { a: [1], b: { x: 1 } }),
      { a: 3, b: 3, c: 0.5, k: 'a' },
      deep,
      { a: { b: () => 1 }, b: 1 },
      { a: [() => 1], b: 'x' },
    ];
    for (const source of sources) {
      const [fast, slow] = compilePair(source);
      for (const object of odd) {
        const a = { ...activation(prng(5)), object };
        expect(outcome(fast, prepareActivation(a)), source).toEqual(outcome(slow, prepareActivation(a)));
      }
    }
  });

  it('compiles every shipped `when` (so the comparison below is about them)', () => {
    const notCompiled = shipped.filter((s) => !usesCompiledCode(compilePair(s)[0]));
    // messageExpressions using join/distinct/flatten/split, and the registry allow-list, run on the library.
    expect(notCompiled.every((s) => /\.(split|join|flatten|distinct)\(/.test(s)), notCompiled.join('\n---\n')).toBe(true);
    expect(shipped.length - notCompiled.length).toBeGreaterThanOrEqual(25);
  });

  it('gives the same value or error, at the same cost, for every expression over generated objects', SLOW, () => {
    const r = prng(1);
    const activations = Array.from({ length: ACTIVATIONS }, () => activation(r));
    for (const source of sources) {
      const [fast, slow] = compilePair(source);
      for (const a of activations) {
        // Separate prepared activations: nothing shared between the two runs.
        expect(outcome(fast, prepareActivation(a)), `${source}\n${JSON.stringify(a.object)}`).toEqual(outcome(slow, prepareActivation(a)));
      }
    }
  });

  it('gives the same results when all rules of a request share one activation (shared subexpressions)', SLOW, () => {
    const r = prng(2);
    const pairs = shipped.map((s) => compilePair(s));
    for (let i = 0; i < ACTIVATIONS; i++) {
      const a = activation(r);
      const fast = prepareActivation(a);
      const slow = prepareActivation(a);
      for (const [f, s] of pairs) expect(outcome(f, fast), f.source).toEqual(outcome(s, slow));
    }
  });

  it('stops at the same cost limit', SLOW, () => {
    const r = prng(3);
    const activations = Array.from({ length: 60 }, () => activation(r));
    for (const source of sources) {
      for (const limit of [1, 5, 20, 60, 200]) {
        const [fast, slow] = compilePair(source, limit);
        for (const a of activations) expect(outcome(fast, prepareActivation(a)), `${source} (limit ${limit})`).toEqual(outcome(slow, prepareActivation(a)));
      }
    }
  });

  it('answers most evaluations itself: whenever it gives a value, it is the library value', SLOW, () => {
    const r = prng(4);
    const activations = Array.from({ length: ACTIVATIONS }, () => activation(r));
    let answered = 0;
    let total = 0;
    for (const source of shipped) {
      const parsed = celEnv.parse(source);
      if (!parsed.check().valid) throw new Error(source);
      instrument(parsed.ast);
      const names = VARIABLES.filter((v) => source.includes(v));
      const compiled = compileCode(parsed.ast, names);
      if (compiled === undefined) continue;
      const [, slow] = compilePair(source);
      for (const a of activations) {
        // As programs give them: the JSON variables unconverted.
        const frame: unknown[] = names.map((n) => (n === 'request' ? toRequest(a.request) : n === 'principal' ? toPrincipal(a.principal) : (a[n] ?? null)));
        startMeter(Number.POSITIVE_INFINITY);
        let v: unknown;
        try {
          v = compiled.run(frame);
        } catch (err) {
          v = err === BAIL ? BAIL : err;
        } finally {
          stopMeter();
        }
        total++;
        if (v === BAIL) continue;
        answered++;
        expect({ ok: true, value: fromCel(v) }, source).toEqual(slow.evaluate(a));
      }
    }
    // Generated objects are mostly malformed; well-formed ones never reach the library (engine tests).
    expect(answered / total).toBeGreaterThan(0.5);
  });
});
