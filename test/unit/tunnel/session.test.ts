import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeFrame, decodeFrame } from '../../../src/tunnel/frames.js';
import { createTunnelSession, TunnelClosedError, TunnelResetError } from '../../../src/tunnel/session.js';
import type { TunnelStream } from '../../../src/tunnel/session.js';
import { prng } from '../../helpers/prng.js';
import { digest, next, sessionPair, sha256, writeAll, wsPair } from './pair.js';
import type { WsPair } from './pair.js';

const KiB = 1024;
const MiB = 1024 * KiB;
let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

async function pair(options: Parameters<typeof sessionPair>[0] = {}) {
  const p = await sessionPair(options);
  cleanup = () => p.close();
  return p;
}

async function raw(clientOptions: Parameters<typeof wsPair>[0] = {}): Promise<WsPair> {
  const p = await wsPair(clientOptions);
  cleanup = () => p.close();
  return p;
}

function closed(stream: TunnelStream): Promise<unknown> {
  return stream.closed ? Promise.resolve() : next(stream, 'close');
}

function randomData(random: () => number, max: number): Buffer {
  return randomBytes(Math.floor(random() * max));
}

describe('tunnel session streams', () => {
  it('carries many concurrent streams both ways with random sizes intact', async () => {
    const random = prng(9);
    const { gateway, agent } = await pair({ gateway: { initialWindowBytes: 64 * KiB, maxFrameBytes: 16 * KiB }, agent: { initialWindowBytes: 64 * KiB, maxFrameBytes: 16 * KiB } });
    const count = 40;
    const upward = Array.from({ length: count }, () => randomData(random, 2 * MiB));
    const downward = Array.from({ length: count }, () => randomData(random, 2 * MiB));
    // The agent answers each stream with the data chosen by the first 4 bytes' index, while reading the gateway's.
    const agentSide: Promise<{ index: number; received: { bytes: number; sha256: string } }>[] = [];
    agent.on('stream', (stream) => {
      agentSide.push(
        (async () => {
          const first = await new Promise<Buffer>((resolve) => stream.once('readable', () => resolve(stream.read(4) as Buffer)));
          const index = first.readUInt32BE(0);
          const [received] = await Promise.all([digest(stream), writeAll(stream, downward[index]!, 100 * KiB)]);
          return { index, received };
        })(),
      );
    });
    const gatewaySide = upward.map(async (data, index) => {
      const stream = gateway.openStream();
      const prefix = Buffer.alloc(4);
      prefix.writeUInt32BE(index);
      const [received] = await Promise.all([digest(stream), writeAll(stream, Buffer.concat([prefix, data]), 300 * KiB)]);
      return received;
    });

    const fromAgent = await Promise.all(gatewaySide);
    fromAgent.forEach((received, index) => expect(received).toEqual({ bytes: downward[index]!.length, sha256: sha256(downward[index]!) }));
    const atAgent = await Promise.all(agentSide);
    expect(atAgent).toHaveLength(count);
    for (const { index, received } of atAgent) expect(received).toEqual({ bytes: upward[index]!.length, sha256: sha256(upward[index]!) });
    expect(gateway.openStreams()).toBe(0);
    expect(agent.openStreams()).toBe(0);
  });

  it('carries 64 MiB through one stream', async () => {
    const { gateway, agent } = await pair();
    const data = randomBytes(64 * MiB);
    const accepted = next<TunnelStream>(agent, 'stream');
    const stream = gateway.openStream();
    const received = accepted.then(digest);
    await writeAll(stream, data, 1 * MiB);
    expect(await received).toEqual({ bytes: data.length, sha256: sha256(data) });
    (await accepted).end();
    await closed(stream.resume());
    expect(gateway.stats().bytesOut).toBeGreaterThan(data.length);
    expect(agent.stats().bytesIn).toBe(gateway.stats().bytesOut);
  });

  it('blocks only the sender of a stalled stream while another stream moves 20 MiB', async () => {
    const window = 256 * KiB;
    const { gateway, agent } = await pair();
    const accepted: TunnelStream[] = [];
    agent.on('stream', (stream) => accepted.push(stream));

    // Stream A: its agent end never reads. Keep writing; count what the tunnel accepted.
    const a = gateway.openStream();
    let aAccepted = 0;
    let aWritten = 0;
    const chunk = 32 * KiB;
    let fedA: () => void = () => undefined;
    const allWrittenA = new Promise<void>((resolve) => (fedA = resolve));
    const feedA = (): void => {
      while (aWritten < 4 * MiB) {
        aWritten += chunk;
        const more = a.write(Buffer.alloc(chunk, 0x61), () => {
          aAccepted += chunk;
        });
        if (!more) {
          a.once('drain', feedA);
          return;
        }
      }
      fedA();
    };
    feedA();

    // Stream B moves 20 MiB completely meanwhile.
    const b = gateway.openStream();
    const dataB = randomBytes(20 * MiB);
    await new Promise((resolve) => setImmediate(resolve));
    const receivedB = new Promise<{ bytes: number; sha256: string }>((resolve) => {
      const waitForB = (): void => {
        const streamB = accepted.find((s) => s.id === b.id);
        if (streamB) resolve(digest(streamB));
        else agent.once('stream', waitForB);
      };
      waitForB();
    });
    await writeAll(b, dataB);
    expect(await receivedB).toEqual({ bytes: dataB.length, sha256: sha256(dataB) });

    // A's sender got exactly one window through and no more; its agent end holds at most that.
    const streamA = accepted.find((s) => s.id === a.id)!;
    expect(aAccepted).toBe(window);
    expect(aWritten).toBeGreaterThan(window);
    expect(streamA.readableLength).toBeLessThanOrEqual(window);

    // Once A's consumer reads, A completes too.
    const receivedA = digest(streamA);
    await allWrittenA;
    a.end();
    expect((await receivedA).bytes).toBe(4 * MiB);
    expect(aAccepted).toBe(4 * MiB);
    for (const s of accepted) s.end();
    await Promise.all([closed(a.resume()), closed(b.resume())]);
    expect(gateway.openStreams()).toBe(0);
  });

  it('half-closes with END both ways', async () => {
    const { gateway, agent } = await pair();
    const accepted = next<TunnelStream>(agent, 'stream');
    const stream = gateway.openStream();
    stream.end('ping');
    const atAgent = await accepted;
    expect((await digest(atAgent)).bytes).toBe(4);
    // The agent may still write after the gateway ended its side.
    expect(atAgent.writable).toBe(true);
    atAgent.end('pong after your end');
    expect(await digest(stream)).toEqual({ bytes: 19, sha256: sha256(Buffer.from('pong after your end')) });
    await Promise.all([closed(stream), closed(atAgent)]);
    expect(gateway.openStreams()).toBe(0);
    expect(agent.openStreams()).toBe(0);
  });

  it('propagates RESET with its reason, both ways', async () => {
    const { gateway, agent } = await pair();
    const accepted = next<TunnelStream>(agent, 'stream');
    const first = gateway.openStream();
    first.on('error', () => undefined);
    first.write('x');
    const atAgent = await accepted;
    const agentError = next<Error>(atAgent, 'error');
    first.destroy(new Error('the client went away'));
    const error = await agentError;
    expect(error).toBeInstanceOf(TunnelResetError);
    expect(error).toMatchObject({ code: 'ECONNRESET', reason: 'the client went away' });

    const acceptedSecond = next<TunnelStream>(agent, 'stream');
    const second = gateway.openStream();
    second.write('y');
    const gatewayError = next<Error>(second, 'error');
    const secondAtAgent = await acceptedSecond;
    secondAtAgent.on('error', () => undefined);
    secondAtAgent.destroy(new Error('the API server hung up'));
    expect(await gatewayError).toMatchObject({ code: 'ECONNRESET', reason: 'the API server hung up' });
    await closed(second);
    expect(gateway.openStreams()).toBe(0);
  });

  it('answers DATA for an unknown stream with RESET and stays open', async () => {
    const { gatewayWs, agentWs } = await raw();
    const agent = createTunnelSession(agentWs, { side: 'agent' });
    const answer = next<Buffer>(gatewayWs, 'message');
    gatewayWs.send(encodeFrame({ type: 'data', streamId: 5, data: Buffer.from('late') }));
    expect(decodeFrame(await answer)).toEqual({ type: 'reset', streamId: 5, reason: 'no such stream' });
    expect(agent.closed).toBe(false);
  });

  it('emits timeout after the idle time set with setTimeout, as a socket does', async () => {
    const { gateway, agent } = await pair();
    // The agent end stays open until the pair is torn down.
    agent.on('stream', (s) => s.on('error', () => undefined));
    const stream = gateway.openStream();
    let fired = 0;
    await new Promise<void>((resolve) =>
      stream.setTimeout(20, () => {
        fired++;
        resolve();
      }),
    );
    expect(fired).toBe(1);
    expect(stream.timeout).toBe(20);
    stream.setTimeout(0);
    expect(stream.timeout).toBe(0);
    stream.destroy();
  });
});

describe('tunnel session lifecycle', () => {
  it('exchanges CONTROL messages', async () => {
    const { gateway, agent } = await pair();
    const received = next<Record<string, unknown>>(gateway, 'control');
    agent.sendControl({ type: 'hello', agentId: 'a-1' });
    expect(await received).toEqual({ type: 'hello', agentId: 'a-1' });
  });

  it('destroys every open stream with ETUNNELCLOSED on both ends when the session closes', async () => {
    const { gateway, agent } = await pair();
    const accepted: TunnelStream[] = [];
    agent.on('stream', (stream) => accepted.push(stream));
    const streams = [gateway.openStream(), gateway.openStream(), gateway.openStream()];
    for (const stream of streams) stream.write('hi');
    while (accepted.length < 3) await next(agent, 'stream');
    const gatewayErrors = Promise.all(streams.map((s) => next<Error>(s, 'error')));
    const agentErrors = Promise.all(accepted.map((s) => next<Error>(s, 'error')));
    let closes = 0;
    gateway.on('close', () => closes++);
    const agentClosed = next<{ reason: string }>(agent, 'close');

    gateway.close('the gateway is shutting down');

    for (const err of await gatewayErrors) {
      expect(err).toBeInstanceOf(TunnelClosedError);
      expect(err).toMatchObject({ code: 'ETUNNELCLOSED', message: 'the tunnel to the cluster agent closed: the gateway is shutting down' });
    }
    for (const err of await agentErrors) expect(err).toMatchObject({ code: 'ETUNNELCLOSED', reason: 'the gateway is shutting down' });
    expect(await agentClosed).toEqual({ reason: 'the gateway is shutting down' });
    gateway.close('again');
    expect(closes).toBe(1);
    expect(gateway.closed).toBe(true);
    expect(() => gateway.openStream()).toThrow(TunnelClosedError);
  });

  it('closes when the WebSocket drops', async () => {
    const { gateway, agentWs } = await pair();
    const stream = gateway.openStream();
    const error = next<Error>(stream, 'error');
    const closed = next<{ reason: string }>(gateway, 'close');
    agentWs.terminate();
    expect((await closed).reason).toMatch(/closed with code 1006/);
    expect(await error).toMatchObject({ code: 'ETUNNELCLOSED' });
  });

  it('closes with "no answer to pings" when the peer stops answering', async () => {
    // The agent end does not answer pings (ws answers them itself unless told not to).
    const { gatewayWs } = await raw({ autoPong: false });
    const gateway = createTunnelSession(gatewayWs, { side: 'gateway', pingIntervalMs: 10 });
    expect(await next(gateway, 'close')).toEqual({ reason: 'no answer to pings' });
  });

  it('stays open while the peer answers pings', async () => {
    const { gatewayWs, agentWs } = await raw();
    const gateway = createTunnelSession(gatewayWs, { side: 'gateway', pingIntervalMs: 10 });
    let pings = 0;
    await new Promise<void>((resolve) =>
      agentWs.on('ping', () => {
        if (++pings === 10) resolve();
      }),
    );
    expect(gateway.closed).toBe(false);
  });
});

describe('tunnel session protocol violations', () => {
  async function agentClosesOn(send: (ws: WsPair['gatewayWs']) => void): Promise<string> {
    const { gatewayWs, agentWs } = await raw();
    const agent = createTunnelSession(agentWs, { side: 'agent', initialWindowBytes: 64 * KiB, maxFrameBytes: 16 * KiB });
    const streams: TunnelStream[] = [];
    agent.on('stream', (stream) => {
      streams.push(stream);
      stream.on('error', () => undefined);
    });
    const closed = next<{ reason: string }>(agent, 'close');
    const peerSaw = next<number>(gatewayWs, 'close');
    send(gatewayWs);
    const { reason } = await closed;
    expect(await peerSaw).toBe(1002);
    for (const stream of streams) expect(stream.destroyed).toBe(true);
    return reason;
  }

  it.each([
    ['garbage', (ws: WsPair['gatewayWs']) => ws.send(Buffer.from([1, 2])), /protocol error: .*shorter than its 5-byte header/],
    ['an unknown frame type', (ws: WsPair['gatewayWs']) => ws.send(Buffer.from([99, 0, 0, 0, 1])), /protocol error: unknown frame type 99/],
    ['a text message', (ws: WsPair['gatewayWs']) => ws.send('hello'), /protocol error: a text message/],
    [
      'an oversized DATA frame',
      (ws: WsPair['gatewayWs']) => {
        ws.send(encodeFrame({ type: 'open', streamId: 1 }));
        ws.send(encodeFrame({ type: 'data', streamId: 1, data: Buffer.alloc(16 * KiB + 1) }));
      },
      /protocol error: a DATA frame of 16385 bytes exceeds 16384/,
    ],
    [
      // The agent's stream is never read, so it returns no credit once its buffer is full.
      'DATA beyond the granted credit',
      (ws: WsPair['gatewayWs']) => {
        ws.send(encodeFrame({ type: 'open', streamId: 1 }));
        for (let i = 0; i < 5; i++) ws.send(encodeFrame({ type: 'data', streamId: 1, data: Buffer.alloc(16 * KiB) }));
      },
      /protocol error: stream 1 sent 81920 bytes beyond its 65536-byte window/,
    ],
    [
      'an OPEN that reuses a stream id',
      (ws: WsPair['gatewayWs']) => {
        ws.send(encodeFrame({ type: 'open', streamId: 3 }));
        ws.send(encodeFrame({ type: 'open', streamId: 1 }));
      },
      /protocol error: OPEN for stream 1, which is not a new odd id/,
    ],
    [
      'more credit than was sent',
      (ws: WsPair['gatewayWs']) => {
        ws.send(encodeFrame({ type: 'open', streamId: 1 }));
        ws.send(encodeFrame({ type: 'credit', streamId: 1, bytes: 1 }));
      },
      /protocol error: stream 1 returned more credit than was sent/,
    ],
  ])('closes the session on %s', async (_what, send, reason) => {
    expect(await agentClosesOn(send)).toMatch(reason);
  });

  it('closes the gateway session when the agent tries to open a stream', async () => {
    const { gatewayWs, agentWs } = await raw();
    const gateway = createTunnelSession(gatewayWs, { side: 'gateway' });
    const closed = next<{ reason: string }>(gateway, 'close');
    agentWs.send(encodeFrame({ type: 'open', streamId: 1 }));
    expect(await closed).toEqual({ reason: 'protocol error: the agent may not open streams' });
  });
});
