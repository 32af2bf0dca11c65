import { describe, expect, test } from 'vitest';
import { compileCel, DEFAULT_COST_LIMIT, MAX_SOURCE_LENGTH } from '../../../../src/policy/cel/index.js';

/** [expression, line, column, message pattern] */
const ERRORS: [string, number, number, RegExp][] = [
  ['object.spec.(', 1, 13, /Expected IDENTIFIER/],
  ['object.metadata.name ==', 1, 24, /Unexpected token: EOF/],
  ["'unterminated", 1, 1, /[Uu]nterminated|string/],
  ['foo.bar', 1, 1, /Unknown variable: foo/],
  ['object.a +\n  object.b + nope', 2, 14, /Unknown variable: nope/],
  ['object.x.frobnicate()', 1, 1, /no matching overload for 'dyn\.frobnicate\(\)'|frobnicate/],
  ['nosuchfn(1)', 1, 1, /nosuchfn/],
  ['request.operaton', 1, 9, /No such key: operaton/],
  ['principal.email', 1, 11, /No such key: email/],
  ["request.operation == 1", 1, 1, /no such overload: string == int/],
  ['request.userInfo.groups + 1', 1, 1, /no such overload/],
  ['object.spec.containers.size() == "2"', 1, 1, /no such overload: int == string/],
  ['request.dryRun && "yes"', 1, 1, /bool/],
  ['object.x.matches("(a")', 1, 18, /invalid regex "\(a": .*missing closing \)/],
  ["object.x.find('[z-a]')", 1, 15, /invalid regex/],
  ["matches(object.x, '(?<=a)b')", 1, 19, /invalid regex/],
  ["quantity('12Q')", 1, 10, /invalid quantity "12Q": unknown suffix "Q"/],
  ["quantity('')", 1, 10, /invalid quantity "": empty/],
  ["url('no scheme')", 1, 5, /invalid URL/],
  ['__gatehouse_probe(true)', 1, 1, /Unknown function/],
  // The CEL library's has() only takes a select chain from a variable (no indexing).
  ['has(object.spec.volumes[1].hostPath)', 1, 5, /has\(\) invalid argument/],
];

describe('compile errors carry line and column', () => {
  test.each(ERRORS)('%s', (source, line, column, message) => {
    const r = compileCel(source);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toMatch(message);
    expect(r.position).toMatchObject({ line, column });
    expect(r.error.startsWith(`${line}:${column}: `)).toBe(true);
    // The message quotes the offending line with a caret under the column.
    const lines = r.error.split('\n');
    expect(lines[1]).toBe(` | ${source.split('\n')[line - 1]}`);
    expect(lines[2]).toBe(` | ${' '.repeat(column - 1)}^`);
  });
});

describe('compile', () => {
  test('infers the result type', () => {
    const cases: [string, string][] = [
      ['object.metadata.name == "x"', 'bool'],
      ['request.name + "/" + request.namespace', 'string'],
      ['object.metadata.name', 'dyn'],
      ['size(request.userInfo.groups)', 'int'],
    ];
    for (const [source, type] of cases) {
      const r = compileCel(source);
      expect(r.ok && r.program.resultType).toBe(type);
    }
  });

  test('keeps the source and the cost limit', () => {
    const r = compileCel('true', { costLimit: 42 });
    expect(r.ok && r.program.source).toBe('true');
    expect(r.ok && r.program.costLimit).toBe(42);
    const d = compileCel('true');
    expect(d.ok && d.program.costLimit).toBe(DEFAULT_COST_LIMIT);
  });

  test.each([
    ['', /empty/],
    ['   ', /empty/],
    ['x'.repeat(MAX_SOURCE_LENGTH + 1), /longer than 10000/],
  ])('rejects bad source %#', (source, message) => {
    const r = compileCel(source);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(message);
  });

  test('rejects a non-string source without throwing', () => {
    const r = compileCel(42 as unknown as string);
    expect(r).toEqual({ ok: false, error: 'expression must be a string' });
  });

  test.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('rejects costLimit %s', (costLimit) => {
    const r = compileCel('true', { costLimit });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/costLimit must be a positive integer/);
  });

  test('a valid literal regex, quantity and URL compile', () => {
    for (const source of ["object.x.matches('^[a-z]+$')", "quantity('1.5Gi').asInteger() > 0", "url('https://a.b/c').getHost() == 'a.b'"]) {
      expect(compileCel(source).ok).toBe(true);
    }
  });

  test('deep nesting is rejected, not a stack overflow', () => {
    const r = compileCel(`${'('.repeat(500)}1${')'.repeat(500)}`);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/depth|nest/i);
  });
});
