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
  // Where the encoder is, kept as a stack and spelled out only for an error: every event of every request is encoded.
  const path: Array<string | number> = [];
  try {
    return encode(value, path);
  } catch (err) {
    if (err instanceof Refusal) throw new TypeError(`canonical JSON: ${spell(path)} ${err.message}`);
    throw err;
  }
}

/** A value the encoding refuses; the message is completed with where it is. */
class Refusal extends Error {}

function spell(path: ReadonlyArray<string | number>): string {
  let at = '$';
  for (const step of path) at += typeof step === 'number' ? `[${step}]` : `.${step}`;
  return at;
}

function encode(value: unknown, path: Array<string | number>): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new Refusal(`is ${value}, not a finite number`);
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) throw new Refusal('is an integer beyond 2^53 - 1');
      return Object.is(value, -0) ? '0' : String(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          path.push(i);
          if (item === undefined) throw new Refusal('is undefined');
          out += i === 0 ? encode(item, path) : `,${encode(item, path)}`;
          path.pop();
        }
        return `${out}]`;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) throw new Refusal('is not a plain object');
      const record = value as Record<string, unknown>;
      let out = '{';
      for (const key of Object.keys(record).sort()) {
        const item = record[key];
        if (item === undefined) continue;
        path.push(key);
        out += `${out.length === 1 ? '' : ','}${JSON.stringify(key)}:${encode(item, path)}`;
        path.pop();
      }
      return `${out}}`;
    }
    default:
      throw new Refusal(`is a ${typeof value}, which has no JSON form`);
  }
}
