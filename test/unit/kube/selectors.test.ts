import { describe, expect, it } from 'vitest';
import { fieldSelectorExactMatch, isGoInt64, isQualifiedName, labelSelectorParses } from '../../../src/kube/selectors.js';

// Expected values follow apimachinery (fields.ParseSelector + RequiresExactMatch,
// labels.Parse, validation.IsQualifiedName) and Go's strconv.ParseInt. The
// end-to-end effect on RequestInfo is covered in request-info.test.ts.

const NAME = 'metadata.name';

describe('fieldSelectorExactMatch', () => {
  const rows: [selector: string, want: string | undefined | null][] = [
    // plain equality terms
    ['metadata.name=foo', 'foo'],
    ['metadata.name==foo', 'foo'],
    ['metadata.name=', ''],
    ['metadata.name=foo,spec.nodeName=n1', 'foo'],
    // no term pins the field
    ['', undefined],
    [',,', undefined],
    ['spec.nodeName=n1', undefined],
    ['metadata.name!=foo', undefined],
    ['metadata.namespace=foo', undefined],
    [' metadata.name=foo', undefined], // the field is compared exactly, not trimmed
    ['metadata.name =foo', undefined],
    // empty terms are skipped
    ['metadata.name=foo,', 'foo'],
    [',metadata.name=foo,,', 'foo'],
    // '!=' is recognised before '=', so a later equality term still counts
    ['metadata.name!=foo,metadata.name=bar', 'bar'],
    // Go sorts the whole terms and answers with the first match
    ['metadata.name=b,spec.nodeName=n1,metadata.name=a', 'a'],
    ['metadata.name=ab,metadata.name=a', 'a'],
    ['metadata.name=a,metadata.name==z', 'z'], // '=' (0x3d) sorts before 'a'
    ['metadata.name==z,metadata.name=a', 'z'],
    // ...by code point (UTF-8 byte order), not UTF-16 unit: U+FF01 sorts before U+1F600
    ['metadata.name=\u{1F600},metadata.name=\uFF01', '\uFF01'],
    ['metadata.name=\uFF01,metadata.name=\u{1F600}', '\uFF01'],
    ['metadata.name=\u{1F600},metadata.name=\uD7FF', '\uD7FF'],
    // escapes: only '\\', '\,' and '\=' exist; an escaped ',' does not split terms
    ['metadata.name=a\\,b', 'a,b'],
    ['metadata.name=a\\=b', 'a=b'],
    ['metadata.name=a\\\\b', 'a\\b'],
    ['metadata.name=a\\\\,spec.nodeName=n1', 'a\\'],
    ['metadata.name=a\\,b,metadata.name=a', 'a'],
    // malformed selectors do not parse at all, whichever field is asked for
    ['metadata.name', null],
    ['metadata.name=foo,bar', null],
    ['metadata.name=a=b', null],
    ['metadata.name=a,b', null],
    ['metadata.name!==foo', null],
    ['metadata.name=a\\b', null],
    ['metadata.name=a\\', null],
    ['spec.nodeName=a\\x,metadata.name=foo', null],
  ];

  it.each(rows.map(([selector, want]) => ({ selector, want, label: JSON.stringify(selector) })))('$label', ({ selector, want }) => {
    expect(fieldSelectorExactMatch(selector, NAME)).toBe(want);
  });

  it('looks up the field it is asked for', () => {
    expect(fieldSelectorExactMatch('metadata.name=a,spec.nodeName=n1', 'spec.nodeName')).toBe('n1');
    expect(fieldSelectorExactMatch('metadata.name=a,spec.nodeName=n1', 'status.phase')).toBeUndefined();
    expect(fieldSelectorExactMatch('a==1,a=2', 'a')).toBe('2'); // '2' (0x32) sorts before '=' (0x3d)
  });
});

describe('labelSelectorParses', () => {
  const valid: string[] = [
    '',
    '   ',
    'app',
    '!app',
    'app=web',
    'app==web',
    'app!=web',
    'app=',
    'app = web',
    'app=web, tier!=db',
    'app in (a,b)',
    'app in (a, b)',
    'app notin (a)',
    'app in ()',
    'example.com/app notin (,web,),!tier',
    'app in (a,b),!tier',
    'in=x', // 'in' and 'notin' are plain identifiers in key and value position
    'app=in',
    'x>5,y<10',
    'x<0',
    'Key_with.dots-ok=1',
    `${'k'.repeat(63)}=${'v'.repeat(63)}`,
    `${'p'.repeat(253)}/k=v`,
    'a=b \0!!!', // a NUL at the start of a token ends the selector
  ];
  const invalid: string[] = [
    'app===x',
    '=x',
    ',a',
    'a,',
    'a,,b',
    'a b',
    '!a=b',
    'a=b=c',
    '!',
    '!!a',
    'app in (a',
    'app in a',
    'app in (a b)',
    'app in (a))',
    'app in (a)b',
    'app notin',
    'x>a',
    'x>',
    'x>-1', // an integer, but not a valid label value
    'x>+7',
    'x>99999999999999999999',
    'x>5,y<1.5',
    'a=b)',
    '(',
    ')',
    '('.repeat(1_000),
    `${'k'.repeat(64)}=v`,
    `k=${'v'.repeat(64)}`,
    'a=-b',
    'a=b-',
    'a=b/c',
    '-a=b',
    'Example.com/app=x',
    '/app=x',
    'example.com/=x',
    'a/b/c=x',
    `${'p'.repeat(254)}/k=v`,
    'a=é',
    // NUL quirks of Go's lexer: after ',' it ends the selector too early; after a token it only ends that token
    'a=b,\0!!!',
    'a\0!!',
    'a=\0!!',
  ];

  it.each(valid.map((s) => ({ s, label: JSON.stringify(s.length > 80 ? `${s.slice(0, 40)}…` : s) })))('parses $label', ({ s }) => {
    expect(labelSelectorParses(s)).toBe(true);
  });
  it.each(invalid.map((s) => ({ s, label: JSON.stringify(s.length > 80 ? `${s.slice(0, 40)}…` : s) })))('rejects $label', ({ s }) => {
    expect(labelSelectorParses(s)).toBe(false);
  });
});

describe('isQualifiedName', () => {
  const rows: [name: string, want: boolean][] = [
    ['app', true],
    ['a', true],
    ['A', true],
    ['1', true],
    ['a.b', true],
    ['a_b-c.d', true],
    ['Key_With.Caps', true],
    ['app.kubernetes.io/name', true],
    ['1.2.3/x', true],
    ['example-1.com/x', true],
    ['k'.repeat(63), true],
    [`${'p'.repeat(253)}/x`, true],
    [`${'p'.repeat(63)}.${'q'.repeat(63)}/x`, true],
    // the name part
    ['', false],
    ['k'.repeat(64), false],
    ['-a', false],
    ['a-', false],
    ['_a', false],
    ['a.', false],
    ['a b', false],
    ['a:b', false],
    ['é', false],
    // the prefix is a lower-case DNS-1123 subdomain, and there is at most one '/'
    ['/x', false],
    ['example.com/', false],
    ['a/b/c', false],
    ['Example.com/x', false],
    ['ex_ample.com/x', false],
    ['-example.com/x', false],
    ['example-.com/x', false],
    ['example..com/x', false],
    ['.example.com/x', false],
    ['example.com./x', false],
    [`${'p'.repeat(254)}/x`, false],
  ];

  it.each(rows.map(([name, want]) => ({ name, want, label: JSON.stringify(name.length > 80 ? `${name.slice(0, 40)}…` : name) })))(
    '$label',
    ({ name, want }) => {
      expect(isQualifiedName(name)).toBe(want);
    },
  );
});

describe('isGoInt64', () => {
  const rows: [s: string, want: boolean][] = [
    ['0', true],
    ['-0', true],
    ['+5', true],
    ['007', true],
    ['9223372036854775807', true],
    ['-9223372036854775808', true],
    ['0000009223372036854775807', true],
    ['9223372036854775808', false],
    ['-9223372036854775809', false],
    ['99999999999999999999', false],
    ['', false],
    ['+', false],
    ['-', false],
    ['--1', false],
    ['1_000', false],
    [' 1', false],
    ['1 ', false],
    ['1.0', false],
    ['0x10', false],
    ['\uFF11', false], // a full-width digit is not an ASCII digit
  ];

  it.each(rows.map(([s, want]) => ({ s, want, label: JSON.stringify(s) })))('$label', ({ s, want }) => {
    expect(isGoInt64(s)).toBe(want);
  });
});
