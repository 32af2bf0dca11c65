import { describe, expect, it } from 'vitest';
import { createMasker, createSessionOutputMasker } from '../../../src/masking/index.js';
import { serverFrame, WebSocketFrameReader } from '../../../src/record/websocket-frames.js';
import { fake, sizedMask } from './fixtures.js';

const masker = createMasker();
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;

/** A channel.k8s.io message as the API server sends it: one binary frame, channel byte first. */
const message = (channel: number, text: string): Buffer => serverFrame(0x2, Buffer.concat([Buffer.from([channel]), Buffer.from(text)]));

/** A message split into `parts` frames (first, continuations…, final). */
function fragmented(channel: number, parts: string[]): Buffer {
  return Buffer.concat(
    parts.map((part, i) => {
      const payload = i === 0 ? Buffer.concat([Buffer.from([channel]), Buffer.from(part)]) : Buffer.from(part);
      const frame = serverFrame(i === 0 ? 0x2 : 0x0, payload);
      if (i < parts.length - 1) frame[0] = frame[0]! & 0x7f;
      return frame;
    }),
  );
}

/** Decodes what the masker emitted, as the client would: the data messages by channel, and the control frames, in order. */
function decode(bytes: Buffer): { events: string[]; stdout: string; stderr: string } {
  const events: string[] = [];
  const channels = new Map<number, string>();
  let current: Buffer[] = [];
  const r = new WebSocketFrameReader({
    messageStart: () => (current = []),
    payload: (data) => current.push(Buffer.from(data)),
    messageEnd: () => {
      const m = Buffer.concat(current);
      const channel = m[0]!;
      channels.set(channel, (channels.get(channel) ?? '') + m.subarray(1).toString());
      events.push(`${channel}:${m.subarray(1).toString()}`);
    },
    control: (opcode, payload) => events.push(`control ${opcode}:${payload.toString('hex')}`),
  });
  expect(r.push(bytes)).toBe(bytes.length);
  expect(r.failure).toBeUndefined();
  expect(r.atFrameBoundary).toBe(true);
  return { events, stdout: channels.get(STDOUT) ?? '', stderr: channels.get(STDERR) ?? '' };
}

/** Feeds `chunks` and ends the stream; returns everything emitted. */
function run(chunks: Buffer[]): Buffer {
  const output = createSessionOutputMasker(masker);
  const out = chunks.map((c) => output.write(c));
  out.push(output.end());
  expect(output.failure).toBeUndefined();
  return Buffer.concat(out);
}

const token = fake.githubClassic;

describe('exec output masking over WebSocket', () => {
  const session = Buffer.concat([
    message(STDOUT, 'starting\n'),
    message(STDOUT, `token=${token}\nand `),
    message(STDERR, `warning: bearer Bearer ${fake.jwt}\n`),
    message(STDOUT, 'done\n'),
    message(ERROR, '{"metadata":{},"status":"Success"}'),
    serverFrame(0x8, Buffer.from([0x03, 0xe8])),
  ]);
  const expected = {
    stdout: `starting\ntoken=${sizedMask('github-token', token)}\nand done\n`,
    stderr: `warning: bearer Bearer ${sizedMask('jwt', fake.jwt)}\n`,
  };

  it('masks stdout and stderr, passes the exit Status and the close after them', () => {
    const { events, stdout, stderr } = decode(run([session]));
    expect({ stdout, stderr }).toEqual(expected);
    expect(events.slice(-2)).toEqual(['3:{"metadata":{},"status":"Success"}', 'control 8:03e8']);
  });

  it('gives the same output however the bytes are split into chunks, and never a piece of the token', () => {
    for (let at = 1; at < session.length; at++) {
      const out = run([session.subarray(0, at), session.subarray(at)]);
      expect(out.includes(token.slice(0, 12)), `split at ${at}`).toBe(false);
      expect(out.includes(token.slice(-12)), `split at ${at}`).toBe(false);
      const { stdout, stderr, events } = decode(out);
      expect({ stdout, stderr }, `split at ${at}`).toEqual(expected);
      expect(events.at(-1)).toBe('control 8:03e8');
    }
  });

  it('masks a token split across fragmented frames and across messages, at every split point', () => {
    const line = `export GITHUB_TOKEN=${token}\n`;
    for (let at = 1; at < line.length; at++) {
      const parts = [line.slice(0, at), line.slice(at)];
      for (const bytes of [fragmented(STDOUT, parts), Buffer.concat(parts.map((p) => message(STDOUT, p)))]) {
        const out = run([bytes]);
        expect(out.includes(token.slice(4, 16)), `split at ${at}`).toBe(false);
        expect(decode(out).stdout).toBe(`export GITHUB_TOKEN=${sizedMask('github-token', token)}\n`);
      }
    }
    // One byte per frame, one byte per chunk.
    const out = run([...fragmented(STDOUT, [...line])].map((b) => Buffer.from([b])));
    expect(decode(out).stdout).toBe(`export GITHUB_TOKEN=${sizedMask('github-token', token)}\n`);
  });

  it('passes a ping between fragments, and a fragmented error message whole', () => {
    const bytes = fragmented(STDOUT, ['ab', 'c\n']);
    const ping = serverFrame(0x9, Buffer.from('hi'));
    const firstFrameEnd = 2 + 3;
    const out = run([bytes.subarray(0, firstFrameEnd), ping, bytes.subarray(firstFrameEnd), fragmented(ERROR, ['{"status":', '"Failure"}'])]);
    expect(decode(out).events).toEqual([`control 9:${Buffer.from('hi').toString('hex')}`, '1:abc\n', '3:{"status":"Failure"}']);
  });

  it('releases a prompt up to its last blank at once, and the rest only when asked', () => {
    const output = createSessionOutputMasker(masker);
    expect(decode(output.write(message(STDOUT, '$ ec'))).events).toEqual(['1:$ ']);
    expect(output.holding).toBe(true);
    expect(decode(output.release()).events).toEqual(['1:ec']);
    expect(output.holding).toBe(false);
    // The context stays: a value released after its key is still masked.
    expect(decode(output.write(message(STDOUT, 'password='))).events).toEqual([]);
    decode(output.release());
    expect(decode(output.write(message(STDOUT, 'hunter2-db\n'))).events).toEqual([`1:${sizedMask('assignment', 'hunter2-db')}\n`]);
    expect(output.report()).toMatchObject({ masked: 1, paths: ['stdout line 1'], detectors: ['assignment'] });
  });

  it('stops for good on a broken frame, emitting nothing raw', () => {
    const output = createSessionOutputMasker(masker);
    const broken = message(STDOUT, `${token}\n`);
    broken[0] = broken[0]! | 0x40; // a reserved bit
    expect(output.write(broken).length).toBe(0);
    expect(output.failure).toContain('reserved bits');
    expect(output.write(message(STDOUT, 'later\n')).length).toBe(0);
    expect(output.end().length).toBe(0);
  });
});
