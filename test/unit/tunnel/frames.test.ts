import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame, FrameError } from '../../../src/tunnel/frames.js';
import type { Frame } from '../../../src/tunnel/frames.js';

const raw = (type: number, streamId: number, payload: number[] | Buffer = []): Buffer => {
  const header = Buffer.alloc(5);
  header.writeUInt8(type, 0);
  header.writeUInt32BE(streamId, 1);
  return Buffer.concat([header, Buffer.from(payload)]);
};

describe('tunnel frames', () => {
  const frames: Frame[] = [
    { type: 'open', streamId: 1 },
    { type: 'data', streamId: 0xffff_ffff, data: Buffer.from('hello') },
    { type: 'end', streamId: 7 },
    { type: 'reset', streamId: 3, reason: 'client went away — für immer' },
    { type: 'reset', streamId: 3, reason: '' },
    { type: 'credit', streamId: 9, bytes: 65536 },
    { type: 'control', message: { type: 'hello', nested: { n: 1 } } },
  ];
  it.each(frames)('round-trips $type', (frame) => {
    expect(decodeFrame(encodeFrame(frame))).toEqual(frame);
  });

  it('lays out [type u8][streamId u32 BE][payload]', () => {
    expect([...encodeFrame({ type: 'credit', streamId: 258, bytes: 1 })]).toEqual([5, 0, 0, 1, 2, 0, 0, 0, 1]);
    expect([...encodeFrame({ type: 'data', streamId: 1, data: Buffer.from([0xaa]) })]).toEqual([2, 0, 0, 0, 1, 0xaa]);
  });

  it.each([
    ['a message shorter than the header', Buffer.from([2, 0, 0]), /shorter than its 5-byte header/],
    ['an unknown type', raw(42, 1), /unknown frame type 42/],
    ['type 0', raw(0, 1), /unknown frame type 0/],
    ['stream id 0 on DATA', raw(2, 0, [1]), /must not have stream id 0/],
    ['CONTROL on a stream', raw(6, 5, Buffer.from('{}')), /CONTROL frame must have stream id 0/],
    ['a payload on OPEN', raw(1, 1, [1]), /carries no payload/],
    ['a payload on END', raw(3, 1, [1]), /carries no payload/],
    ['an empty DATA frame', raw(2, 1), /at least one byte/],
    ['a short CREDIT', raw(5, 1, [0, 1]), /carries 4 bytes, got 2/],
    ['a zero CREDIT', raw(5, 1, [0, 0, 0, 0]), /at least one byte/],
    ['a RESET reason that is not UTF-8', raw(4, 1, [0xff, 0xfe]), /not valid UTF-8/],
    ['CONTROL that is not JSON', raw(6, 0, Buffer.from('{nope')), /not JSON/],
    ['CONTROL that is a JSON array', raw(6, 0, Buffer.from('[1]')), /not a JSON object/],
  ])('rejects %s', (_what, message, error) => {
    expect(() => decodeFrame(message)).toThrow(FrameError);
    expect(() => decodeFrame(message)).toThrow(error);
  });

  it('refuses to encode a stream frame with an invalid stream id', () => {
    expect(() => encodeFrame({ type: 'end', streamId: 0 })).toThrow(RangeError);
    expect(() => encodeFrame({ type: 'end', streamId: 2 ** 32 })).toThrow(RangeError);
  });
});
