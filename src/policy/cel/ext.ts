/**
 * Kubernetes CEL extension functions that the CEL library lacks: the rest of
 * the strings extension (`replace`, `charAt`, `reverse`, `format`) and the
 * lists extension (`isSorted`, `sum`, `min`, `max`, `indexOf`, `lastIndexOf`,
 * `distinct`, `reverse`, `slice`, `flatten`) and the sets extension
 * (`sets.contains`, `sets.intersects`, `sets.equivalent`). Functions whose
 * work is not proportional to their arguments charge the meter themselves.
 */
import { UnsignedInt } from '@marcbachmann/cel-js/evaluator';
import { celCompare, celEquals, numeric, typeName } from './compare.js';
import { charge, stringUnits } from './meter.js';

/** Longest string a function here may produce (UTF-16 units). */
export const MAX_RESULT_STRING_LENGTH = 4 * 1024 * 1024;

/** Raised for invalid arguments; the caller turns it into a CEL evaluation error. */
export class ExtError extends Error {
  override readonly name = 'ExtError';
}

function checkLength(n: number): void {
  if (n > MAX_RESULT_STRING_LENGTH) throw new ExtError(`string result longer than ${MAX_RESULT_STRING_LENGTH} characters`);
  charge(stringUnits(n));
}

function toIndex(n: bigint): number {
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : n < -BigInt(Number.MAX_SAFE_INTEGER) ? -Number.MAX_SAFE_INTEGER : Number(n);
}

// ---------------------------------------------------------------------------
// strings

/** `s.replace(old, new[, n])`: replaces the first `n` occurrences (all when `n < 0`). */
export function replace(s: string, from: string, to: string, n = -1n): string {
  if (n === 0n) return s;
  if (from === '') {
    // Go inserts `to` before every code point and at the end.
    const cps = Array.from(s);
    const count = n < 0n ? cps.length + 1 : Math.min(toIndex(n), cps.length + 1);
    checkLength(s.length + count * to.length);
    let out = '';
    for (let i = 0; i < cps.length; i++) out += (i < count ? to : '') + cps[i];
    return count > cps.length ? out + to : out;
  }
  const parts = s.split(from);
  const limit = n < 0n ? parts.length - 1 : Math.min(parts.length - 1, toIndex(n));
  checkLength(s.length + limit * (to.length - from.length));
  if (limit === parts.length - 1) return parts.join(to);
  return parts.slice(0, limit + 1).join(to) + from + parts.slice(limit + 1).join(from);
}

/** `s.charAt(i)`: the code point at index `i`, `''` at `i == size(s)`. */
export function charAt(s: string, i: bigint): string {
  const cps = Array.from(s);
  if (i < 0n || i > BigInt(cps.length)) throw new ExtError(`index out of range: ${i}`);
  return cps[Number(i)] ?? '';
}

/** `s.reverse()`: the code points in reverse order. */
export function reverseString(s: string): string {
  return Array.from(s).reverse().join('');
}

/**
 * `fmt.format(args)`: `%s %d %f %e %x %X %o %b %%`, with an optional precision
 * (`%.2f`). A subset of the Kubernetes strings extension's `format`.
 */
export function format(fmt: string, args: unknown[]): string {
  let out = '';
  let argi = 0;
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i];
    if (c !== '%') {
      out += c;
      continue;
    }
    i++;
    if (fmt[i] === '%') {
      out += '%';
      continue;
    }
    let precision: number | undefined;
    if (fmt[i] === '.') {
      let p = '';
      while (++i < fmt.length && (fmt[i] ?? '') >= '0' && (fmt[i] ?? '') <= '9') p += fmt[i];
      precision = Math.min(Number(p || '0'), 100);
    }
    const verb = fmt[i];
    if (verb === undefined) throw new ExtError('format: unterminated % clause');
    if (argi >= args.length) throw new ExtError(`format: missing argument for %${verb}`);
    out += formatOne(verb, args[argi++], precision);
    checkLength(out.length);
  }
  if (argi < args.length) throw new ExtError(`format: ${args.length - argi} unused argument(s)`);
  return out;
}

function formatOne(verb: string, v: unknown, precision: number | undefined): string {
  const n = numeric(v);
  switch (verb) {
    case 's':
      return toDisplay(v);
    case 'd':
      if (n === undefined) break;
      return typeof n === 'number' && !Number.isInteger(n) ? String(n) : BigInt(n).toString();
    case 'f':
      if (n === undefined) break;
      return Number(n).toFixed(precision ?? 6);
    case 'e':
      if (n === undefined) break;
      return Number(n)
        .toExponential(precision ?? 6)
        .replace(/e([+-])(\d)$/, 'e$10$2');
    case 'x':
    case 'X':
    case 'o':
    case 'b': {
      const radix = verb === 'o' ? 8 : verb === 'b' ? 2 : 16;
      let s: string;
      if (typeof v === 'string') s = Buffer.from(v, 'utf8').toString('hex');
      else if (n !== undefined && (typeof n === 'bigint' || Number.isInteger(n))) s = BigInt(n).toString(radix);
      else break;
      return verb === 'X' ? s.toUpperCase() : s;
    }
  }
  throw new ExtError(`format: %${verb} cannot format ${typeName(v)}`);
}

/** CEL's `%s` rendering: lists as `[a, b]`, maps as `{k: v}` with sorted keys. */
function toDisplay(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v !== 'object') return typeof v;
  if (Array.isArray(v)) return `[${v.map(toDisplay).join(', ')}]`;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
  const n = numeric(v);
  if (n !== undefined) return n.toString();
  const entries: [string, unknown][] | undefined =
    v instanceof Map ? [...(v as Map<unknown, unknown>)].map(([k, x]) => [String(k), x]) : isPlain(v) ? Object.entries(v) : undefined;
  if (entries) return `{${entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, x]) => `${k}: ${toDisplay(x)}`).join(', ')}}`;
  return displayObject(v);
}

function isPlain(v: object): boolean {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Library values (quantities, URLs, types, timestamps) by their own string form. */
export function displayObject(v: object): string {
  if (v instanceof Date) return v.toISOString();
  const own = (v as { toString?: unknown }).toString;
  return typeof own === 'function' && own !== Object.prototype.toString ? String((own as () => unknown).call(v)) : `<${v.constructor?.name ?? 'object'}>`;
}

// ---------------------------------------------------------------------------
// lists

/** `l.isSorted()`. */
export function isSorted(l: unknown[]): boolean {
  for (let i = 1; i < l.length; i++) if (celCompare(l[i - 1], l[i]) > 0) return false;
  return true;
}

/** `l.sum()`: int, uint or double sum; `0` for an empty list. */
export function sum(l: unknown[]): unknown {
  if (l.length === 0) return 0n;
  let acc: bigint | number | undefined;
  for (const v of l) {
    const n = numeric(v);
    if (n === undefined) throw new ExtError(`sum: cannot add ${typeName(v)}`);
    if (acc === undefined) acc = n;
    else if (typeof acc === 'bigint' && typeof n === 'bigint') acc += n;
    else if (typeof acc === 'number' && typeof n === 'number') acc += n;
    else throw new ExtError('sum: list mixes int and double');
  }
  if (typeof acc === 'bigint' && (acc > (1n << 63n) - 1n || acc < -(1n << 63n))) throw new ExtError('sum: int overflow');
  return l[0] instanceof UnsignedInt && typeof acc === 'bigint' ? new UnsignedInt(acc) : acc;
}

function extreme(l: unknown[], name: string, sign: number): unknown {
  if (l.length === 0) throw new ExtError(`${name}: empty list`);
  let best = l[0];
  for (let i = 1; i < l.length; i++) if (celCompare(l[i], best) * sign > 0) best = l[i];
  return best;
}

/** `l.min()`; error on an empty list. */
export function min(l: unknown[]): unknown {
  return extreme(l, 'min', -1);
}

/** `l.max()`; error on an empty list. */
export function max(l: unknown[]): unknown {
  return extreme(l, 'max', 1);
}

/** `l.indexOf(v)`: first index of `v`, or -1. */
export function indexOf(l: unknown[], v: unknown): bigint {
  for (let i = 0; i < l.length; i++) if (celEquals(l[i], v)) return BigInt(i);
  return -1n;
}

/** `l.lastIndexOf(v)`: last index of `v`, or -1. */
export function lastIndexOf(l: unknown[], v: unknown): bigint {
  for (let i = l.length - 1; i >= 0; i--) if (celEquals(l[i], v)) return BigInt(i);
  return -1n;
}

/** `l.distinct()`: first occurrences, in order. Quadratic, so charged as such. */
export function distinct(l: unknown[]): unknown[] {
  charge(Math.ceil((l.length * l.length) / 64));
  const out: unknown[] = [];
  for (const v of l) if (!out.some((x) => celEquals(x, v))) out.push(v);
  return out;
}

/** `l.reverse()`. */
export function reverseList(l: unknown[]): unknown[] {
  return [...l].reverse();
}

/** `l.slice(start, end)`. */
export function slice(l: unknown[], start: bigint, end: bigint): unknown[] {
  if (start < 0n || end < start || end > BigInt(l.length)) throw new ExtError(`slice: invalid range [${start}, ${end}) of list of size ${l.length}`);
  return l.slice(Number(start), Number(end));
}

/** `l.flatten()`: one level. */
export function flatten(l: unknown[]): unknown[] {
  const out: unknown[] = [];
  for (const v of l) {
    if (Array.isArray(v)) {
      charge(v.length);
      for (const x of v as unknown[]) out.push(x);
    } else out.push(v);
  }
  return out;
}

// ---------------------------------------------------------------------------
// sets (Kubernetes' sets extension: lists as sets)

/** Namespace value behind `sets.…` calls. */
export class SetsNamespace {}

function setsCharge(a: unknown[], b: unknown[]): void {
  charge(Math.ceil((a.length * b.length) / 16));
}

/** `sets.contains(a, b)`: every element of `b` is in `a`. */
export function setsContains(a: unknown[], b: unknown[]): boolean {
  setsCharge(a, b);
  return b.every((x) => a.some((y) => celEquals(x, y)));
}

/** `sets.intersects(a, b)`: some element is in both. */
export function setsIntersects(a: unknown[], b: unknown[]): boolean {
  setsCharge(a, b);
  return b.some((x) => a.some((y) => celEquals(x, y)));
}

/** `sets.equivalent(a, b)`: same elements, ignoring order and duplicates. */
export function setsEquivalent(a: unknown[], b: unknown[]): boolean {
  return setsContains(a, b) && setsContains(b, a);
}
