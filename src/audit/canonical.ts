/**
 * The canonical JSON encoding the audit hash chain and checkpoint signatures
 * are computed over. It is the JSON Canonicalization Scheme (RFC 8785)
 * restricted to the values an audit event holds, so any language can
 * recompute a hash from an exported record:
 *
 * - objects: keys sorted by UTF-16 code units (JavaScript's default sort),
 *   `"key":value` pairs joined by `,`, no whitespace anywhere; a property
 *   whose value is `undefined` is left out (as `JSON.stringify` does);
 * - arrays: in order; an `undefined` element is refused;
 * - strings: as ECMAScript `JSON.stringify` writes them (`"`, `\` and
 *   U+0000–U+001F escaped, `\b \f \n \r \t` short forms, lone surrogates as
 *   `\udXXX`, everything else as is, UTF-8 on the wire);
 * - numbers: finite only, written as ECMAScript `Number#toString` does
 *   (shortest round-trip form; `-0` is `0`); integers beyond 2^53 − 1 are
 *   refused because other languages would read them differently;
 * - `true`, `false`, `null`; anything else (bigint, Date, Buffer, functions)
 *   is refused, so the caller converts it explicitly first.
 *
 * @module
 */

/** A value the canonical encoding accepts. */
export type CanonicalValue = null | boolean | number | string | readonly CanonicalValue[] | { readonly [key: string]: CanonicalValue | undefined };

/**
 * Encodes `value` canonically.
 *
 * @example
 * canonicalJson({ b: 1, a: [true, 'x'] }); // '{"a":[true,"x"],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  // JSON.stringify writes a value that is already in canonical order canonically, and is native: an event the
  // recorder built (its objects' keys in order, event.ts) or parsed back from a store is encoded in about half the
  // time. Anything else, and every value the encoding refuses, goes through the encoder below.
  if (inCanonicalOrder(value, 0)) return JSON.stringify(value);
  // Where the encoder is, kept as a stack and spelled out only for an error: every event of every request is encoded.
  const path: Array<string | number> = [];
  try {
    encode(value, path, 0);
    return parts.join('');
  } catch (err) {
    if (err instanceof Refusal) throw new TypeError(`canonical JSON: ${spell(path)} ${err.message}`);
    throw err;
  } finally {
    parts.length = 0;
  }
}

/** Deeper than this, a value is left to the encoder (whose recursion then decides), rather than checked here. */
const MAX_CHECKED_DEPTH = 64;

/**
 * Whether `JSON.stringify(value)` is its canonical encoding: plain objects
 * whose own keys come in code-unit order (Object.keys order is the order
 * JSON.stringify writes; integer-like keys come first there, so an object
 * with one fails this unless they sort that way), arrays without undefined,
 * finite numbers and safe integers, strings, booleans, null. Undefined
 * property values are fine: both leave them out. Keys and values are read
 * with Object.keys/values, not one property load per key: the event's
 * objects come in many shapes.
 */
function inCanonicalOrder(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return numberRefusal(value) === undefined;
    case 'object': {
      if (value === null) return true;
      if (depth >= MAX_CHECKED_DEPTH) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          if (item === undefined || !inCanonicalOrder(item, depth + 1)) return false;
        }
        return true;
      }
      if (!isPlainObject(value)) return false;
      const keys = Object.keys(value);
      for (let i = 1; i < keys.length; i++) if (!(keys[i - 1]! < keys[i]!)) return false;
      const values = Object.values(value);
      for (let i = 0; i < values.length; i++) {
        const item: unknown = values[i];
        if (item !== undefined && !inCanonicalOrder(item, depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

/** Why the encoding refuses the number `n` (the encoder's message), or undefined when it takes it. */
function numberRefusal(n: number): string | undefined {
  if (!Number.isFinite(n)) return `is ${n}, not a finite number`;
  if (Number.isInteger(n) && !Number.isSafeInteger(n)) return 'is an integer beyond 2^53 - 1';
  return undefined;
}

/** Whether an object (not an array) is a plain one, the only kind the encoding takes (not a Date, a Buffer, a class's). */
function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A value the encoding refuses; the message is completed with where it is. */
class Refusal extends Error {}

function spell(path: ReadonlyArray<string | number>): string {
  let at = '$';
  for (const step of path) at += typeof step === 'number' ? `[${step}]` : `.${step}`;
  return at;
}

// Every request's event is encoded, so the encoder makes little garbage: the pieces of the text are gathered in one
// array and joined once (concatenating them makes a tree of strings that hashing must flatten), each depth sorts its
// keys in an array of its own that is reused, and the quoted form of the keys seen is kept. One encoding runs at a
// time: it never yields.
const parts: string[] = [];
const keysAtDepth: string[][] = [];
const quotedKeys = new Map<string, string>();
/** Most keys kept quoted: an event's field names and the few names of its maps (headers, labels) repeat. */
const MAX_QUOTED_KEYS = 4096;

function quoted(key: string): string {
  let q = quotedKeys.get(key);
  if (q === undefined) {
    q = `${JSON.stringify(key)}:`;
    if (quotedKeys.size < MAX_QUOTED_KEYS) quotedKeys.set(key, q);
  }
  return q;
}

/** Sorts `keys[0, n)` by UTF-16 code units, as `Array#sort` does without a comparator: an object has a handful. */
function sortKeys(keys: string[], n: number): void {
  for (let i = 1; i < n; i++) {
    const key = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > key) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = key;
  }
}

function encode(value: unknown, path: Array<string | number>, depth: number): void {
  switch (typeof value) {
    case 'string':
      parts.push(JSON.stringify(value));
      return;
    case 'boolean':
      parts.push(value ? 'true' : 'false');
      return;
    case 'number': {
      const refusal = numberRefusal(value);
      if (refusal !== undefined) throw new Refusal(refusal);
      parts.push(Object.is(value, -0) ? '0' : String(value));
      return;
    }
    case 'object': {
      if (value === null) {
        parts.push('null');
        return;
      }
      if (Array.isArray(value)) {
        parts.push('[');
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          path.push(i);
          if (item === undefined) throw new Refusal('is undefined');
          if (i > 0) parts.push(',');
          encode(item, path, depth + 1);
          path.pop();
        }
        parts.push(']');
        return;
      }
      if (!isPlainObject(value)) throw new Refusal('is not a plain object');
      const record = value as Record<string, unknown>;
      const keys = (keysAtDepth[depth] ??= []);
      let n = 0;
      // Own keys only, as Object.keys gives them (for…in would also visit enumerable keys an Object.prototype gained).
      for (const key in record) if (Object.hasOwn(record, key)) keys[n++] = key;
      sortKeys(keys, n);
      parts.push('{');
      let first = true;
      for (let k = 0; k < n; k++) {
        const key = keys[k]!;
        const item = record[key];
        if (item === undefined) continue;
        path.push(key);
        if (!first) parts.push(',');
        parts.push(quoted(key));
        first = false;
        encode(item, path, depth + 1);
        path.pop();
      }
      parts.push('}');
      return;
    }
    default:
      throw new Refusal(`is a ${typeof value}, which has no JSON form`);
  }
}
