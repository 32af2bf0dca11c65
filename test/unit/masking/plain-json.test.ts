import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTextScanner } from '../../../src/masking/detectors/index.js';
import { plainJsonHasNoFinding } from '../../../src/masking/plain-json.js';
import { fake } from './fixtures.js';

const none = createTextScanner([]);
const all = createTextScanner();
const check = (text: string, scanner = all, maxDepth = 512, stopKeys: string[] = []): boolean => plainJsonHasNoFinding(text, 0, text.length, scanner, maxDepth, stopKeys);

/** JSON values whose strings need no escape (what the framer calls plain). */
const plainString = fc.stringMatching(/^[ -!#-[\]-~é😀]{0,12}$/u);
const plainValue = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.boolean(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), plainString, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(plainString, tie('value'), { maxKeys: 4 }),
})).value;

describe('checking plain JSON for findings without parsing it', () => {
  it('takes any plain JSON value, compact or spaced, when no detector runs', () => {
    fc.assert(
      fc.property(plainValue, (value) => {
        const compact = JSON.stringify(value);
        expect(check(compact, none)).toBe(true);
        // Spaces around every token are JSON too (only spaces: line breaks are left to the parser).
        const spaced = JSON.stringify(value, null, 1).replace(/\n/g, ' ');
        expect(check(` ${spaced} `, none)).toBe(true);
      }),
    );
  });

  it('never takes text the JSON parser refuses', () => {
    const edits = fc.constantFrom(',', ':', '{', '}', '[', ']', '"', '0', '-', '.', 'e', '+', 't', 'n', ' ', 'x', '');
    fc.assert(
      fc.property(plainValue, fc.nat(), fc.nat({ max: 2 }), edits, (value, where, removed, insert) => {
        const text = JSON.stringify(value);
        const at = where % (text.length + 1);
        const edited = text.slice(0, at) + insert + text.slice(at + removed);
        let valid = true;
        try {
          JSON.parse(edited);
        } catch {
          valid = false;
        }
        if (!valid) expect(check(edited, none), edited).toBe(false);
      }),
      { numRuns: 3000 },
    );
    for (const bad of ['', ' ', '01', '-', '1.', '.5', '1e', '+1', 'tru', 'nul', 'truex', '{"a"}', '{"a":}', '{"a":1,}', '[1,]', '[1 2]', '{"a":1]', '[1}', '"a', '{"a":1}}', '1 2', '{a:1}']) {
      expect(check(bad, none), bad).toBe(false);
    }
  });

  it('checks only its range of the text', () => {
    const text = 'xx{"a":[1,true,null,"b"]}yy';
    expect(plainJsonHasNoFinding(text, 2, text.length - 2, none, 512, [])).toBe(true);
    expect(plainJsonHasNoFinding(text, 2, text.length - 3, none, 512, [])).toBe(false);
    // A string or a literal running past the end of the range is cut, not taken.
    expect(plainJsonHasNoFinding('"abc"', 0, 4, none, 512, [])).toBe(false);
    expect(plainJsonHasNoFinding('true', 0, 3, none, 512, [])).toBe(false);
    expect(plainJsonHasNoFinding('12', 0, 1, none, 512, [])).toBe(true);
  });

  it('refuses a value with a finding in any string value, and in keys of the forms the masker scans', () => {
    const values = [fake.jwt, fake.githubClassic, 'postgres://app:hunter2@db:5432/shop', 'password=hunter2', `Bearer ${fake.gitlab}`];
    for (const secret of values) {
      expect(check(JSON.stringify({ metadata: { labels: { a: secret } } })), secret).toBe(false);
      expect(check(JSON.stringify([1, [2, [secret]]])), secret).toBe(false);
      // managedFields keys that carry values: `v:…` set members, `k:…` list-map keys.
      expect(check(JSON.stringify({ 'f:args': { [`v:${secret}`]: {} } })), secret).toBe(false);
      expect(check(JSON.stringify({ [`k:${secret}`]: {} })), secret).toBe(false);
      // Other keys are not scanned, as the masker does not scan them.
      expect(check(JSON.stringify({ [secret]: 1 })), secret).toBe(true);
    }
    expect(check(JSON.stringify({ name: 'web', uid: '8355d09a-434c-44b8-b2cd-b38b98ac1733', time: '2026-11-26T13:26:06Z' }))).toBe(true);
  });

  it('refuses keys the caller walks itself, and nesting deeper than allowed', () => {
    expect(check('{"a":{"kind":"Secret"}}', none, 512, ['kind'])).toBe(false);
    expect(check('{"a":{"kinds":"Secret","x":"kind"}}', none, 512, ['kind'])).toBe(true);
    expect(check('[[[1]]]', none, 3)).toBe(true);
    expect(check('[[[1]]]', none, 2)).toBe(false);
    expect(check('{"a":{"b":[]}}', none, 2)).toBe(false);
    // Deeper than the first stack it allocates.
    const deep = '['.repeat(300) + ']'.repeat(300);
    expect(check(deep, none, 300)).toBe(true);
    expect(check(deep, none, 299)).toBe(false);
  });
});
