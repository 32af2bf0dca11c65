/**
 * The path language of masking rules: a small JSONPath-like selector of
 * string values, relative to a Kubernetes object.
 *
 * ```text
 * data.*                                    every value of the data map
 * data["tls.key"]                           a key with dots in it
 * spec.containers[*].env[*].value           every element of an array
 * spec.containers[*].env[?name=~(?i)token].value   elements whose `name` matches an RE2 pattern
 * spec.containers[?name=app].image          elements whose `name` equals a literal
 * ```
 *
 * Patterns are RE2 (`re2js`: linear time, `(?i)` for case-insensitive) and
 * match anywhere in the string unless anchored with `^…$`.
 *
 * @module
 */
import { RE2JS } from 're2js';

/** One step of a compiled path. */
export type PathStep =
  | { readonly type: 'key'; readonly name: string }
  | { readonly type: 'anyKey' }
  | { readonly type: 'each' }
  | { readonly type: 'filter'; readonly field: string; readonly test: StringTest };

export type StringTest = (value: string) => boolean;

/** A rule path that does not parse; `message` says where. */
export class RulePathError extends Error {
  override readonly name = 'RulePathError';
}

/** Results cached per pattern (names and keys repeat across objects). */
const MAX_CACHED_RESULTS = 1024;
/** Longest pattern accepted. */
const MAX_PATTERN = 1024;

/**
 * Compiles an RE2 pattern into a test that matches anywhere in the string.
 *
 * @throws RulePathError when the pattern is invalid.
 * @example
 * const secretish = compilePattern('(?i)password|token');
 * secretish('DB_PASSWORD'); // → true
 */
export function compilePattern(source: string): StringTest {
  if (source.length > MAX_PATTERN) throw new RulePathError(`pattern longer than ${MAX_PATTERN} characters`);
  let re: RE2JS;
  try {
    re = RE2JS.compile(source);
  } catch (err) {
    throw new RulePathError(`invalid pattern ${JSON.stringify(source)}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const results = new Map<string, boolean>();
  return (value) => {
    let r = results.get(value);
    if (r === undefined) {
      r = re.test(value);
      if (results.size >= MAX_CACHED_RESULTS) results.clear();
      results.set(value, r);
    }
    return r;
  };
}

/**
 * Parses a rule path into steps.
 *
 * @throws RulePathError when the path is malformed.
 * @example
 * parseRulePath('spec.containers[*].env[?name=~(?i)token].value');
 * // → key spec, key containers, each, key env, filter name, key value
 */
export function parseRulePath(path: string): PathStep[] {
  const steps: PathStep[] = [];
  let i = 0;
  const fail = (what: string): never => {
    throw new RulePathError(`rule path ${JSON.stringify(path)}: ${what} at character ${i + 1}`);
  };
  while (i < path.length) {
    const c = path[i];
    if (c === '[') {
      i = parseBracket(path, i, steps, fail);
      if (i < path.length && path[i] !== '.' && path[i] !== '[') fail('expected "." or "[" after "]"');
    } else if (c === '.') {
      if (steps.length === 0 || i + 1 >= path.length || path[i + 1] === '.' || path[i + 1] === '[') fail('empty segment');
      i++;
    } else if (c === '*') {
      steps.push({ type: 'anyKey' });
      i++;
      if (i < path.length && path[i] !== '.' && path[i] !== '[') fail('"*" must be a whole segment');
    } else {
      let end = i;
      while (end < path.length && path[end] !== '.' && path[end] !== '[' && path[end] !== ']' && path[end] !== '*') end++;
      steps.push({ type: 'key', name: path.slice(i, end) });
      i = end;
      if (path[i] === ']' || path[i] === '*') fail(`unexpected "${path[i]}" (quote odd keys: ["a*b"])`);
    }
  }
  if (steps.length === 0) fail('empty path');
  const last = steps[steps.length - 1]!;
  if (last.type === 'filter' || last.type === 'each') fail('a path must end at a value (a key or "*"), not at array elements');
  return steps;
}

function parseBracket(path: string, open: number, steps: PathStep[], fail: (what: string) => never): number {
  const body = open + 1;
  if (path[body] === '*' && path[body + 1] === ']') {
    steps.push({ type: 'each' });
    return body + 2;
  }
  if (path[body] === '"') {
    let end = body + 1;
    while (end < path.length && path[end] !== '"') end += path[end] === '\\' ? 2 : 1;
    if (path[end + 1] !== ']') fail('unterminated quoted key');
    steps.push({ type: 'key', name: JSON.parse(path.slice(body, end + 1)) as string });
    return end + 2;
  }
  if (path[body] !== '?') fail('expected [*], [?field=~pattern], [?field=value] or ["key"]');
  const eq = path.indexOf('=', body);
  if (eq < 0) fail('a filter needs "=" or "=~"');
  const field = path.slice(body + 1, eq);
  if (!/^[A-Za-z0-9_-]+$/.test(field)) fail(`invalid filter field ${JSON.stringify(field)}`);
  const isPattern = path[eq + 1] === '~';
  const valueStart = eq + (isPattern ? 2 : 1);
  const close = isPattern ? patternEnd(path, valueStart) : path.indexOf(']', valueStart);
  if (close < 0) fail('unterminated filter');
  const value = path.slice(valueStart, close);
  steps.push({ type: 'filter', field, test: isPattern ? compilePattern(value) : (s) => s === value });
  return close + 1;
}

/** The `]` closing a filter whose value is a regex (skipping escapes and character classes). */
function patternEnd(path: string, from: number): number {
  let inClass = false;
  for (let i = from; i < path.length; i++) {
    const c = path[i];
    if (c === '\\') i++;
    else if (inClass) inClass = c !== ']';
    else if (c === '[') inClass = true;
    else if (c === ']') return i;
  }
  return -1;
}
