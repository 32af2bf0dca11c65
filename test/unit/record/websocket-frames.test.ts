import { describe, expect, it } from 'vitest';
import { serverFrame, WebSocketFrameReader } from '../../../src/record/websocket-frames.js';
import { prng } from '../../helpers/prng.js';

/** A client frame (masked), optionally not final, with any opcode. */
function clientFrame(opcode: number, payload: Buffer, options: { fin?: boolean; mask?: Buffer } = {}): Buffer {
  const mask = options.mask ?? Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const n = payload.length;
  const ext = n < 126 ? Buffer.alloc(0) : n < 0x10000 ? Buffer.alloc(2) : Buffer.alloc(8);
  if (n >= 126 && n < 0x10000) ext.writeUInt16BE(n);
  else if (n >= 0x10000) ext.writeBigUInt64BE(BigInt(n));
  const head = Buffer.from([(options.fin === false ? 0 : 0x80) | opcode, 0x80 | (n < 126 ? n : n < 0x10000 ? 126 : 127)]);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  return Buffer.concat([head, ext, mask, masked]);
}

function reader() {
  const messages: { opcode: number; data: Buffer[] }[] = [];
  const r = new WebSocketFrameReader({
    messageStart: (opcode) => messages.push({ opcode, data: [] }),
    payload: (data) => messages.at(-1)!.data.push(Buffer.from(data)),
  });
  const texts = () => messages.map((m) => Buffer.concat(m.data).toString());
  return { r, messages, texts };
}

describe('WebSocketFrameReader', () => {
  it('reads unmasked server frames of every length encoding', () => {
    const { r, texts } = reader();
    const big = 'x'.repeat(70_000);
    const bytes = Buffer.concat([serverFrame(2, Buffer.from('\x01hi')), serverFrame(2, Buffer.from('m'.repeat(300))), serverFrame(2, Buffer.from(big))]);
    expect(r.push(bytes)).toBe(bytes.length);
    expect(texts()).toEqual(['\x01hi', 'm'.repeat(300), big]);
    expect(r.atFrameBoundary).toBe(true);
  });

  it('unmasks client frames, whatever the chunking, one byte at a time included', () => {
    const payloads = ['\x00ls -l\n', 'é'.repeat(200), 'z'.repeat(66_000)];
    const bytes = Buffer.concat(payloads.map((p) => clientFrame(2, Buffer.from(p))));
    const random = prng(7);
    for (const split of [1, 3, 13, 1000, 0]) {
      const { r, texts } = reader();
      for (let at = 0; at < bytes.length; ) {
        const size = split === 0 ? 1 + Math.floor(random() * 5000) : split;
        r.push(bytes.subarray(at, at + size));
        at += size;
        if (at < bytes.length && split === 1) expect(r.failure).toBeUndefined();
      }
      expect(texts(), `split ${split}`).toEqual(payloads);
      expect(r.failure).toBeUndefined();
    }
  });

  it('joins a fragmented message and skips control frames between its fragments', () => {
    const { r, messages, texts } = reader();
    r.push(
      Buffer.concat([
        clientFrame(2, Buffer.from('\x01hel'), { fin: false }),
        clientFrame(9, Buffer.from('ping!')),
        clientFrame(0, Buffer.from('lo '), { fin: false }),
        clientFrame(10, Buffer.alloc(0)),
        clientFrame(0, Buffer.from('world')),
        clientFrame(8, Buffer.from([0x03, 0xe8])),
      ]),
    );
    expect(messages.map((m) => m.opcode)).toEqual([2]);
    expect(texts()).toEqual(['\x01hello world']);
    expect(r.failure).toBeUndefined();
  });

  it('reads empty frames', () => {
    const { r, texts } = reader();
    r.push(Buffer.concat([serverFrame(2, Buffer.alloc(0)), serverFrame(1, Buffer.from('a'))]));
    expect(texts()).toEqual(['', 'a']);
  });

  it.each([
    ['reserved bits', Buffer.from([0xc2, 0x01, 0x41]), /reserved bits/],
    ['an unknown opcode', Buffer.from([0x83, 0x00]), /unknown opcode 3/],
    ['an unknown control opcode', Buffer.from([0x8b, 0x00]), /unknown control opcode 11/],
    ['a continuation with nothing open', Buffer.from([0x80, 0x00]), /continuation/],
    ['a fragmented control frame', Buffer.from([0x09, 0x00]), /control frame/],
    ['a long control frame', Buffer.from([0x89, 126, 0x00, 0x80]), /control frame/],
    ['a message inside a fragmented one', Buffer.concat([Buffer.from([0x02, 0x00]), Buffer.from([0x82, 0x00])]), /inside a fragmented/],
    ['a length beyond 2^53', Buffer.from([0x82, 127, 0xff, 0, 0, 0, 0, 0, 0, 1]), /too large/],
  ])('stops for good at %s, without throwing', (_, garbage, why) => {
    const { r, texts } = reader();
    r.push(serverFrame(2, Buffer.from('ok')));
    expect(r.push(garbage)).toBe(garbage.length);
    expect(r.failure).toMatch(why);
    expect(r.push(serverFrame(2, Buffer.from('later')))).toBeGreaterThan(0);
    expect(texts()[0]).toBe('ok');
    expect(texts()).not.toContain('later');
  });

  it('survives random garbage', () => {
    const random = prng(42);
    for (let round = 0; round < 200; round++) {
      const { r } = reader();
      const bytes = Buffer.from(Array.from({ length: 1 + Math.floor(random() * 300) }, () => Math.floor(random() * 256)));
      expect(() => r.push(bytes)).not.toThrow();
    }
  });

  it('stops at the next frame boundary when asked, and says how far it read', () => {
    const { r, texts } = reader();
    const first = serverFrame(2, Buffer.from('\x01first'));
    const bytes = Buffer.concat([first, serverFrame(2, Buffer.from('\x01second'))]);
    // Asked from the start of the chunk: the frame in flight (none) ends at 0.
    expect(r.push(bytes.subarray(0, 4))).toBe(4);
    expect(r.push(bytes.subarray(4), () => true)).toBe(first.length - 4);
    expect(r.atFrameBoundary).toBe(true);
    expect(texts()).toEqual(['\x01first']);
  });
});
