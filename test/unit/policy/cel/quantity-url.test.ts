import { describe, expect, test } from 'vitest';
import { isQuantity, parseQuantity } from '../../../../src/policy/cel/quantity.js';
import { parseUrl } from '../../../../src/policy/cel/url.js';

describe('parseQuantity', () => {
  test.each([
    ['0', 0n],
    ['1', 1_000_000_000n],
    ['+1', 1_000_000_000n],
    ['-1', -1_000_000_000n],
    ['500m', 500_000_000n],
    ['250u', 250_000n],
    ['7n', 7n],
    ['0.1n', 1n], // finer than 1n rounds away from zero
    ['-0.1n', -1n],
    ['1k', 1_000_000_000_000n],
    ['1M', 10n ** 15n],
    ['1E', 10n ** 27n],
    ['1Ki', 1024n * 10n ** 9n],
    ['1.5Gi', 1_610_612_736n * 10n ** 9n],
    ['1e3', 10n ** 12n],
    ['1E3', 10n ** 12n],
    ['2e-3', 2_000_000n],
    ['.5', 500_000_000n],
    ['5.', 5_000_000_000n],
  ])('%s', (text, nanos) => {
    expect(parseQuantity(text).nanos).toBe(nanos);
    expect(isQuantity(text)).toBe(true);
  });

  test.each(['', 'abc', '1.2.3', '1KiB', 'e3', '1e', '1e1000', '--1', '1 Gi', ' 1', 'Gi', '1m1', `1${'0'.repeat(200)}`])('rejects %j', (text) => {
    expect(() => parseQuantity(text)).toThrow(/invalid quantity/);
    expect(isQuantity(text)).toBe(false);
  });

  test('conversions and arithmetic', () => {
    expect(parseQuantity('1536Mi').asInteger()).toBe(1_610_612_736n);
    expect(parseQuantity('100m').asApproximateFloat()).toBeCloseTo(0.1, 12);
    expect(parseQuantity('1').compareTo(parseQuantity('1000m'))).toBe(0n);
    expect(parseQuantity('1Gi').sub(parseQuantity('1Gi')).sign()).toBe(0n);
    expect(parseQuantity('250m').add(parseQuantity('250m')).toString()).toBe('500m');
    expect(() => parseQuantity('1E').asInteger()).not.toThrow();
    expect(() => parseQuantity('10E').asInteger()).toThrow(/cannot be represented/);
  });
});

describe('parseUrl', () => {
  test.each([
    ['https://example.com:8443/a/b?x=1', 'https', 'example.com:8443', 'example.com', '8443', '/a/b'],
    ['http://user:pw@example.com/', 'http', 'example.com', 'example.com', '', '/'],
    ['https://[2001:db8::1]:443/x', 'https', '[2001:db8::1]:443', '2001:db8::1', '443', '/x'],
    ['https://[2001:db8::1]/x', 'https', '[2001:db8::1]', '2001:db8::1', '', '/x'],
    ['/api/v1/pods?watch=1', '', '', '', '', '/api/v1/pods'],
    ['mailto:someone@example.com', 'mailto', '', '', '', 'someone@example.com'],
    ['https://example.com', 'https', 'example.com', 'example.com', '', ''],
  ])('%s', (text, scheme, host, hostname, port, path) => {
    const u = parseUrl(text);
    expect([u.scheme, u.host, u.hostname(), u.port(), u.path]).toEqual([scheme, host, hostname, port, path]);
  });

  test.each(['', 'relative/path', 'has space', '1http://x', 'https://[::1/x', 'https://example.com:80a/', '://x'])('rejects %j', (text) => {
    expect(() => parseUrl(text)).toThrow(/invalid URL/);
  });

  test('query values are decoded and grouped', () => {
    expect(parseUrl('/p?a=1&a=2&b=x%20y&c&d=').query()).toEqual({ a: ['1', '2'], b: ['x y'], c: [''], d: [''] });
    expect(() => parseUrl('/p?a=%zz').query()).toThrow(/invalid URL escape/);
  });
});
