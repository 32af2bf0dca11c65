import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JsonValueFramer, ObjectMembers, compactJson, memberReplacements } from '../../../src/masking/json-frame.js';

/** Frames one value fed in the given chunks; its bytes and member commas. */
function frame(chunks: Buffer[]): { bytes: Buffer; commas: readonly number[] } {
  const framer = new JsonValueFramer(1 << 20, 'test');
  for (const [n, chunk] of chunks.entries()) {
    const end = framer.feed(chunk, 0);
    if (end >= 0) {
      expect(n).toBe(chunks.length - 1);
      return { bytes: framer.take(), commas: framer.memberCommas };
    }
  }
  throw new Error('value not complete');
}

/** A value as JSON gives it back (`-0` is `0`). */
const asJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

function splitAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => 1 + (c % bytes.length)))].filter((p) => p < bytes.length).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(from, p));
    from = p;
  }
  return out;
}

/** Strings with every escape the framer must step over, and multi-byte UTF-8. */
const trickyString = fc.oneof(fc.string(), fc.constantFrom('\\', '"', '\\"', '\\\\', '\\\\"', '"}{"', 'é', '😀', '\u2028', ',:[]{}'));
const objectArb = fc.dictionary(fc.oneof(fc.string({ maxLength: 5 }), trickyString), fc.oneof(fc.jsonValue({ maxDepth: 3 }), trickyString), { maxKeys: 6 });

describe('framing JSON values', () => {
  it('frames an object split anywhere, and finds the commas between its members', () => {
    fc.assert(
      fc.property(objectArb, fc.constantFrom(0, 1, 2), fc.array(fc.nat(), { maxLength: 10 }), (value, indent, cuts) => {
        const text = JSON.stringify(value, null, indent);
        const bytes = Buffer.from(text);
        const framed = frame(splitAt(bytes, cuts));
        expect(framed.bytes.equals(bytes)).toBe(true);
        // Each comma found ends a member: the text between them parses as `key: value`, in order.
        const members = Object.entries(value);
        expect(framed.commas).toHaveLength(Math.max(0, members.length - 1));
        let from = 1;
        for (const [i, [key, v]] of members.entries()) {
          const end = i < framed.commas.length ? framed.commas[i]! : bytes.length - 1;
          expect(JSON.parse(`{${bytes.subarray(from, end).toString()}}`)).toEqual(asJson({ [key]: v }));
          from = end + 1;
        }
      }),
    );
  });

  it('finds no member commas in arrays, strings and scalars', () => {
    for (const text of ['[1,2,3]', '"a,b"', '12', '{}']) {
      expect(frame([Buffer.from(text + (text === '12' ? ' ' : ''))]).commas).toEqual([]);
    }
  });

  it('carries an escape that ends a chunk into the next', () => {
    const bytes = Buffer.from('{"a":"x\\"y","b":"\\\\"}');
    for (let cut = 1; cut < bytes.length; cut++) {
      const framed = frame([bytes.subarray(0, cut), bytes.subarray(cut)]);
      expect(framed.bytes.toString(), `cut ${cut}`).toBe(bytes.toString());
      expect(framed.commas).toEqual([11]);
    }
  });
});

describe('re-serialising only the changed members', () => {
  const framed = (text: string): readonly number[] => frame([Buffer.from(text)]).commas;
  /** The text the body masker writes: the original with the replacements applied (undefined when it declines). */
  const spliceMembers = (text: string, commas: readonly number[], before: Record<string, unknown>, after: Record<string, unknown>): string | undefined => {
    const replacements = memberReplacements(text, commas, before, after);
    if (replacements === undefined) return undefined;
    let out = '';
    let at = 0;
    for (const r of replacements) {
      out += text.slice(at, r.from) + r.text;
      at = r.to;
    }
    return out + text.slice(at);
  };

  it('keeps the text of unchanged members, whitespace included, and writes changed ones compact', () => {
    const text = '{ "kind" : "Secret", "metadata": {"name": "a"},\n  "data": {"k": "eA=="} }';
    const before = JSON.parse(text) as Record<string, unknown>;
    const after = { ...before, data: { k: 'masked' } };
    expect(spliceMembers(text, framed(text), before, after)).toBe('{ "kind" : "Secret", "metadata": {"name": "a"},"data":{"k":"masked"}}');
  });

  it('gives the masked object whatever changed', () => {
    fc.assert(
      fc.property(objectArb, fc.constantFrom(0, 2), fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), (before, indent, change) => {
        const text = JSON.stringify(before, null, indent);
        fc.pre(Buffer.byteLength(text) === text.length); // what the caller checks: byte offsets are string offsets
        const after: Record<string, unknown> = { ...before };
        Object.keys(before).forEach((key, i) => {
          if (change[i]) Object.defineProperty(after, key, { value: { masked: i }, enumerable: true, writable: true, configurable: true });
        });
        const out = spliceMembers(text, framed(text), before, after);
        // Undefined only for `{}` or where members and keys cannot be paired in order: keys written with escapes, integer-like keys (enumerated first).
        const keys = Object.keys(before);
        if (out === undefined) expect(keys.length === 0 || keys.some((k) => /^\d/.test(k) || JSON.stringify(k) !== `"${k}"`)).toBe(true);
        else expect(JSON.parse(out)).toEqual(asJson(after));
      }),
    );
  });

  it('gives the masked object when the changes are deep inside members', () => {
    const long = fc.string({ minLength: 20, maxLength: 60 });
    const key = fc.string({ unit: fc.constantFrom(...'abcdefgh_-.'.split('')), minLength: 1, maxLength: 4 });
    const nested = fc.dictionary(key, fc.oneof(long, fc.dictionary(key, fc.oneof(long, fc.dictionary(key, long, { maxKeys: 4 })), { maxKeys: 6 })), { minKeys: 1, maxKeys: 6 });
    fc.assert(
      fc.property(nested, fc.constantFrom(0, 2), fc.array(fc.array(fc.nat(), { minLength: 1, maxLength: 3 }), { maxLength: 4 }), (before, indent, changes) => {
        const text = JSON.stringify(before, null, indent);
        fc.pre(Buffer.byteLength(text) === text.length);
        // Copy along each path to a changed value, as the masker does.
        let after: Record<string, unknown> = before;
        for (const path of changes) after = change(after, path);
        const out = spliceMembers(text, framed(text), before, after);
        expect(out).toBeDefined();
        expect(JSON.parse(out!)).toEqual(asJson(after));
        if (after === before) expect(out).toBe(text);
      }),
    );
  });

  it('declines when members and keys do not pair up (the caller then serialises the whole object)', () => {
    const cases = [
      '{"data":{"a":"eA=="},"data":{"b":"eQ=="}}', // duplicate key: the parse keeps the last
      '{"\\u0064ata":{"a":"eA=="},"type":"x"}', // escaped key
      '{"b":"x","1":"y","data":{}}', // integer-like key, enumerated first
    ];
    for (const text of cases) {
      const before = JSON.parse(text) as Record<string, unknown>;
      expect(spliceMembers(text, framed(text), before, { ...before, data: 'masked' }), text).toBeUndefined();
    }
    // A renamed key (the masker renames managedFields keys with findings): never the old key with its old text.
    const fields = '{"f:a":{},"v:password=hunter2":{}}';
    const renamed = { 'f:a': {}, 'v:password=<masked:assignment>': {} };
    expect(spliceMembers(fields, framed(fields), JSON.parse(fields) as Record<string, unknown>, renamed)).toBeUndefined();
    const padded = `{"spec":{"pad":"${'x'.repeat(300)}","fieldsV1":${fields}}}`;
    const before = JSON.parse(padded) as { spec: Record<string, unknown> };
    const out = spliceMembers(padded, framed(padded), before, { spec: { ...before.spec, fieldsV1: renamed } });
    expect(JSON.parse(out!)).toEqual({ spec: { pad: 'x'.repeat(300), fieldsV1: renamed } });
  });
});

/** `obj` with the value at `path` (indexes into its keys, modulo their count) replaced, copying the objects on the way. */
function change(obj: Record<string, unknown>, path: number[]): Record<string, unknown> {
  const keys = Object.keys(obj);
  const key = keys[path[0]! % keys.length]!;
  const child = obj[key];
  const isObject = child !== null && typeof child === 'object' && !Array.isArray(child) && Object.keys(child).length > 0;
  const value = path.length > 1 && isObject ? change(child as Record<string, unknown>, path.slice(1)) : '<masked>';
  return { ...obj, [key]: value };
}

describe('compact JSON of a masked member', () => {
  it('is JSON.stringify, for any value: key order, escapes, integer-like and __proto__ keys, lone surrogates', () => {
    const key = fc.oneof(trickyString, fc.constantFrom('__proto__', '1', '10', '-1', '01', 'tls.key', '\ud800'), fc.nat().map(String));
    const value = fc.oneof(trickyString, fc.string({ unit: 'grapheme-ascii' }), fc.constantFrom('\udc00x', '\u0000', '\x7f'), fc.jsonValue({ maxDepth: 2 }));
    fc.assert(
      fc.property(fc.oneof(fc.dictionary(key, value, { maxKeys: 8 }), fc.jsonValue({ maxDepth: 3 })), (v) => {
        const parsed: unknown = JSON.parse(JSON.stringify(v)); // as the masker sees it: a parse (own __proto__ keys included)
        expect(compactJson(parsed)).toBe(JSON.stringify(parsed));
      }),
      { numRuns: 2000 },
    );
    expect(compactJson(JSON.parse('{"b":"x","2":"y","__proto__":"z","a":"PG1h"}'))).toBe('{"2":"y","b":"x","__proto__":"z","a":"PG1h"}');
  });
});

describe('reading an object of strings from its text', () => {
  const read = (text: string, from = 0, to = text.length): string[] | undefined => {
    const members = new ObjectMembers();
    return members.readStrings(text, from, to) ? members.keys.slice(0, members.count) : undefined;
  };

  it('gives the keys of a compact object of strings, also inside a larger text', () => {
    expect(read('{"a":"x"}')).toEqual(['a']);
    expect(read('{"username":"c2E=","password":"","url:x":"eQ=="}')).toEqual(['username', 'password', 'url:x']);
    const text = '{"metadata":{},"data":{"a":"x","b":"y"},"type":"Opaque"}';
    expect(read(text, text.indexOf('{"a"'), text.indexOf(',"type"'))).toEqual(['a', 'b']);
  });

  it('refuses anything else', () => {
    for (const text of ['{}', '{"a": "x"}', '{"a" :"x"}', '{"a":"x",}', '{"a":"x""b":"y"}', '{"a":1}', '{"a":null}', '{"a":{}}', '{"a":["x"]}', '{"a":"x"', '"a":"x"}', '{"a":"x"} ', '[]'])
      expect(read(text), text).toBeUndefined();
    // The range ends before the value's closing quote.
    expect(read('{"a":"x"}', 0, 8)).toBeUndefined();
  });
});
