/**
 * CEL equality and ordering over the values this layer produces (bigint,
 * number, string, boolean, null, bytes, arrays, maps, quantities), for the
 * list functions. Numbers compare across int and double as CEL does.
 */
import { UnsignedInt } from '@marcbachmann/cel-js/evaluator';
import { Quantity } from './quantity.js';

/** Raised when two values have no CEL ordering. */
export class CompareError extends Error {
  override readonly name = 'CompareError';
}

function isNum(v: unknown): v is bigint | number {
  return typeof v === 'bigint' || typeof v === 'number';
}

/** int, double or uint (the CEL library boxes uint) as a JS number or bigint. */
export function numeric(v: unknown): bigint | number | undefined {
  if (isNum(v)) return v;
  if (v instanceof UnsignedInt) return v.valueOf();
  return undefined;
}

function cmpNum(a: bigint | number, b: bigint | number): number {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  const x = Number(a);
  const y = Number(b);
  if (Number.isNaN(x) || Number.isNaN(y)) throw new CompareError('NaN has no ordering');
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Compares strings by Unicode code point, as CEL does (JS `<` compares UTF-16 units). */
function cmpStr(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i) ?? 0;
    const y = b.codePointAt(i) ?? 0;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** CEL ordering: -1, 0, 1; throws {@link CompareError} for unordered types. */
export function celCompare(a: unknown, b: unknown): number {
  const x = numeric(a);
  const y = numeric(b);
  if (x !== undefined && y !== undefined) return cmpNum(x, y);
  if (typeof a === 'string' && typeof b === 'string') return cmpStr(a, b);
  if (typeof a === 'boolean' && typeof b === 'boolean') return a === b ? 0 : a ? 1 : -1;
  if (a instanceof Quantity && b instanceof Quantity) return Number(a.compareTo(b));
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] ?? 0) < (b[i] ?? 0) ? -1 : 1;
    return a.length - b.length < 0 ? -1 : a.length === b.length ? 0 : 1;
  }
  throw new CompareError(`no ordering between ${typeName(a)} and ${typeName(b)}`);
}

/** CEL equality (heterogeneous numbers equal by value; lists and maps deep). */
export function celEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const x = numeric(a);
  const y = numeric(b);
  if (x !== undefined && y !== undefined) return cmpNumEq(x, y);
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!celEquals(a[i], b[i])) return false;
    return true;
  }
  if (a instanceof Quantity) return b instanceof Quantity && a.nanos === b.nanos;
  if (a instanceof Uint8Array) return b instanceof Uint8Array && a.length === b.length && a.every((v, i) => v === b[i]);
  if (Array.isArray(b) || b instanceof Uint8Array || b instanceof Quantity) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(b, k) || !celEquals((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

function cmpNumEq(a: bigint | number, b: bigint | number): boolean {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a === b;
  return Number(a) === Number(b);
}

/** A short CEL-ish type name for error messages. */
export function typeName(v: unknown): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'bigint':
      return 'int';
    case 'number':
      return 'double';
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'object':
      if (Array.isArray(v)) return 'list';
      if (v instanceof Uint8Array) return 'bytes';
      if (v instanceof Quantity) return 'Quantity';
      if (numeric(v) !== undefined) return 'uint';
      return 'map';
    default:
      return typeof v;
  }
}
