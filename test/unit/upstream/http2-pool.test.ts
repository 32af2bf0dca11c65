import * as http2 from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createSecureContext } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { isLongLived } from '../../../src/upstream/exchange.js';
import type { UpstreamRequest } from '../../../src/upstream/exchange.js';
import { createHttp2Pool } from '../../../src/upstream/http2-pool.js';
import type { Http2Pool } from '../../../src/upstream/http2-pool.js';
import { createPki } from '../agent/pki.js';
import { bodyOf, responseOf, silentServerPort, waitFor } from './exchange-helpers.js';

const pki = await createPki('h2-upstream');
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface H2Server {
  port: number;
  /** Sessions the server accepted. */
  sessions: http2.ServerHttp2Session[];
  streams: http2.ServerHttp2Stream[];
}

/** An HTTP/2 TLS server: `onStream` answers; streams and sessions are kept for the test to inspect. */
async function startH2Server(onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void, maxStreams = 100): Promise<H2Server> {
  const server = http2.createSecureServer({ cert: pki.cert.certPem, key: pki.cert.keyPem, settings: { maxConcurrentStreams: maxStreams } });
  const state: H2Server = { port: 0, sessions: [], streams: [] };
  server.on('session', (session) => state.sessions.push(session));
  server.on('stream', (stream, headers) => {
    state.streams.push(stream);
    onStream(stream, headers);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const session of state.sessions) session.destroy();
        server.close(() => resolve());
      }),
  );
  return state;
}

function poolFor(port: number, idleMs?: number, connectMs?: number): Http2Pool {
  const pool = createHttp2Pool({
    host: '127.0.0.1',
    port,
    authority: `127.0.0.1:${port}`,
    tls: { secureContext: createSecureContext({ ca: pki.caPem }), rejectUnauthorized: true },
    idleMs,
    connectMs,
  });
  cleanups.push(() => pool.close());
  return pool;
}

describe('createHttp2Pool', () => {
  it('relays a request and its answer as HTTP/1.1 would show them', async () => {
    const server = await startH2Server((stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        stream.respond({ ':status': 201, 'content-type': 'application/json', 'x-seen': JSON.stringify(headers) });
        stream.end(Buffer.concat(chunks));
      });
    });
    const pool = poolFor(server.port);
    const req = await pool.request('POST', '/api/v1/namespaces/a/configmaps', {
      authorization: 'Bearer t',
      'content-type': 'application/json',
      host: 'ignored.example',
      connection: 'keep-alive',
      'transfer-encoding': 'chunked',
      te: 'gzip',
      'impersonate-group': ['a', 'b'],
    });
    expect(req).toBeDefined();
    const answer = responseOf(req!);
    req!.write('{"a":');
    req!.end('1}');
    const res = await answer;
    expect(res.statusCode).toBe(201);
    expect(res.statusMessage).toBe('Created');
    expect(Object.keys(res.headers).filter((name) => name.startsWith(':'))).toEqual([]);
    expect(res.headers['content-type']).toBe('application/json');
    expect(await bodyOf(res)).toBe('{"a":1}');
    const seen = JSON.parse(res.headers['x-seen'] as string) as Record<string, string>;
    expect(seen[':authority']).toBe(`127.0.0.1:${server.port}`);
    expect(seen[':method']).toBe('POST');
    expect(seen[':path']).toBe('/api/v1/namespaces/a/configmaps');
    expect(seen.authorization).toBe('Bearer t');
    expect(seen['impersonate-group']).toBe('a, b');
    for (const hopByHop of ['host', 'connection', 'transfer-encoding', 'te']) expect(seen[hopByHop]).toBeUndefined();
  });

  it('leaves ending a GET to its caller, as the gateway pipes the client’s request into it', async () => {
    const server = await startH2Server((stream) => {
      stream.respond({ ':status': 200 });
      stream.resume();
      stream.on('end', () => stream.end('done'));
    });
    const pool = poolFor(server.port);
    const req = (await pool.request('GET', '/api/v1/pods?watch=1', {}))!;
    const errors: Error[] = [];
    req.on('error', (err: Error) => errors.push(err));
    const answer = responseOf(req);
    await new Promise((resolve) => setTimeout(resolve, 50));
    req.end();
    expect(await bodyOf(await answer)).toBe('done');
    expect(errors).toEqual([]);
  });

  it('spreads streams over as many sessions as the server’s stream limit needs, and counts them', async () => {
    const server = await startH2Server((stream) => stream.respond({ ':status': 200 }), 10);
    const pool = poolFor(server.port);
    // Each stream's answer is listened for as soon as the stream exists, as the gateway does.
    const open = (n: number): Promise<UpstreamRequest[]> =>
      Promise.all(Array.from({ length: n }, async () => {
        const req = (await pool.request('GET', '/api/v1/pods?watch=1', {}))!;
        req.end();
        await responseOf(req);
        return req;
      }));
    const requests = await open(25);
    expect(pool.stats()).toEqual({ sessions: 3, streams: 25 });
    expect(server.sessions).toHaveLength(3);
    for (const req of requests.slice(0, 20)) req.destroy();
    await waitFor('streams to close', () => pool.stats().streams === 5);
    // Freed room is used again before another session is opened.
    await open(15);
    expect(pool.stats()).toEqual({ sessions: 3, streams: 20 });
  });

  it('cancels the stream when the request is destroyed, so the API server ends the watch', async () => {
    const server = await startH2Server((stream) => {
      stream.respond({ ':status': 200 });
      stream.write('{"type":"ADDED"}\n');
    });
    const pool = poolFor(server.port);
    const req = (await pool.request('GET', '/api/v1/pods?watch=1', {}))!;
    req.end();
    const res = await responseOf(req);
    await new Promise((resolve) => res.once('data', resolve));
    req.destroy();
    await waitFor('the server stream to close', () => server.streams[0]!.closed);
    expect(server.streams[0]!.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
  });

  it('fails an answer cut off mid-way instead of ending it as if complete', async () => {
    const server = await startH2Server((stream) => {
      stream.respond({ ':status': 200 });
      stream.write('{"type":"ADDED"}\n', () => setTimeout(() => stream.session?.destroy(), 20));
    });
    const pool = poolFor(server.port);
    const req = (await pool.request('GET', '/api/v1/pods?watch=1', {}))!;
    req.end();
    const res = await responseOf(req);
    let aborted = false;
    res.once('aborted', () => (aborted = true));
    await expect(bodyOf(res)).rejects.toThrow(/reset .* before the answer was complete/);
    expect(aborted).toBe(true);
    await waitFor('the session to leave the pool', () => pool.stats().sessions === 0);
  });

  it('keeps an answer the client reads slowly whole', async () => {
    const big = Buffer.alloc(1 << 20, 'x');
    const server = await startH2Server((stream) => {
      stream.respond({ ':status': 200 });
      stream.end(big);
    });
    const pool = poolFor(server.port);
    const req = (await pool.request('GET', '/api/v1/namespaces/a/pods/p/log?follow=true', {}))!;
    req.end();
    const res = await responseOf(req);
    res.pause();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await bodyOf(res)).length).toBe(big.length);
  });

  it('opens a new session after GOAWAY and lets the old one finish its streams', async () => {
    const server = await startH2Server((stream) => {
      stream.respond({ ':status': 200 });
      stream.write('open\n');
    });
    const pool = poolFor(server.port);
    const first = (await pool.request('GET', '/api/v1/pods?watch=1', {}))!;
    first.end();
    const firstRes = await responseOf(first);
    server.sessions[0]!.goaway();
    await waitFor('the pool to drop the session', () => pool.stats().sessions === 0);
    const second = (await pool.request('GET', '/api/v1/pods?watch=1', {}))!;
    second.end();
    await responseOf(second);
    expect(server.sessions).toHaveLength(2);
    server.streams[0]!.end('bye\n');
    expect(await bodyOf(firstRes)).toBe('open\nbye\n');
  });

  it('closes a session left without streams after the idle time', async () => {
    const server = await startH2Server((stream) => {
      stream.respond({ ':status': 200 });
      stream.end('{}');
    });
    const pool = poolFor(server.port, 50);
    const req = (await pool.request('GET', '/api/v1/pods?watch=1', {}))!;
    req.end();
    await bodyOf(await responseOf(req));
    expect(pool.stats().sessions).toBe(1);
    await waitFor('the idle session to close', () => pool.stats().sessions === 0);
    await waitFor('the server to see it close', () => server.sessions[0]!.closed || server.sessions[0]!.destroyed);
  });

  it('resolves undefined for a server without HTTP/2, and does not ask again', async () => {
    let connections = 0;
    const server = createHttpsServer({ cert: pki.cert.certPem, key: pki.cert.keyPem }, (_req, res) => res.end());
    server.on('connection', () => (connections += 1));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const pool = poolFor((server.address() as AddressInfo).port);
    expect(await pool.request('GET', '/api/v1/pods?watch=1', {})).toBeUndefined();
    expect(await pool.request('GET', '/api/v1/pods?watch=1', {})).toBeUndefined();
    expect(connections).toBe(1);
  });

  it('gives up on a server that accepts the connection and never completes TLS', async () => {
    const silentPort = await silentServerPort(cleanups);
    const pool = poolFor(silentPort, undefined, 100);
    await expect(pool.request('GET', '/api/v1/pods?watch=1', {})).rejects.toThrow('no HTTP/2 session within 100 ms');
  });

  it('refuses a server whose certificate the CA did not sign', async () => {
    const other = await createPki('someone-else');
    const server = http2.createSecureServer({ cert: other.cert.certPem, key: other.cert.keyPem });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const pool = poolFor((server.address() as AddressInfo).port);
    await expect(pool.request('GET', '/api/v1/pods?watch=1', {})).rejects.toThrow(/certificate/);
  });
});

describe('isLongLived', () => {
  it.each([
    ['GET', '/api/v1/pods?watch=1', true],
    ['GET', '/api/v1/namespaces/a/configmaps?labelSelector=x&watch=true', true],
    ['GET', '/api/v1/watch/namespaces/a/pods', true],
    ['GET', '/apis/apps/v1/watch/deployments', true],
    ['GET', '/api/v1/namespaces/a/pods/p/log?follow=true&container=c', true],
    ['GET', '/api/v1/namespaces/a/pods/p/log?follow=false', false],
    ['GET', '/api/v1/namespaces/a/pods/p?follow=true', false],
    ['GET', '/api/v1/pods?watch=false', false],
    ['GET', '/api/v1/namespaces/watch/pods', false],
    ['GET', '/apis/apps/v1/namespaces/watch/deployments/x', false],
    ['GET', '/api/v1/pods', false],
    ['POST', '/api/v1/pods?watch=1', false],
  ])('%s %s → %s', (method, path, expected) => {
    expect(isLongLived(method, path)).toBe(expected);
  });
});
