import { describe, expect, test } from 'vitest';
import { lastEvaluationCost, prepareActivation } from '../../../../src/policy/cel/index.js';
import type { CelProgram } from '../../../../src/policy/cel/index.js';
import { compile, create, pod } from './fixtures.js';

// What the engine does per request: every rule evaluated on one prepared activation.
const allContainers =
  '((has(object.spec.containers) ? object.spec.containers : []) + (has(object.spec.initContainers) ? object.spec.initContainers : []) + ' +
  '(has(object.spec.ephemeralContainers) ? object.spec.ephemeralContainers : []))';
const rules = [
  `${allContainers}.exists(c, c.?securityContext.?privileged.orValue(false))`,
  `${allContainers}.map(c, c.name)`,
  `${allContainers}.exists(c, c.?securityContext.?capabilities.?add.orValue([]).exists(a, !(a in ['CHOWN', 'KILL'])))`,
  `size(${allContainers}) + size(${allContainers})`,
];

function costs(programs: CelProgram[], activation: Parameters<CelProgram['evaluate']>[0]): { value: unknown; cost: number }[] {
  return programs.map((p) => {
    const r = p.evaluate(activation);
    if (!r.ok) throw new Error(r.error);
    return { value: r.value, cost: lastEvaluationCost() };
  });
}

describe('subexpressions shared between the rules of a request', () => {
  test('give every rule the value and the cost it has alone', () => {
    const programs = rules.map((s) => compile(s));
    // Alone: each rule on its own prepared activation, so nothing is shared.
    const alone = programs.map((p) => costs([p], prepareActivation(create))[0]);
    const request = prepareActivation(create);
    const together = costs(programs, request);
    expect(together).toEqual(alone);
    // The container list was worked out once and shared: by the compiled code (three rules) and by the library (the map).
    // Keys are syntax trees as JSON; the list's is a `+` node.
    const containerLists = (table: Map<string, unknown>): number => [...table.keys()].filter((k) => k.startsWith('{"op":"+"') && k.includes('"ephemeralContainers"')).length;
    expect(containerLists(request.sharedUnconverted)).toBe(1);
    expect(containerLists(request.shared)).toBe(1);
    expect(together.map((t) => t.value)).toEqual([true, ['app', 'sidecar', 'init', 'debug'], true, 8n]);
  });

  test('share one subexpression however each rule spells it (spaces, line breaks, parentheses), not two different ones', () => {
    const respelled = allContainers.replaceAll(' + ', ' +\n    ').replaceAll('? object', '?(object').replaceAll(' : []', ') : ([])');
    expect(respelled).not.toBe(allContainers);
    const request = prepareActivation(create);
    const programs = [compile(`size(${allContainers}) == 4`), compile(`size(${respelled}) == 4`), compile(`size(${allContainers.replace('initContainers : []', 'containers : []')}) == 4`)];
    expect(costs(programs, request).map((r) => r.value)).toEqual([true, true, false]);
    // What is kept is `size(…)`: the first two are one expression, one kept value; the third reads other fields, a second.
    expect([...request.sharedUnconverted.keys()].filter((k) => k.includes('"ephemeralContainers"'))).toHaveLength(2);
  });

  test('fail the same expressions on the cost limit', () => {
    const first = compile(`size(${allContainers}) > 0`);
    const cost = costs([first], prepareActivation(create))[0]!.cost;
    const tight = compile(`size(${allContainers}) >= 0`, cost - 1);
    const shared = prepareActivation(create);
    expect(first.evaluate(shared)).toEqual({ ok: true, value: true });
    expect(tight.evaluate(shared)).toEqual({ ok: false, error: `cost limit exceeded (limit ${cost - 1})` });
  });

  test('keep nothing across requests, nor where an expression binds its own `object`', () => {
    const p = compile(`${allContainers}.exists(c, c.name == 'sidecar')`);
    expect(p.evaluate(prepareActivation(create))).toEqual({ ok: true, value: true });
    const renamed = { ...pod, spec: { ...pod.spec, containers: [{ name: 'other', image: 'x:1' }] } };
    expect(p.evaluate(prepareActivation({ ...create, object: renamed }))).toEqual({ ok: true, value: false });

    const shadowing = compile(`[1, 2].exists(object, object > 1) && size(${allContainers}) == 4`);
    expect(shadowing.evaluate(prepareActivation(create))).toEqual({ ok: true, value: true });
  });
});

describe('operator fast paths give what the library gives', () => {
  const object = { s: 'x', t: 'y', n: [1, 'x'], l: ['a', 'x'], i: 1, d: 1.5, b: true, m: { k: 'v' }, e: [] };
  test.each([
    ["object.s == 'x'", true],
    ['object.s != object.t', true],
    ['object.s == object.i', false],
    ['object.i == 1', true],
    ['object.i == 1.0', true],
    ['object.d == 1.5', true],
    ['object.b == true', true],
    ['object.s in object.l', true],
    ["'z' in object.l", false],
    ['object.s in object.n', true],
    ["'k' in object.m", true],
    ['object.l + object.n', ['a', 'x', 1n, 'x']],
    ['object.e + object.l', ['a', 'x']],
    ["object.?m.?k.orValue('none')", 'v'],
    ["object.?missing.?k.orValue('none')", 'none'],
    ["object.?s.?k.orValue('none')", 'none'],
    ["object.m.?k.hasValue()", true],
  ])('%s', (source, expected) => {
    expect(compile(source).evaluate({ ...create, object })).toEqual({ ok: true, value: expected });
  });
});
