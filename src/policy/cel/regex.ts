/**
 * RE2 regular expressions for CEL (`matches`, `find`, `findAll`).
 *
 * Patterns come from policy authors, so they run on `re2js` (a pure-JS port
 * of RE2: linear time in the input, no backtracking, no look-around), never
 * on JavaScript's backtracking `RegExp`. Compiled patterns are cached.
 */
import { RE2JS } from 're2js';
import { charge } from './meter.js';

/** Longest pattern accepted (characters). */
export const MAX_PATTERN_LENGTH = 4096;
/** Longest input a regex function will scan (UTF-16 units); longer input is an error. */
export const MAX_REGEX_INPUT_LENGTH = 256 * 1024;
/** Compiled patterns kept; the oldest is dropped when full. */
const CACHE_SIZE = 512;

/** Inputs up to this length have their `matches` result cached per pattern. */
const RESULT_CACHE_MAX_INPUT = 256;
/** Cached results per pattern; the cache is cleared when full. */
const RESULT_CACHE_SIZE = 512;

/** A compiled pattern with a cache of `matches` results (image names, namespaces… repeat). */
class Compiled {
  readonly results = new Map<string, boolean>();
  constructor(readonly re: RE2JS) {}

  test(input: string): boolean {
    if (input.length > RESULT_CACHE_MAX_INPUT) return this.re.test(input);
    let r = this.results.get(input);
    if (r === undefined) {
      r = this.re.test(input);
      if (this.results.size >= RESULT_CACHE_SIZE) this.results.clear();
      this.results.set(input, r);
    }
    return r;
  }
}

/** A pattern that failed to compile, cached so it is not recompiled on every call. */
class BadPattern {
  constructor(readonly message: string) {}
}

const cache = new Map<string, Compiled | BadPattern>();

/** Compiles (or fetches from the cache) an RE2 pattern; returns an error message when invalid. */
export function compileRegex(pattern: string): Compiled | string {
  let re = cache.get(pattern);
  if (re === undefined) {
    re = compileUncached(pattern);
    if (cache.size >= CACHE_SIZE) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    cache.set(pattern, re);
  }
  return re instanceof BadPattern ? re.message : re;
}

function compileUncached(pattern: string): Compiled | BadPattern {
  if (pattern.length > MAX_PATTERN_LENGTH) {
    return new BadPattern(`regex pattern longer than ${MAX_PATTERN_LENGTH} characters`);
  }
  try {
    return new Compiled(RE2JS.compile(pattern));
  } catch (err) {
    return new BadPattern(`invalid regex ${JSON.stringify(pattern)}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Error raised by the regex functions; the caller turns it into a CEL evaluation error. */
export class RegexError extends Error {
  override readonly name = 'RegexError';
}

/**
 * Cost of scanning `input`: RE2 is linear in the input, with a factor for the
 * pattern's size. Measured with re2js on a 100 000-character input: a boolean
 * match runs at ~40 ns/char, extracting matches (`find`) at ~230 ns/char; one
 * cost unit is ~100 ns of plain evaluation, hence 1 unit per 2 characters for
 * `matches` and 2 units per character for `find`/`findAll`.
 */
function prepare(input: string, pattern: string, unitsPerChar: number): Compiled {
  if (input.length > MAX_REGEX_INPUT_LENGTH) {
    throw new RegexError(`regex input longer than ${MAX_REGEX_INPUT_LENGTH} characters`);
  }
  charge(1 + Math.ceil(input.length * unitsPerChar * (1 + pattern.length / 64)));
  const re = compileRegex(pattern);
  if (typeof re === 'string') throw new RegexError(re);
  return re;
}

/** `s.matches(re)`: true if `re` matches any part of `s` (anchor with `^…$` for a full match). */
export function regexMatches(input: string, pattern: string): boolean {
  return prepare(input, pattern, 0.5).test(input);
}

/** `s.find(re)`: the first match, or `''` when there is none. */
export function regexFind(input: string, pattern: string): string {
  const m = prepare(input, pattern, 2).re.matcher(input);
  return m.find() ? (m.group() ?? '') : '';
}

/** `s.findAll(re[, limit])`: all non-overlapping matches, at most `limit` when `limit >= 0`. */
export function regexFindAll(input: string, pattern: string, limit = -1): string[] {
  const m = prepare(input, pattern, 2).re.matcher(input);
  const out: string[] = [];
  if (limit === 0) return out;
  while (m.find()) {
    out.push(m.group() ?? '');
    if (out.length === limit) break;
  }
  return out;
}
