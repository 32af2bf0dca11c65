import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/audit/canonical.js';
import { chunkHash } from '../../../src/audit/stream.js';
import { chainHash, chainHashOfJson, GENESIS_HASH, linkEvents, encodeEvent } from '../../../src/audit/chain.js';
import { sampleEvent } from './stores.js';

describe('canonicalJson', () => {
  it('sorts keys by UTF-16 code units at every depth and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null }, A: true, é: 'x', '10': 0, '9': 0 })).toBe(
      '{"10":0,"9":0,"A":true,"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1,"é":"x"}',
    );
  });

  it('writes numbers as ECMAScript does (RFC 8785) and -0 as 0', () => {
    expect(canonicalJson([0, -0, 1.5, 2.5e-30, 1e-7, 0.1 + 0.2, -3, 2 ** 53 - 1])).toBe('[0,0,1.5,2.5e-30,1e-7,0.30000000000000004,-3,9007199254740991]');
  });

  it('escapes strings as JSON.stringify does, lone surrogates included', () => {
    expect(canonicalJson('a"b\\c\n\u0001\u2028\ud800é')).toBe('"a\\"b\\\\c\\n\\u0001\u2028\\ud800é"');
  });

  it('leaves out undefined properties, as JSON does', () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
  });

  it('gives what the rules above spell out, for any JSON value (a plain reference encoder)', () => {
    const key = fc.oneof(fc.string(), fc.constantFrom('0', '10', '9', 'a', 'A', 'é', '\ud800', '__proto__'));
    const value = fc.letrec<{ value: unknown }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.string(),
        fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d) || Number.isSafeInteger(d)),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('value'), { maxLength: 5 }),
        fc.dictionary(key, fc.option(tie('value'), { nil: undefined }), { maxKeys: 6 }),
      ),
    })).value;
    fc.assert(
      fc.property(value, (v) => {
        expect(canonicalJson(v)).toBe(reference(v));
      }),
      { numRuns: 2000 },
    );
    // The same values with every object's keys put in canonical order first, so they take the native path
    // (JSON.stringify) wherever Object.keys agrees with that order: the text must not change.
    fc.assert(
      fc.property(value, (v) => {
        expect(canonicalJson(inKeyOrder(v))).toBe(reference(v));
      }),
      { numRuns: 2000 },
    );
  });

  it('encodes a value already in canonical order as JSON.stringify does, and still refuses what it must there', () => {
    const ordered = { a: [1, -0, 2.5e-30, 'x\u0001\ud800', null, true, { b: undefined, c: {} }], b: { c: 'é' } };
    expect(canonicalJson(ordered)).toBe(JSON.stringify(ordered));
    expect(canonicalJson(ordered)).toBe('{"a":[1,0,2.5e-30,"x\\u0001\\ud800",null,true,{"c":{}}],"b":{"c":"é"}}');
    expect(() => canonicalJson({ a: [1, { b: Number.NaN }] })).toThrow('$.a[1].b');
    expect(() => canonicalJson({ a: { b: [undefined] } })).toThrow('$.a.b[0]');
    expect(() => canonicalJson({ a: new Date(0) })).toThrow('$.a is not a plain object');
  });

  it('starts afresh after a refusal, and ignores keys an Object.prototype gained', () => {
    expect(() => canonicalJson({ a: [1, { b: Number.NaN }] })).toThrow('$.a[1].b');
    expect(canonicalJson({ b: [1, 2], a: { c: 'x' } })).toBe('{"a":{"c":"x"},"b":[1,2]}');
    const proto = Object.prototype as Record<string, unknown>;
    proto.polluted = 'x';
    try {
      expect(canonicalJson({ b: 1, a: {} })).toBe('{"a":{},"b":1}');
    } finally {
      delete proto.polluted;
    }
  });

  it.each([
    ['NaN', Number.NaN],
    ['Infinity', [Number.POSITIVE_INFINITY]],
    ['an unsafe integer', { n: 2 ** 53 }],
    ['a bigint', 1n],
    ['a Date', new Date(0)],
    ['a Buffer', Buffer.from('x')],
    ['undefined in an array', [undefined]],
    ['a function', () => 1],
  ])('refuses %s', (_, value) => {
    expect(() => canonicalJson(value)).toThrow(TypeError);
  });
});

describe('the hash chain', () => {
  it('hashes the canonical encoding of { v, seq, prevHash, event }', () => {
    const event = sampleEvent(1);
    const expected = createHash('sha256').update(canonicalJson({ v: 1, seq: 7, prevHash: GENESIS_HASH, event })).digest('hex');
    expect(chainHash(GENESIS_HASH, 7, event)).toBe(expected);
    expect(chainHashOfJson(GENESIS_HASH, 7, canonicalJson(event))).toBe(expected);
    expect(chainHash(GENESIS_HASH, 8, event)).not.toBe(expected);
  });

  it('hashes a stream chunk as the canonical encoding of its header', () => {
    const chunks = [
      { sessionId: 'b3f1c2d4-0000-4000-8000-000000000001', seq: 1, time: '2026-11-25T23:00:00.000001Z', channel: 'stdout', data: Buffer.from('hello\n') },
      { sessionId: 'sess "quoted" \\ é \u2028', seq: 9_007_199_254_740_991, time: 't', channel: 'marker', data: Buffer.alloc(0) },
      // A seq that was tampered with still hashes (to something else) rather than throwing: verify reports it.
      { sessionId: 's', seq: 1.5, time: 't', channel: 'stdin', data: Buffer.from([0, 255]) },
    ];
    for (const chunk of chunks) {
      const dataSha256 = createHash('sha256').update(chunk.data).digest('hex');
      const header = { v: 1, sessionId: chunk.sessionId, seq: chunk.seq, time: chunk.time, channel: chunk.channel, prevHash: GENESIS_HASH, dataSha256 };
      expect(chunkHash(GENESIS_HASH, chunk)).toBe(createHash('sha256').update(canonicalJson(header)).digest('hex'));
    }
  });

  it('links a batch after a head: consecutive seqs, each prevHash the hash before', () => {
    const { events, head } = linkEvents({ seq: 41, hash: 'f'.repeat(64) }, [sampleEvent(1), sampleEvent(2)].map(encodeEvent));
    expect(events.map((e) => e.seq)).toEqual([42, 43]);
    expect(events[0]!.prevHash).toBe('f'.repeat(64));
    expect(events[1]!.prevHash).toBe(events[0]!.hash);
    expect(head).toEqual({ seq: 43, hash: events[1]!.hash });
    expect(events[1]!.hash).toBe(chainHash(events[0]!.hash, 43, JSON.parse(events[1]!.eventJson)));
  });
});

/** The encoding as the module doc spells it, written the plain way: sorted `Object.keys`, `JSON.stringify` for leaves. */
function reference(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const members = Object.keys(record)
      .sort()
      .filter((k) => record[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${reference(record[k])}`);
    return `{${members.join(',')}}`;
  }
  return Object.is(value, -0) ? '0' : JSON.stringify(value);
}

/** `v` with every object's keys inserted in code-unit order, at every depth. */
function inKeyOrder(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(inKeyOrder);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(v).sort()) Object.defineProperty(out, key, { value: inKeyOrder((v as Record<string, unknown>)[key]), enumerable: true, writable: true, configurable: true });
  return out;
}
