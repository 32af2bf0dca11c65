import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { dataFrame, FLAG_FIN, SPDY3_DICTIONARY, SpdyFrameReader } from '../../../src/record/spdy-frames.js';
import { compressedBlocks, controlFrame, synReply, synStream, u32 } from './spdy-wire.js';

function reading() {
  const events: (string | [string, number, string])[] = [];
  const reader = new SpdyFrameReader({
    streamOpened: (id, headers) => events.push(['open', id, JSON.stringify(Object.fromEntries(headers))]),
    data: (id, data) => events.push(['data', id, data.toString()]),
    finished: (id) => events.push(['fin', id, '']),
  });
  // Data arrives in pieces; joins consecutive pieces of one stream.
  const joined = () =>
    events.reduce<(string | [string, number, string])[]>((out, e) => {
      const last = out.at(-1);
      if (typeof e !== 'string' && e[0] === 'data' && Array.isArray(last) && last[0] === 'data' && last[1] === e[1]) last[2] += e[2];
      else out.push(typeof e === 'string' ? e : [...e]);
      return out;
    }, []);
  return { reader, events, joined };
}

describe('SPDY3_DICTIONARY', () => {
  it('is the SPDY/3 dictionary (1423 bytes, Adler-32 0xe3c6a7c2 as zlib names it in a stream header)', () => {
    expect(SPDY3_DICTIONARY).toHaveLength(1423);
    // A zlib stream made with a preset dictionary carries the dictionary's Adler-32 after the two header bytes.
    expect(deflateSync(Buffer.from('x'), { dictionary: SPDY3_DICTIONARY }).readUInt32BE(2)).toBe(0xe3c6a7c2);
  });
});

describe('SpdyFrameReader', () => {
  it('names streams from zlib-compressed header blocks sharing one context, and hands on data frames, split at every byte', async () => {
    const blocks = await compressedBlocks([
      { streamtype: 'stdin', 'x-stream-protocol-version': 'v4.channel.k8s.io' },
      { streamtype: 'stdout', 'x-stream-protocol-version': 'v4.channel.k8s.io' },
    ]);
    const wire = Buffer.concat([
      synStream(1, blocks[0]!),
      controlFrame(4, 0, Buffer.concat([u32(1), u32(7), u32(65536)])),
      controlFrame(6, 0, u32(1)),
      synStream(3, blocks[1]!),
      dataFrame(1, Buffer.from('ls\n')),
      controlFrame(9, 0, Buffer.concat([u32(3), u32(1024)])),
      dataFrame(3, Buffer.from('a.txt\n'), FLAG_FIN),
      dataFrame(1, Buffer.alloc(0), FLAG_FIN),
      controlFrame(3, 0, Buffer.concat([u32(5), u32(5)])),
    ]);
    const { reader, joined } = reading();
    for (let at = 0; at < wire.length; at++) {
      expect(reader.push(wire.subarray(at, at + 1))).toBe(1);
      expect(reader.failure).toBeUndefined();
    }
    expect(reader.atFrameBoundary).toBe(true);
    expect(joined()).toEqual([
      ['open', 1, '{"streamtype":"stdin","x-stream-protocol-version":"v4.channel.k8s.io"}'],
      ['open', 3, '{"streamtype":"stdout","x-stream-protocol-version":"v4.channel.k8s.io"}'],
      ['data', 1, 'ls\n'],
      ['data', 3, 'a.txt\n'],
      ['fin', 3, ''],
      ['fin', 1, ''],
      ['fin', 5, ''],
    ]);
  });

  it('keeps SYN_REPLY blocks in the compression context (a later SYN_STREAM refers back to them)', async () => {
    const blocks = await compressedBlocks([{ streamtype: 'error' }, { streamtype: 'error' }]);
    const { reader, events } = reading();
    reader.push(Buffer.concat([synReply(1, blocks[0]!), synStream(2, blocks[1]!, FLAG_FIN)]));
    expect(reader.failure).toBeUndefined();
    expect(events).toEqual([
      ['open', 2, '{"streamtype":"error"}'],
      ['fin', 2, ''],
    ]);
  });

  it('stops at a frame boundary when asked, not inside a frame', () => {
    const { reader } = reading();
    const first = dataFrame(1, Buffer.from('x'.repeat(20)));
    const wire = Buffer.concat([first, dataFrame(1, Buffer.from('next'))]);
    expect(reader.push(wire.subarray(0, 10))).toBe(10);
    expect(reader.atFrameBoundary).toBe(false);
    expect(reader.push(wire.subarray(10), () => true)).toBe(first.length - 10);
    expect(reader.atFrameBoundary).toBe(true);
  });

  it.each([
    ['a version other than 3', controlFrame(6, 0, u32(1), 2), /version 2/],
    ['an unknown control frame type', controlFrame(5, 0, Buffer.alloc(0)), /type 5/],
    ['a PING of the wrong length', controlFrame(6, 0, Buffer.alloc(3)), /type 6 with length 3/],
    ['a SYN_STREAM too short for its fields', controlFrame(1, 0, Buffer.alloc(6)), /too short/],
    ['a header block that is not zlib', synStream(1, Buffer.from('not zlib at all')), /does not inflate/],
    ['an oversized control frame', Buffer.from([0x80, 0x03, 0x00, 0x08, 0x00, 0xff, 0xff, 0xff]), /too large/],
    ['random bytes', Buffer.from('\xff\xfe GET / HTTP/1.1\r\n\r\n', 'latin1'), /version/],
  ])('fails on %s without throwing, and ignores what follows', (_name, garbage, reason) => {
    const { reader, events } = reading();
    expect(reader.push(garbage)).toBe(garbage.length);
    expect(reader.failure).toMatch(reason);
    expect(reader.push(dataFrame(1, Buffer.from('after')))).toBe(13);
    expect(events).toEqual([]);
  });

  it('fails on a well-compressed but malformed name/value block', () => {
    const block = deflateSync(Buffer.concat([u32(1), u32(100), Buffer.from('short')]), { dictionary: SPDY3_DICTIONARY });
    const { reader } = reading();
    reader.push(synStream(1, block));
    expect(reader.failure).toMatch(/malformed/);
  });
});
