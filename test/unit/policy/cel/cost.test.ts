import { describe, expect, test } from 'vitest';
import { compileCel, DEFAULT_COST_LIMIT, lastEvaluationCost, type CelActivation } from '../../../../src/policy/cel/index.js';
import { usesCompiledCode } from '../../../../src/policy/cel/compile.js';
import { compile, create, run } from './fixtures.js';

const items = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const withObject = (object: unknown): CelActivation => ({ ...create, object });
const literal = (n: number): string => `[${items(n).join(', ')}]`;

/** Evaluates and returns the result with the wall time it took. */
function timed(source: string, activation: CelActivation, costLimit?: number): { result: ReturnType<typeof run>; ms: number } {
  const program = compile(source, costLimit);
  const t = performance.now();
  const result = program.evaluate(activation);
  return { result, ms: performance.now() - t };
}

// Unbounded, these would take minutes to hours; bounded they stop within
// milliseconds. 1 s keeps the test meaningful on a loaded CI machine.
const FAST_MS = 1000;
const OVER = { ok: false, error: `cost limit exceeded (limit ${DEFAULT_COST_LIMIT})` };

describe('runtime cost bound', () => {
  test.each([
    ['nested comprehensions over literals (2.7 × 10^7 steps)', `${literal(300)}.all(x, ${literal(300)}.all(y, ${literal(300)}.all(z, x + y + z >= 0)))`],
    ['nested comprehensions over input lists (10^9 steps)', 'object.items.all(x, object.items.all(y, object.items.all(z, x + y + z >= 0)))'],
    ['exists over a product (10^6 steps)', 'object.items.exists(x, object.items.exists(y, x * y == -1))'],
    ['map building big lists', 'object.items.map(x, object.items + object.items).size() > 0'],
    ['string doubling', 'cel.bind(a, object.s + object.s, cel.bind(b, a + a, cel.bind(c, b + b, cel.bind(d, c + c, cel.bind(e, d + d, e + e + e + e + e + e + e + e))))).size() > 0'],
    ['deep equality in a loop', 'object.items.map(x, object).all(o, o == object)'],
    ['membership in a loop', 'object.items.all(x, x in object.items)'],
    ['a filter of a map of a filter', 'object.items.filter(x, true).map(x, object.items.filter(y, y > x)).size() > 0'],
  ])('%s stops with a cost error', (_name, source) => {
    const { result, ms } = timed(source, withObject({ items: items(1000), s: 'x'.repeat(10_000) }));
    expect(result).toEqual(OVER);
    expect(ms).toBeLessThan(FAST_MS);
  });

  test('a small outer × large inner literal finishes with the right answer', () => {
    const { result, ms } = timed(`${literal(5)}.all(x, ${literal(1000)}.all(y, x + y < 1003))`, create);
    expect(result).toEqual({ ok: true, value: false });
    expect(ms).toBeLessThan(FAST_MS);
    const ok = timed(`${literal(5)}.all(x, ${literal(1000)}.all(y, x + y < 1004))`, create);
    expect(ok.result).toEqual({ ok: true, value: true });
    // Twice as many outer items is twice the work: over the default budget.
    expect(timed(`${literal(10)}.all(x, ${literal(1000)}.all(y, x + y < 1010))`, create).result).toEqual(OVER);
  });

  test('an error absorbed by exists/|| still fails closed once over budget', () => {
    // Without the bound CEL would return true (error || true == true).
    const { result } = timed('object.items.exists(x, object.items.exists(y, x + y < 0)) || true', withObject({ items: items(1000) }));
    expect(result).toEqual(OVER);
  });

  test('a realistic nested expression fits the default budget', () => {
    const pod = { spec: { containers: items(20).map((i) => ({ name: `c${i}`, env: items(20).map((j) => ({ name: `E${j}`, value: 'v' })) })) } };
    const r = run("object.spec.containers.all(c, c.env.all(e, e.name.startsWith('E') && !has(e.valueFrom)))", withObject(pod));
    expect(r).toEqual({ ok: true, value: true });
    expect(lastEvaluationCost()).toBeGreaterThan(400); // 20 × 20 items were charged
    expect(lastEvaluationCost()).toBeLessThan(DEFAULT_COST_LIMIT / 10);
  });

  test('costLimit is per program', () => {
    const source = 'object.items.all(x, object.items.all(y, x + y >= 0))';
    const act = withObject({ items: items(30) });
    expect(compile(source).evaluate(act)).toEqual({ ok: true, value: true });
    expect(compile(source, 500).evaluate(act)).toEqual({ ok: false, error: 'cost limit exceeded (limit 500)' });
  });

  test('cost grows with the input, not with the number of evaluations', () => {
    const p = compile('object.items.exists(x, x < 0)');
    p.evaluate(withObject({ items: items(10) }));
    const small = lastEvaluationCost();
    p.evaluate(withObject({ items: items(100) }));
    const large = lastEvaluationCost();
    p.evaluate(withObject({ items: items(10) }));
    expect(lastEvaluationCost()).toBe(small);
    expect(large).toBeGreaterThan(small * 9);
  });

  test('long strings are charged by length', () => {
    const p = compile("object.s.contains('needle')");
    p.evaluate(withObject({ s: 'x' }));
    const short = lastEvaluationCost();
    p.evaluate(withObject({ s: 'x'.repeat(160_000) }));
    expect(lastEvaluationCost()).toBeGreaterThanOrEqual(short + 10_000);
    expect(compile("object.s.contains('needle')", 5000).evaluate(withObject({ s: 'x'.repeat(160_000) }))).toEqual({ ok: false, error: 'cost limit exceeded (limit 5000)' });
  });

  test('join refuses to build a huge string', () => {
    const { result, ms } = timed("object.items.map(x, object.s).join('').size()", withObject({ items: items(1000), s: 'y'.repeat(10_000) }), 10_000_000);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(/join result longer than/);
    expect(ms).toBeLessThan(FAST_MS);
  });

  test('replace refuses to build a huge string', () => {
    const r = run("object.s.replace('a', object.s)", withObject({ s: 'a'.repeat(5000) }), 100_000_000);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/string result longer than/);
  });

  test('the meter is reset between evaluations', () => {
    const heavy = compile('object.items.all(x, object.items.all(y, x + y >= 0))', 1000);
    const light = compile("object.kind == 'Pod'", 1000);
    expect(heavy.evaluate(withObject({ items: items(1000), kind: 'Pod' })).ok).toBe(false);
    expect(light.evaluate(withObject({ items: items(1000), kind: 'Pod' }))).toEqual({ ok: true, value: true });
  });

  test('deeply nested input is an error, not a stack overflow', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 10_000; i++) deep = { a: deep };
    const r = run('object.a.a.a == 1', withObject(deep));
    expect(r).toEqual({ ok: false, error: 'invalid activation: input nested deeper than 100 levels' });
  });

  test('compiled code fails closed on input the conversion refuses, also in parts it does not read', () => {
    let deep: unknown = { b: 1 };
    for (let i = 0; i < 200; i++) deep = { a: deep };
    const program = compileCel('has(object.a.a.a)');
    if (!program.ok) throw new Error(program.error);
    expect(usesCompiledCode(program.program)).toBe(true);
    expect(program.program.evaluate(withObject(deep))).toEqual({ ok: false, error: 'invalid activation: input nested deeper than 100 levels' });
    const odd = withObject({ a: { b: () => 1 }, c: [Symbol('s')], d: 1 });
    expect(run('object.d == 1', odd)).toEqual({ ok: false, error: 'invalid activation: unsupported input value of type function' });
    expect(run('object.d == 1', withObject({ c: [Symbol('s')], d: 1 }))).toEqual({ ok: false, error: 'invalid activation: unsupported input value of type symbol' });
    expect(run('object.d == 1', withObject({ m: new Map<unknown, unknown>([[1, 'x']]), d: 1 }))).toEqual({ ok: false, error: 'invalid activation: map input keys must be strings' });
    // At the limit it is read.
    let fine: unknown = { b: 1 };
    for (let i = 0; i < 98; i++) fine = { a: fine };
    expect(run('has(object.a.a.a)', withObject(fine))).toEqual({ ok: true, value: true });
  });
});
