import { describe, expect, test } from 'vitest';
import { compileCel, prepareActivation, type CelActivation } from '../../../../src/policy/cel/index.js';
import { fromCel, toCel, toPrincipal, toRequest } from '../../../../src/policy/cel/values.js';
import { compile, create, pod, run } from './fixtures.js';

const withObject = (object: unknown): CelActivation => ({ ...create, object });

describe('input conversion', () => {
  test('JSON integers become int (bigint), other numbers stay double', () => {
    expect(toCel({ a: 3, b: 0.5, c: -0, d: 2 ** 63, e: [1, 1.5] })).toEqual({ a: 3n, b: 0.5, c: 0n, d: 2 ** 63, e: [1n, 1.5] });
    expect(run('object.a + 1', withObject({ a: 3 }))).toEqual({ ok: true, value: 4n });
    expect(run('object.b + 1.0', withObject({ b: 0.5 }))).toEqual({ ok: true, value: 1.5 });
    expect(run('type(object.a) == int && type(object.b) == double', withObject({ a: 3, b: 0.5 }))).toEqual({ ok: true, value: true });
  });

  test('subtrees with nothing to convert are shared, others copied', () => {
    const src = { metadata: { labels: { a: 'b' } }, spec: { ports: [{ port: 80 }], names: ['x'] } };
    const out = toCel(src) as typeof src;
    expect(out).not.toBe(src);
    expect(out.metadata).toBe(src.metadata);
    expect(out.spec.names).toBe(src.spec.names);
    expect(out.spec.ports).not.toBe(src.spec.ports);
    expect(out.spec.ports[0]?.port).toBe(80n);
  });

  test('the input is not mutated', () => {
    const before = structuredClone(pod);
    run("object.spec.containers.map(c, c.name).join(',')");
    run('object.spec.containers[0].ports[0].containerPort + 1');
    expect(pod).toEqual(before);
  });

  test('a prepared activation converts each variable once, for every expression evaluated on it', () => {
    const a = prepareActivation({ ...create, object: { n: 1 } });
    expect(a.value('object')).toEqual({ n: 1n });
    expect(a.value('object')).toBe(a.value('object'));
    expect(a.value('request')).toBe(a.value('request'));
    expect(a.value('request')).toEqual(toRequest(create.request));
    expect(a.value('principal')).toEqual(toPrincipal(create.principal));
    expect(prepareActivation(a)).toBe(a);
    // Its plain fields are what it was made from, so it is an activation like any other.
    expect({ ...a }).toEqual({ ...create, object: { n: 1 }, boundRole: undefined });
  });

  test('__proto__ and constructor keys are ordinary keys', () => {
    const body = JSON.parse('{"__proto__": {"x": 1}, "constructor": "c", "spec": {"constructor": {"y": 2}}}') as unknown;
    expect(run("object['__proto__'].x", withObject(body))).toEqual({ ok: true, value: 1n });
    expect(run('object.constructor', withObject(body))).toEqual({ ok: true, value: 'c' });
    expect(run('object.spec.constructor.y', withObject(body))).toEqual({ ok: true, value: 2n });
    expect(run("has(object.spec.constructor) && 'constructor' in object.spec", withObject(body))).toEqual({ ok: true, value: true });
    expect(run('object.toString', withObject({}))).toEqual({ ok: false, error: '1:8: No such key: toString' });
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  test('missing and odd activations never throw', () => {
    const p = compile('object == null && oldObject == null && request.operation == "" && principal.subject == ""');
    expect(p.evaluate({ object: undefined, oldObject: undefined, request: undefined, namespaceObject: undefined, principal: undefined })).toEqual({ ok: true, value: true });
    expect(p.evaluate(null as unknown as CelActivation)).toEqual({ ok: true, value: true });
    expect(p.evaluate({} as CelActivation)).toEqual({ ok: true, value: true });
    const bad = compile('object.f').evaluate(withObject({ f: () => 1 }));
    expect(bad).toEqual({ ok: false, error: 'invalid activation: unsupported input value of type function' });
  });

  test('request fields default to zero values; requestKind defaults to kind', () => {
    const r = toRequest({ operation: 'CREATE', kind: { group: 'apps', version: 'v1', kind: 'Deployment' } });
    expect(r.requestKind).toEqual({ group: 'apps', version: 'v1', kind: 'Deployment' });
    expect(r.subResource).toBe('');
    expect(r.dryRun).toBe(false);
    expect(r.userInfo.groups).toEqual([]);
    expect(run('request.userInfo.groups.size() == 0 && request.name == ""', { ...create, request: {} })).toEqual({ ok: true, value: true });
  });
});

describe('results are plain JS', () => {
  test.each([
    ['true', true],
    ['"s"', 's'],
    ['1', 1n],
    ['1.5', 1.5],
    ['null', null],
    ['[1, "a"]', [1n, 'a']],
    ['{"k": [1u]}', { k: [1n] }],
    ['object.?metadata.?labels.?nope', null],
    ['object.?metadata.?labels.?app', 'web'],
    ["quantity('1Gi')", '1Gi'],
    ["url('https://a.b/c')", 'https://a.b/c'],
    ['request.kind', { group: '', version: 'v1', kind: 'Pod' }],
    ['b"ab"', new Uint8Array([97, 98])],
  ])('%s', (source, expected) => {
    expect(run(source)).toEqual({ ok: true, value: expected });
  });

  test('fromCel keeps a __proto__ key as data', () => {
    const m = new Map<string, unknown>([['__proto__', 1n]]);
    const out = fromCel(m) as Record<string, unknown>;
    expect(Object.keys(out)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
  });

  test('compileCel and evaluate never throw on garbage', () => {
    for (const source of ['', '(', ')', '[[[', '"', '1 +', '.', 'a.b.c.d(', '\u0000', '🙂']) {
      expect(() => compileCel(source)).not.toThrow();
    }
  });
});
