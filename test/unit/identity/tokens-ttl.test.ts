import { describe, expect, it } from 'vitest';
import { MAX_TOKEN_TTL_SECONDS, parseTtl } from '../../../src/identity/tokens-ttl.js';

describe('parseTtl', () => {
  it.each([
    ['3600s', 3600],
    ['90m', 5400],
    ['12h', 43_200],
    ['30d', 2_592_000],
    [' 1d ', 86_400],
    ['3650d', MAX_TOKEN_TTL_SECONDS],
  ])('%j → %i seconds', (text, seconds) => {
    expect(parseTtl(text)).toBe(seconds);
  });

  it.each([
    ['', /whole number and a unit/],
    ['30', /whole number and a unit/],
    ['d', /whole number and a unit/],
    ['30D', /whole number and a unit/],
    ['1.5h', /whole number and a unit/],
    ['-1d', /whole number and a unit/],
    ['1w', /whole number and a unit/],
    ['1h30m', /whole number and a unit/],
    ['never', /whole number and a unit/],
    ['0s', /longer than zero/],
    ['3651d', /at most 3650d/],
    ['99999999999999999999d', /at most 3650d/],
  ])('refuses %j', (text, message) => {
    expect(() => parseTtl(text)).toThrow(message);
  });
});
