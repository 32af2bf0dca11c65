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
  return encode(value, '$');
}

function encode(value: unknown, at: string): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonical JSON: ${at} is ${value}, not a finite number`);
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) throw new TypeError(`canonical JSON: ${at} is an integer beyond 2^53 - 1`);
      return Object.is(value, -0) ? '0' : String(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        return `[${value.map((item: unknown, i) => {
          if (item === undefined) throw new TypeError(`canonical JSON: ${at}[${i}] is undefined`);
          return encode(item, `${at}[${i}]`);
        }).join(',')}]`;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) throw new TypeError(`canonical JSON: ${at} is not a plain object`);
      const record = value as Record<string, unknown>;
      const parts: string[] = [];
      for (const key of Object.keys(record).sort()) {
        const item = record[key];
        if (item === undefined) continue;
        parts.push(`${JSON.stringify(key)}:${encode(item, `${at}.${key}`)}`);
      }
      return `{${parts.join(',')}}`;
    }
    default:
      throw new TypeError(`canonical JSON: ${at} is a ${typeof value}, which has no JSON form`);
  }
}
