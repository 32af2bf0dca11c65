import { describe, expect, it } from 'vitest';
import { createStreamRecorder } from '../../../src/audit/stream.js';
import type { StreamChunk } from '../../../src/audit/stream.js';
import { GatehouseError } from '../../../src/errors/codes.js';
import { createSessionTap, sessionFraming } from '../../../src/record/session-tap.js';
import type { SessionLimitAction } from '../../../src/record/session-tap.js';
import { dataFrame, FLAG_FIN, SpdyFrameReader } from '../../../src/record/spdy-frames.js';
import { serverFrame, WebSocketFrameReader } from '../../../src/record/websocket-frames.js';
import { openingFrames, STREAMS } from './spdy-wire.js';

const CHANNELS = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4 } as const;

function fromServer(channel: keyof typeof CHANNELS, text: string | Buffer): Buffer {
  return serverFrame(2, Buffer.concat([Buffer.from([CHANNELS[channel]]), Buffer.from(text)]));
}
function fromClient(channel: keyof typeof CHANNELS, text: string): Buffer {
  const payload = Buffer.concat([Buffer.from([CHANNELS[channel]]), Buffer.from(text)]);
  const mask = Buffer.from([1, 2, 3, 4]);
  return Buffer.concat([Buffer.from([0x82, 0x80 | payload.length]), mask, Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!))]);
}

function recorded(options: { maxBytes?: number; onLimit?: SessionLimitAction; failStore?: boolean; version?: number; spdy?: boolean } = {}) {
  const chunks: StreamChunk[] = [];
  const ends: (Buffer | undefined)[] = [];
  const version = options.version ?? (options.spdy ? 4 : 5);
  const tap = createSessionTap({ framing: { kind: options.spdy ? 'spdy' : 'channels', version }, end: (farewell) => ends.push(farewell), graceMs: 50 });
  const stream = createStreamRecorder(
    (chunk, owner) => {
      chunks.push(chunk);
      // As the writer does: told once the chunk's batch is written (or not), never from inside write().
      queueMicrotask(() => owner.chunkSettled(options.failStore ? new Error('disk full') : undefined));
    },
    {
      kind: 'exec',
      maxBytes: options.maxBytes ?? 1024,
      onError: () => tap.endSession(new GatehouseError('GH_AUDIT_UNAVAILABLE', 'store down')),
    },
  );
  tap.record(stream, options.onLimit ?? 'stop-recording');
  const seen = () => chunks.map((c) => [c.channel, c.data.toString()]);
  // Payload is recorded as it arrives (no buffering), so one message may span several chunks.
  const joined = () =>
    chunks.reduce<string[][]>((out, c) => {
      const last = out.at(-1);
      if (last?.[0] === c.channel) last[1] += c.data.toString();
      else out.push([c.channel, c.data.toString()]);
      return out;
    }, []);
  return { tap, stream, chunks, ends, seen, joined };
}

describe('sessionFraming', () => {
  it.each([
    ['exec', { upgrade: 'websocket', 'sec-websocket-protocol': 'v5.channel.k8s.io' }, { kind: 'channels', version: 5 }],
    ['attach', { upgrade: 'WebSocket', 'sec-websocket-protocol': 'v4.channel.k8s.io' }, { kind: 'channels', version: 4 }],
    ['exec', { upgrade: 'websocket', 'sec-websocket-protocol': 'channel.k8s.io' }, { kind: 'channels', version: 1 }],
    ['exec', { upgrade: 'websocket', 'sec-websocket-protocol': 'v4.base64.channel.k8s.io' }, { kind: 'opaque' }],
    ['exec', { upgrade: 'SPDY/3.1', 'x-stream-protocol-version': 'v4.channel.k8s.io' }, { kind: 'spdy', version: 4 }],
    ['attach', { upgrade: 'SPDY/3.1' }, { kind: 'spdy', version: 1 }],
    ['exec', { upgrade: 'SPDY/3.1', 'x-stream-protocol-version': 'v9.other.example' }, { kind: 'opaque' }],
    ['portforward', { upgrade: 'SPDY/3.1' }, { kind: 'opaque' }],
    ['portforward', { upgrade: 'websocket', 'sec-websocket-protocol': 'SPDY/3.1+portforward.k8s.io' }, { kind: 'opaque', why: expect.stringMatching(/byte counts/) as string }],
  ])('%s %j', (subresource, headers, expected) => {
    expect(sessionFraming(subresource, headers)).toMatchObject(expected);
  });
});

describe('createSessionTap', () => {
  it('records each channel and forwards every byte, frames split across chunks included', () => {
    const { tap, joined } = recorded();
    const up = Buffer.concat([fromServer('stdout', '$ '), fromServer('stderr', 'warn\n'), fromServer('error', '{"status":"Success"}')]);
    const down = Buffer.concat([fromClient('resize', '{"Width":120,"Height":40}'), fromClient('stdin', 'ls\n')]);
    for (let at = 0; at < down.length; at += 5) expect(tap.fromClient(down.subarray(at, at + 5))).toBe(Math.min(5, down.length - at));
    for (let at = 0; at < up.length; at += 7) expect(tap.fromUpstream(up.subarray(at, at + 7))).toBe(Math.min(7, up.length - at));
    expect(joined()).toEqual([
      ['resize', '{"Width":120,"Height":40}'],
      ['stdin', 'ls\n'],
      ['stdout', '$ '],
      ['stderr', 'warn\n'],
      ['error', '{"status":"Success"}'],
    ]);
  });

  it('sums up bytes when the proxy closes both sides', async () => {
    const { tap } = recorded();
    tap.fromClient(fromClient('stdin', 'x'));
    tap.fromUpstream(fromServer('stdout', 'yy'));
    tap.close();
    await expect(tap.closed).resolves.toEqual({ bytesIn: 8, bytesOut: 5, endedBy: undefined });
  });

  it('marks undecodable data and keeps forwarding it', () => {
    const { tap, seen } = recorded();
    const garbage = Buffer.from([0xf3, 0x00, 0x01]);
    expect(tap.fromUpstream(garbage)).toBe(3);
    expect(tap.fromUpstream(fromServer('stdout', 'after'))).toBeGreaterThan(0);
    expect(seen()).toEqual([['marker', expect.stringMatching(/undecodable: what the API server sent .*reserved bits/) as string]]);
  });

  it('stop-recording: writes a marker at the cap and keeps forwarding', () => {
    const { tap, stream, seen, ends } = recorded({ maxBytes: 10 });
    for (let i = 0; i < 5; i++) {
      const frame = fromServer('stdout', 'abcdef');
      expect(tap.fromUpstream(frame)).toBe(frame.length);
    }
    expect(stream.truncated).toBe(true);
    expect(ends).toEqual([]);
    expect(seen()).toEqual([
      ['stdout', 'abcdef'],
      ['stdout', 'abcd'],
      ['marker', expect.stringContaining('cap of 10 bytes') as string],
    ]);
  });

  it('end-session: forwards up to the end of the frame in flight, then sends the Status and a close frame', async () => {
    const { tap, seen, ends } = recorded({ maxBytes: 10, onLimit: 'end-session' });
    const big = fromServer('stdout', 'x'.repeat(30));
    const next = fromServer('stdout', 'not forwarded');
    // The cap is hit inside the first half of the frame: the rest of that frame still goes, the next one does not.
    expect(tap.fromUpstream(big.subarray(0, 12))).toBe(12);
    expect(tap.fromUpstream(Buffer.concat([big.subarray(12), next]))).toBe(big.length - 12);
    expect(tap.fromClient(fromClient('stdin', 'more'))).toBe(0);
    await Promise.resolve();
    expect(ends).toHaveLength(1);
    const payload: Buffer[] = [];
    const reader = new WebSocketFrameReader({ messageStart: () => undefined, payload: (d) => payload.push(Buffer.from(d)) });
    expect(reader.push(ends[0]!)).toBe(ends[0]!.length);
    expect(reader.failure).toBeUndefined();
    // A binary message on the error channel (3), then a normal close (1000): client-go then reads the Status to its end.
    expect([...ends[0]!.subarray(-4)]).toEqual([0x88, 0x02, 0x03, 0xe8]);
    const message = Buffer.concat(payload);
    expect(message[0]).toBe(3);
    expect(JSON.parse(message.subarray(1).toString())).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'RequestEntityTooLarge', code: 413 });
    expect(seen().map(([c]) => c)).toEqual(['stdout', 'stdout', 'marker', 'marker']);
    expect(seen()[3]![1]).toMatch(/the gateway ended the session/);
    tap.close();
    await expect(tap.closed).resolves.toMatchObject({ endedBy: 'GH_SESSION_LIMIT' });
  });

  it('end-session before v4: the message as plain text on the error channel', async () => {
    const { tap, ends } = recorded({ maxBytes: 4, onLimit: 'end-session', version: 3 });
    tap.fromUpstream(fromServer('stdout', 'y'.repeat(10)));
    await Promise.resolve();
    expect(ends[0]!.toString()).toContain('\x03the session');
    expect(ends[0]!.toString()).not.toContain('GH_SESSION_LIMIT');
  });

  it('end-session without a frame boundary in sight: closes without a farewell after the grace period', async () => {
    const { tap, ends } = recorded({ maxBytes: 4, onLimit: 'end-session' });
    tap.fromUpstream(fromServer('stdout', 'y'.repeat(100)).subarray(0, 20));
    await new Promise((r) => setTimeout(r, 80));
    expect(ends).toEqual([undefined]);
  });

  it('ends the session when the store cannot take its chunks (fail closed)', async () => {
    const { tap, ends } = recorded({ failStore: true });
    tap.fromUpstream(fromServer('stdout', 'hello'));
    await new Promise((r) => setTimeout(r, 0));
    expect(ends).toHaveLength(1);
    expect(ends[0]!.toString()).toContain('GH_AUDIT_UNAVAILABLE');
  });

  it('records nothing and forwards everything when nobody attached a recorder', () => {
    const tap = createSessionTap({ framing: { kind: 'channels', version: 5 }, end: () => undefined });
    const frame = fromServer('stdout', 'hi');
    expect(tap.fromUpstream(frame)).toBe(frame.length);
  });

  it('opaque sessions: one marker saying why, byte counts only', async () => {
    const chunks: StreamChunk[] = [];
    const stream = createStreamRecorder((c, owner) => (chunks.push(c), owner.chunkSettled(undefined)), { kind: 'portforward' });
    const tap = createSessionTap({ framing: sessionFraming('portforward', { upgrade: 'SPDY/3.1' }), end: () => undefined });
    tap.record(stream, 'stop-recording');
    expect(tap.fromClient(Buffer.from('GET / HTTP/1.1'))).toBe(14);
    tap.close();
    await expect(tap.closed).resolves.toMatchObject({ bytesIn: 14 });
    expect(chunks.map((c) => c.channel)).toEqual(['marker']);
  });
});

describe('createSessionTap over SPDY/3.1', () => {
  const data = (stream: keyof typeof STREAMS, text: string, flags = 0) => dataFrame(STREAMS[stream], Buffer.from(text), flags);

  it('records each stream by its streamType, both directions, frames split across chunks', async () => {
    const { client, server } = await openingFrames();
    const { tap, joined } = recorded({ spdy: true });
    const down = Buffer.concat([client, data('resize', '{"Width":120,"Height":40}'), data('stdin', 'ls\n'), data('stdin', '', FLAG_FIN)]);
    const up = Buffer.concat([server, data('stdout', '$ '), data('stderr', 'warn\n'), data('error', '{"status":"Success"}', FLAG_FIN)]);
    for (let at = 0; at < down.length; at += 5) expect(tap.fromClient(down.subarray(at, at + 5))).toBe(Math.min(5, down.length - at));
    for (let at = 0; at < up.length; at += 7) expect(tap.fromUpstream(up.subarray(at, at + 7))).toBe(Math.min(7, up.length - at));
    expect(joined()).toEqual([
      ['resize', '{"Width":120,"Height":40}'],
      ['stdin', 'ls\n'],
      ['stdout', '$ '],
      ['stderr', 'warn\n'],
      ['error', '{"status":"Success"}'],
    ]);
  });

  it('does not record data on streams it was not told the type of', () => {
    const { tap, seen } = recorded({ spdy: true });
    expect(tap.fromUpstream(data('stdout', 'unnamed'))).toBe(15);
    expect(seen()).toEqual([]);
  });

  it('marks undecodable data and keeps forwarding it', () => {
    const { tap, seen } = recorded({ spdy: true });
    const garbage = Buffer.from('\x80\x02\x00\x06\x00\x00\x00\x04ping', 'latin1');
    expect(tap.fromClient(garbage)).toBe(garbage.length);
    expect(tap.fromClient(data('stdin', 'after'))).toBe(13);
    expect(seen()).toEqual([['marker', expect.stringMatching(/undecodable: what the client sent .*version 2/) as string]]);
  });

  it('stop-recording: writes a marker at the cap and keeps forwarding', async () => {
    const { client, server } = await openingFrames();
    const { tap, seen, ends } = recorded({ spdy: true, maxBytes: 10 });
    tap.fromClient(client);
    tap.fromUpstream(server);
    for (let i = 0; i < 3; i++) expect(tap.fromUpstream(data('stdout', 'abcdef'))).toBe(14);
    expect(ends).toEqual([]);
    expect(seen()).toEqual([
      ['stdout', 'abcdef'],
      ['stdout', 'abcd'],
      ['marker', expect.stringContaining('cap of 10 bytes') as string],
    ]);
  });

  it('end-session: finishes the frame in flight, then the Status on the error stream and FIN on stdout and stderr', async () => {
    const { client, server } = await openingFrames();
    const { tap, seen, ends } = recorded({ spdy: true, maxBytes: 10, onLimit: 'end-session' });
    tap.fromClient(client);
    tap.fromUpstream(Buffer.concat([server, data('stderr', '', FLAG_FIN)]));
    const big = data('stdout', 'x'.repeat(30));
    expect(tap.fromUpstream(big.subarray(0, 12))).toBe(12);
    expect(tap.fromUpstream(Buffer.concat([big.subarray(12), data('stdout', 'not forwarded')]))).toBe(big.length - 12);
    expect(tap.fromClient(data('stdin', 'more'))).toBe(0);
    await Promise.resolve();
    expect(ends).toHaveLength(1);
    const frames: [number, string][] = [];
    const finished: number[] = [];
    const reader = new SpdyFrameReader({ streamOpened: () => undefined, data: (id, d) => frames.push([id, d.toString()]), finished: (id) => finished.push(id) });
    expect(reader.push(ends[0]!)).toBe(ends[0]!.length);
    expect(reader.failure).toBeUndefined();
    expect(frames).toHaveLength(1);
    expect(frames[0]![0]).toBe(STREAMS.error);
    expect(JSON.parse(frames[0]![1])).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'RequestEntityTooLarge', code: 413 });
    // stderr was already finished by the API server: only the error stream and stdout get a FIN.
    expect(finished).toEqual([STREAMS.error, STREAMS.stdout]);
    expect(seen().map(([c]) => c)).toEqual(['stdout', 'stdout', 'marker', 'marker']);
    tap.close();
    await expect(tap.closed).resolves.toMatchObject({ endedBy: 'GH_SESSION_LIMIT' });
  });

  it('end-session with no error stream open: closes both sides without a farewell', async () => {
    const { tap, ends } = recorded({ spdy: true });
    tap.endSession(new GatehouseError('GH_AUDIT_UNAVAILABLE', 'store down'));
    await Promise.resolve();
    expect(ends).toEqual([undefined]);
  });
});
