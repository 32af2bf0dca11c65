import { describe, expect, test } from 'vitest';
import type { CelActivation } from '../../../../src/policy/cel/index.js';
import { compileRegex, MAX_REGEX_INPUT_LENGTH } from '../../../../src/policy/cel/regex.js';
import { compile, create, run } from './fixtures.js';

const withS = (s: string): CelActivation => ({ ...create, object: { s } });
const FAST_MS = 1000;

describe('RE2 semantics', () => {
  // Each of these takes exponential time with a backtracking engine (JS RegExp).
  test.each([
    ['(a+)+$', `${'a'.repeat(100_000)}!`],
    ['^(a|aa)+$', `${'a'.repeat(100_000)}!`],
    ['(x+x+)+y', 'x'.repeat(100_000)],
    ['^(\\w+\\s?)*$', `${'word '.repeat(20_000)}!`],
  ])('%s on a long non-matching input is linear', (pattern, input) => {
    const p = compile(`object.s.matches(${JSON.stringify(pattern)})`);
    const t = performance.now();
    const r = p.evaluate(withS(input));
    expect(r).toEqual({ ok: true, value: false });
    expect(performance.now() - t).toBeLessThan(FAST_MS);
  });

  test('find on a pathological pattern answers correctly', () => {
    expect(run("object.s.find('(a+)+b')", withS(`${'a'.repeat(5000)}b`))).toEqual({ ok: true, value: `${'a'.repeat(5000)}b` });
  });

  test.each([
    ['(a)\\1', /invalid regex/],
    ['(?=a)b', /invalid regex/],
    ['(?<=a)b', /invalid regex/],
    ['a{1001}', /invalid regex/],
  ])('RE2 rejects %s at compile time', (pattern, message) => {
    const p = compile(`object.s.matches(object.p)`);
    const r = p.evaluate({ ...create, object: { s: 'ab', p: pattern } });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(message);
  });

  test.each([
    ["'abc'.matches('b')", true], // unanchored, like Go's MatchString
    ["'abc'.matches('^b')", false],
    ["'a.c'.matches('^a\\\\.c$')", true],
    ["'abc'.matches('^a.c$')", true],
    ["'a\\nc'.matches('^a.c$')", false], // . does not match newline
    ["'a\\nc'.matches('(?s)^a.c$')", true],
    ["'日本'.matches('^..$')", true], // . is a code point
    ["'x1'.matches('\\\\d')", true],
    ["'ab'.find('a|ab')", 'a'], // leftmost-first, like Go
  ])('%s', (source, expected) => {
    expect(run(source)).toEqual({ ok: true, value: expected });
  });

  test('input longer than the limit is an error', () => {
    const r = run("object.s.matches('x')", withS('y'.repeat(MAX_REGEX_INPUT_LENGTH + 1)), 10_000_000);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/regex input longer than/);
  });

  test('regex work is charged by input length', () => {
    const r = run("object.s.findAll('y').size()", withS('y'.repeat(100_000)));
    expect(r).toEqual({ ok: false, error: 'cost limit exceeded (limit 100000)' });
  });

  test('compiled patterns are cached; invalid ones report the RE2 error', () => {
    const a = compileRegex('^cache-me$');
    expect(typeof a).not.toBe('string');
    expect(compileRegex('^cache-me$')).toBe(a);
    expect(compileRegex('(')).toMatch(/missing closing \)/);
  });

  test('matches results are right for repeated and distinct inputs', () => {
    const p = compile("object.s.matches('^registry\\\\.example\\\\.com/')");
    for (let i = 0; i < 3; i++) {
      expect(p.evaluate(withS('registry.example.com/a'))).toEqual({ ok: true, value: true });
      expect(p.evaluate(withS('docker.io/a'))).toEqual({ ok: true, value: false });
    }
  });
});
