import type { IncomingHttpHeaders } from 'node:http';
import { Readable, Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { UpstreamRequest, UpstreamResponse } from '../../../src/upstream/exchange.js';
import { createWatchSharing, shareableWatch } from '../../../src/upstream/shared-watch.js';
import type { WatchSharingOptions } from '../../../src/upstream/shared-watch.js';

// The sharing's own logic (who shares, replay, timeouts, leaving, failures) against an upstream stand-in; the e2e
// test (test/e2e/shared-watch.test.ts) runs it on a real API server and kubectl.

class FakeAnswer extends Readable implements UpstreamResponse {
  constructor(
    readonly statusCode: number,
    readonly headers: IncomingHttpHeaders,
  ) {
    super();
  }
  readonly statusMessage = '';
  override _read(): void {}
}

/** One request the sharing opened upstream: answered by the test. */
class FakeUpstreamRequest extends Writable {
  ended = false;
  cancelled = false;
  answer: FakeAnswer | undefined;
  constructor(readonly path: string) {
    super({ autoDestroy: false });
  }
  override _write(_c: Buffer, _e: BufferEncoding, cb: () => void): void {
    cb();
  }
  override _final(cb: () => void): void {
    this.ended = true;
    cb();
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.cancelled = true;
    cb(err);
  }
  respond(status = 200): FakeAnswer {
    this.answer = new FakeAnswer(status, { 'content-type': 'application/json' });
    this.emit('response', this.answer);
    return this.answer;
  }
}

const WATCH = '/api/v1/namespaces/a/configmaps?watch=1&resourceVersion=42';

function setUp(options: WatchSharingOptions = {}) {
  const sharing = createWatchSharing(options);
  const opened: FakeUpstreamRequest[] = [];
  const open = (path: string): Promise<UpstreamRequest> => {
    const req = new FakeUpstreamRequest(path);
    opened.push(req);
    return Promise.resolve(req);
  };
  /** A client's watch: its request, and what its answer delivered. */
  const client = (path = WATCH, headers: Record<string, string> = { accept: 'application/json' }, body?: string, multiplexed = false) => {
    const req = sharing.request('GET', path, headers, open, multiplexed);
    if (req === undefined) throw new Error(`not shared: ${path}`);
    const seen = { status: 0, data: '', ended: false, aborted: false, error: undefined as Error | undefined, requestError: undefined as Error | undefined, response: undefined as UpstreamResponse | undefined };
    req.on('response', (res: UpstreamResponse) => {
      seen.status = res.statusCode ?? 0;
      seen.response = res;
      res.on('data', (c: Buffer) => (seen.data += c.toString()));
      res.on('end', () => (seen.ended = true));
      res.on('aborted', () => (seen.aborted = true));
      res.on('error', (err) => (seen.error = err));
    });
    req.on('error', (err) => (seen.requestError = err));
    req.end(body);
    return { req, seen };
  };
  return { sharing, opened, client };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

afterEach(() => {
  vi.useRealTimers();
});

describe('shareableWatch', () => {
  it('keys a watch from an exact resourceVersion on everything but its timeout and per-request headers', () => {
    const a = shareableWatch('GET', `${WATCH}&timeoutSeconds=300&labelSelector=app%3Dweb`, { accept: 'application/json', 'user-agent': 'kubectl/1', 'audit-id': 'x' });
    const b = shareableWatch('GET', '/api/v1/namespaces/a/configmaps?labelSelector=app%3Dweb&resourceVersion=42&watch=1', { accept: 'application/json', 'user-agent': 'client-go', 'audit-id': 'y' });
    expect(a).toBeDefined();
    expect(a!.key).toBe(b!.key);
    expect(a!.upstreamPath).toBe(`${WATCH}&labelSelector=app%3Dweb`);
    expect(a!.timeoutMs).toBe(300_000);
    expect(b!.timeoutMs).toBeUndefined();
    // A timeout no timer can hold is none of the gateway's to keep (a timer would fire at once).
    expect(shareableWatch('GET', `${WATCH}&timeoutSeconds=999999999`, {})!.timeoutMs).toBeUndefined();
    expect(shareableWatch('GET', `${WATCH}&timeoutSeconds=0`, {})!.timeoutMs).toBeUndefined();
    // What changes the answer changes the key.
    expect(shareableWatch('GET', WATCH, { accept: 'application/vnd.kubernetes.protobuf' })!.key).not.toBe(shareableWatch('GET', WATCH, { accept: 'application/json' })!.key);
    expect(shareableWatch('GET', WATCH.replace('42', '43'), {})!.key).not.toBe(shareableWatch('GET', WATCH, {})!.key);
    expect(shareableWatch('GET', `${WATCH}&fieldSelector=metadata.name%3Dx`, {})!.key).not.toBe(shareableWatch('GET', WATCH, {})!.key);
    expect(shareableWatch('GET', WATCH, { 'impersonate-user': 'alice' })!.key).not.toBe(shareableWatch('GET', WATCH, { 'impersonate-user': 'bob' })!.key);
  });

  it('shares no watch whose answer depends on when it starts, and nothing the API server would refuse', () => {
    const none = [
      '/api/v1/namespaces/a/configmaps?watch=1',
      '/api/v1/namespaces/a/configmaps?watch=1&resourceVersion=',
      '/api/v1/namespaces/a/configmaps?watch=1&resourceVersion=0',
      `${WATCH}&sendInitialEvents=true&resourceVersionMatch=NotOlderThan`,
      `${WATCH}&resourceVersion=43`,
      `${WATCH}&timeoutSeconds=abc`,
      `${WATCH}&timeoutSeconds=-1`,
      `${WATCH}&timeoutSeconds=1&timeoutSeconds=2`,
      `${WATCH}&labelSelector=%zz`,
      '/api/v1/namespaces/a/configmaps?resourceVersion=42',
      '/api/v1/namespaces/a/pods/p/log?follow=true',
    ];
    for (const path of none) expect(shareableWatch('GET', path, {}), path).toBeUndefined();
    expect(shareableWatch('POST', WATCH, {})).toBeUndefined();
    // The legacy /watch/ path shares too.
    expect(shareableWatch('GET', '/api/v1/watch/namespaces/a/configmaps?resourceVersion=42', {})).toBeDefined();
  });
});

describe('createWatchSharing', () => {
  it('serves identical watches from one upstream watch, every chunk to every client', async () => {
    const { sharing, opened, client } = setUp();
    const one = client();
    // A body on a GET means nothing to the API server, nor to the sharing.
    const two = client(WATCH, { accept: 'application/json', 'user-agent': 'other' }, '{"ignored":true}');
    await tick();
    expect(opened).toHaveLength(1);
    expect(opened[0]!.ended).toBe(true);
    expect(sharing.stats()).toEqual({ upstreams: 1, clients: 2 });
    const answer = opened[0]!.respond();
    expect(one.seen.status).toBe(200);
    expect(two.seen.requestError).toBeUndefined();
    expect(two.seen.response!.headers['content-type']).toBe('application/json');
    answer.push('{"type":"ADDED"}\n');
    answer.push('{"type":"MODIFIED"}\n');
    answer.push(null);
    await tick();
    for (const c of [one, two]) {
      expect(c.seen.data).toBe('{"type":"ADDED"}\n{"type":"MODIFIED"}\n');
      expect(c.seen.ended).toBe(true);
    }
    expect(sharing.stats()).toEqual({ upstreams: 0, clients: 0 });
  });

  it('gives a client that joins later everything answered so far, then the live chunks, in order', async () => {
    const { opened, client } = setUp();
    const first = client();
    await tick();
    const answer = opened[0]!.respond();
    answer.push('{"n":1}\n');
    answer.push('{"n":2}\n');
    await tick();
    const late = client();
    answer.push('{"n":3}\n');
    await tick();
    answer.push('{"n":4}\n');
    await tick();
    expect(opened).toHaveLength(1);
    expect(late.seen.status).toBe(200);
    expect(late.seen.data).toBe(first.seen.data);
    expect(late.seen.data).toBe('{"n":1}\n{"n":2}\n{"n":3}\n{"n":4}\n');
  });

  it('opens another upstream watch for another resourceVersion, and for a client the shared one no longer takes', async () => {
    const { opened, client } = setUp({ maxReplayBytes: 10 });
    client();
    client(WATCH.replace('42', '43'));
    await tick();
    expect(opened.map((r) => r.path)).toEqual([WATCH, WATCH.replace('42', '43')]);
    const answer = opened[0]!.respond();
    answer.push('{"more than":"ten bytes"}\n');
    await tick();
    const third = client();
    await tick();
    expect(opened).toHaveLength(3);
    expect(opened[2]!.path).toBe(WATCH);
    opened[2]!.respond().push('{"own":1}\n');
    await tick();
    expect(third.seen.data).toBe('{"own":1}\n');
  });

  it('keeps no more for later clients across its shared watches than maxReplayBytesTotal, and counts what they let go of', async () => {
    const { opened, client } = setUp({ maxReplayBytesTotal: 30 });
    const other = WATCH.replace('42', '43');
    client();
    client(other);
    await tick();
    const [a, b] = [opened[0]!.respond(), opened[1]!.respond()];
    a.push('{"a":"twenty bytes"}\n');
    await tick();
    // 20 kept for the first; 20 more would pass the budget, so the second keeps nothing and takes no later client.
    b.push('{"b":"twenty bytes"}\n');
    await tick();
    client(other);
    client();
    await tick();
    expect(opened.map((r) => r.path)).toEqual([WATCH, other, other]);
    // The first watch ends and lets go of its 20: a new shared watch may keep again.
    a.push(null);
    await tick();
    const third = opened[2]!.respond();
    third.push('{"c":"twenty bytes"}\n');
    await tick();
    client(other);
    await tick();
    expect(opened).toHaveLength(3);
  });

  it('takes no new client after maxReplayAgeMs, and lets go of what it kept for them', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { opened, client } = setUp({ maxReplayAgeMs: 1000 });
    const first = client();
    await tick();
    opened[0]!.respond().push('{"n":1}\n');
    await tick();
    vi.advanceTimersByTime(500);
    const second = client();
    await tick();
    expect(opened).toHaveLength(1);
    expect(second.seen.data).toBe('{"n":1}\n');
    vi.advanceTimersByTime(500);
    const third = client();
    await tick();
    expect(opened).toHaveLength(2);
    expect(third.seen.status).toBe(0);
    expect(first.seen.data).toBe('{"n":1}\n');
  });

  it('keeps the upstream watch while a client is left, and cancels it with the last one', async () => {
    const { sharing, opened, client } = setUp();
    const one = client();
    const two = client();
    await tick();
    const answer = opened[0]!.respond();
    one.req.destroy();
    answer.push('{"after":"one left"}\n');
    await tick();
    expect(opened[0]!.cancelled).toBe(false);
    expect(two.seen.data).toBe('{"after":"one left"}\n');
    expect(one.seen.data).toBe('');
    two.seen.response!.destroy();
    expect(opened[0]!.cancelled).toBe(true);
    expect(sharing.stats()).toEqual({ upstreams: 0, clients: 0 });
    // A new client starts afresh.
    client();
    await tick();
    expect(opened).toHaveLength(2);
  });

  it('cancels an upstream watch still opening when every client left', async () => {
    const { opened, client } = setUp();
    const one = client();
    one.req.destroy();
    await tick();
    expect(opened[0]!.cancelled).toBe(true);
  });

  it('hands a refusal to the clients waiting for it, and opens a new watch for the next one', async () => {
    const { opened, client } = setUp();
    const one = client();
    const two = client();
    await tick();
    const answer = opened[0]!.respond(410);
    answer.push('{"kind":"Status","code":410}');
    answer.push(null);
    await tick();
    for (const c of [one, two]) {
      expect(c.seen.status).toBe(410);
      expect(c.seen.data).toBe('{"kind":"Status","code":410}');
      expect(c.seen.ended).toBe(true);
    }
    client();
    await tick();
    expect(opened).toHaveLength(2);
  });

  it('fails every client when the upstream watch fails: the request before the answer, the answer after it', async () => {
    const { opened, client } = setUp();
    const early = client();
    await tick();
    opened[0]!.destroy(new Error('connection refused'));
    await tick();
    expect(early.seen.requestError?.message).toBe('connection refused');

    const one = client();
    const two = client();
    await tick();
    const answer = opened[1]!.respond();
    answer.push('{"n":1}\n');
    await tick();
    answer.emit('aborted');
    await tick();
    for (const c of [one, two]) {
      expect(c.seen.data).toBe('{"n":1}\n');
      expect(c.seen.aborted).toBe(true);
      expect(c.seen.error?.message).toBe('the API server closed the connection');
    }
  });

  it("ends a client's answer cleanly when its own timeoutSeconds runs out, and the others' go on", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { opened, client } = setUp();
    const brief = client(`${WATCH}&timeoutSeconds=5`);
    const long = client(`${WATCH}&timeoutSeconds=600`);
    await tick();
    expect(opened).toHaveLength(1);
    expect(opened[0]!.path).toBe(WATCH);
    const answer = opened[0]!.respond();
    answer.push('{"n":1}\n');
    await tick();
    vi.advanceTimersByTime(5000);
    answer.push('{"n":2}\n');
    await tick();
    expect(brief.seen.ended).toBe(true);
    expect(brief.seen.error).toBeUndefined();
    expect(brief.seen.data).toBe('{"n":1}\n');
    expect(long.seen.ended).toBe(false);
    expect(long.seen.data).toBe('{"n":1}\n{"n":2}\n');
    expect(opened[0]!.cancelled).toBe(false);
  });

  it('cuts off a client that falls too far behind, without holding up the others', async () => {
    const { opened, client } = setUp({ maxBehindBytes: 64 });
    const reader = client();
    const stalled = client();
    await tick();
    const answer = opened[0]!.respond();
    stalled.seen.response!.pause();
    for (let i = 0; i < 10; i++) answer.push(`{"event":${i},"padding":"xxxxxxxxxx"}\n`);
    await tick();
    expect(reader.seen.data.split('\n')).toHaveLength(11);
    expect(stalled.seen.error?.message).toMatch(/fell more than 64 bytes behind/);
    expect(opened[0]!.cancelled).toBe(false);
  });

  /**
   * Five HTTP/2 clients of one shared watch and, last, one on a connection of its own, their streams already
   * flowing; each chunk and end they see logged as `client:what`.
   */
  async function flowingClients() {
    const { opened, client } = setUp();
    const clients = Array.from({ length: 6 }, (_, i) => client(WATCH, { accept: 'application/json' }, undefined, i < 5));
    await tick();
    const answer = opened[0]!.respond();
    answer.push('{"n":0}\n');
    await tick();
    const log: string[] = [];
    clients.forEach((c, i) => {
      c.seen.response!.on('data', (chunk: Buffer) => log.push(`${i}:${chunk.toString().slice(2, 3)}`));
      c.seen.response!.on('end', () => log.push(`${i}:end`));
      c.seen.response!.on('aborted', () => log.push(`${i}:aborted`));
    });
    // 100 KiB each: two clients' copies per turn of the event loop.
    const big = (key: string): string => `{"${key}":"${key.repeat(100 * 1024)}"}\n`;
    return { answer, clients, log, big };
  }

  it('hands a large chunk to many HTTP/2 clients over several turns of the event loop, each client getting its chunks and end in order', async () => {
    const { answer, clients, log, big } = await flowingClients();
    clients[0]!.seen.response!.once('data', () => setImmediate(() => log.push('turn')));
    answer.push(big('a'));
    answer.push(big('b'));
    answer.push(null);
    for (let i = 0; i < 20 && !clients.every((c) => c.seen.ended); i++) await tick();
    for (const c of clients) {
      expect(c.seen.data).toBe(`{"n":0}\n${big('a')}${big('b')}`);
      expect(c.seen.ended).toBe(true);
    }
    // The event loop turned while the first large chunk was on its way: the last HTTP/2 client got it after that,
    // the client on a connection of its own before.
    expect(log.indexOf('turn')).toBeGreaterThan(-1);
    expect(log.indexOf('turn')).toBeLessThan(log.indexOf('4:a'));
    expect(log.indexOf('5:a')).toBeLessThan(log.indexOf('turn'));
    for (let i = 0; i < 6; i++) expect(log.filter((e) => e.startsWith(`${i}:`))).toEqual([`${i}:a`, `${i}:b`, `${i}:end`]);
  });

  it('hands what the upstream answered during a paced fan-out to each client as one chunk, after the chunk on its way', async () => {
    const { answer, clients, log, big } = await flowingClients();
    const writes = clients.map(() => 0);
    clients.forEach((c, i) => c.seen.response!.on('data', () => (writes[i] = (writes[i] ?? 0) + 1)));
    answer.push(big('a'));
    answer.push(big('b'));
    answer.push(big('c'));
    answer.push(null);
    for (let i = 0; i < 20 && !clients.every((c) => c.seen.ended); i++) await tick();
    for (const [i, c] of clients.entries()) {
      expect(c.seen.data).toBe(`{"n":0}\n${big('a')}${big('b')}${big('c')}`);
      // b and c waited together while a went out to the HTTP/2 clients: one write each (the log shows its first key).
      expect(log.filter((e) => e.startsWith(`${i}:`))).toEqual([`${i}:a`, `${i}:b`, `${i}:end`]);
      expect(writes[i]).toBe(2);
    }
  });

  it('fails the clients of a watch that breaks during a fan-out only once the chunk on its way reached each of them', async () => {
    const { answer, clients, log, big } = await flowingClients();
    clients[0]!.seen.response!.once('data', () => answer.emit('aborted'));
    answer.push(big('a'));
    for (let i = 0; i < 20 && !clients.every((c) => c.seen.aborted); i++) await tick();
    for (let i = 0; i < 6; i++) expect(log.filter((e) => e.startsWith(`${i}:`))).toEqual([`${i}:a`, `${i}:aborted`]);
  });
});
