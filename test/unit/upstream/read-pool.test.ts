import { createServer as createHttpsServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { armUpstreamTimeouts } from '../../../src/proxy/upstream-errors.js';
import type { Upstream } from '../../../src/upstream/client.js';
import { createReadPool, MAX_READ_BODY_BYTES } from '../../../src/upstream/read-pool.js';
import type { ReadPool } from '../../../src/upstream/read-pool.js';
import { createPki } from '../agent/pki.js';
import { bodyOf, responseOf, silentServerPort, waitFor } from './exchange-helpers.js';

const pki = await createPki('read-pool');
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Served {
  port: number;
  requests: IncomingMessage[];
  /** Connections the server accepted, and how many of them closed. */
  connections: Socket[];
  closed: number;
}

async function startServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Served> {
  const state: Served = { port: 0, requests: [], connections: [], closed: 0 };
  const server = createHttpsServer({ cert: pki.cert.certPem, key: pki.cert.keyPem }, (req, res) => {
    state.requests.push(req);
    handler(req, res);
  });
  server.on('secureConnection', (socket: Socket) => {
    state.connections.push(socket);
    socket.once('close', () => state.closed++);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of state.connections) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return state;
}

function poolFor(port: number, connectMs?: number): ReadPool {
  const pool = createReadPool({
    origin: `https://127.0.0.1:${port}`,
    tls: { secureContext: createSecureContext({ ca: pki.caPem }), rejectUnauthorized: true },
    connectMs,
  });
  cleanups.push(() => pool.close());
  return pool;
}

describe('createReadPool', () => {
  it('relays a read and its answer with the headers as Node’s client shows them, on one kept connection', async () => {
    const server = await startServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('warning', ['299 - "first"', '299 - "second"']);
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.setHeader('audit-id', 'abc');
      res.end(JSON.stringify({ path: req.url, auth: req.headers.authorization, accept: req.headers.accept }));
    });
    const pool = poolFor(server.port);
    for (const name of ['one', 'two']) {
      const req = pool.request('GET', `/api/v1/namespaces/${name}`, { authorization: 'Bearer gw', accept: 'application/json', expect: '100-continue' });
      req.end();
      const res = await responseOf(req);
      expect(res.statusCode).toBe(200);
      expect(res.statusMessage).toBe('OK');
      expect(res.headers['content-type']).toBe('application/json');
      expect(res.headers.warning).toBe('299 - "first", 299 - "second"');
      expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
      expect(res.headers['audit-id']).toBe('abc');
      expect(JSON.parse(await bodyOf(res))).toEqual({ path: `/api/v1/namespaces/${name}`, auth: 'Bearer gw', accept: 'application/json' });
      // undici frees the connection a tick after the answer ends; a read sent at once would get a second one.
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(server.connections).toHaveLength(1);
    expect(server.closed).toBe(0);
  });

  it('sends what was written to the request as its body', async () => {
    const server = await startServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(`${req.method} ${req.headers['content-length']} ${Buffer.concat(chunks).toString()}`));
    });
    const req = poolFor(server.port).request('GET', '/x', { 'content-length': '5' });
    req.write('he');
    req.end('llo');
    expect(await bodyOf(await responseOf(req))).toBe('GET 5 hello');
  });

  it('refuses to hold a read’s body past MAX_READ_BODY_BYTES, and sends nothing', async () => {
    const server = await startServer((_req, res) => res.end('sent'));
    const req = poolFor(server.port).request('GET', '/x', {});
    req.write(Buffer.alloc(MAX_READ_BODY_BYTES));
    req.end(Buffer.alloc(1));
    const err = await responseOf(req).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(err?.code).toBe('GH_BODY_TOO_LARGE');
    expect(server.requests).toHaveLength(0);
  });

  it('emits close on the request once its answer is in, not when it was sent', async () => {
    let answer: ServerResponse | undefined;
    const server = await startServer((_req, res) => (answer = res));
    const req = poolFor(server.port).request('GET', '/slow', {});
    let closed = false;
    req.once('close', () => (closed = true));
    req.end();
    await waitFor('the request to reach the server', () => answer !== undefined);
    expect(closed).toBe(false);
    answer!.end('done');
    expect(await bodyOf(await responseOf(req))).toBe('done');
    await waitFor('close', () => closed);
  });

  it('fails the answer, not the request, when the server goes away mid-answer, and says it was aborted', async () => {
    const server = await startServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"items":[');
      setTimeout(() => req.socket.destroy(), 20);
    });
    const req = poolFor(server.port).request('GET', '/api/v1/secrets', {});
    const requestErrors: Error[] = [];
    req.on('error', (err) => requestErrors.push(err));
    req.end();
    const res = await responseOf(req);
    let aborted = false;
    res.once('aborted', () => (aborted = true));
    await expect(bodyOf(res)).rejects.toThrow();
    expect(aborted).toBe(true);
    expect(requestErrors).toEqual([]);
  });

  it('closes the connection when the caller abandons an answer mid-way', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200);
      res.write('x'.repeat(1024));
    });
    const req = poolFor(server.port).request('GET', '/api/v1/pods', {});
    req.end();
    const res = await responseOf(req);
    await new Promise((resolve) => res.once('data', resolve));
    req.destroy();
    await waitFor('the connection to close', () => server.closed === 1);
    expect(res.destroyed).toBe(true);
  });

  it('holds a large answer the caller reads slowly back at the connection, and keeps it whole', async () => {
    const size = 8 * 1024 * 1024;
    const server = await startServer((_req, res) => res.end(Buffer.alloc(size, 0x61)));
    const req = poolFor(server.port).request('GET', '/big', {});
    req.end();
    const res = await responseOf(req);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Paused at the stream's high-water mark plus what undici had already read: far from the 8 MiB sent.
    expect(res.readableLength).toBeLessThan(1024 * 1024);
    expect((await bodyOf(res)).length).toBe(size);
  });

  it('passes on the pieces of an answer that arrive together as one (a LIST comes in TLS records of ~2 KiB)', async () => {
    // The server in a worker thread, so it goes on sending while this thread is busy; each piece in a turn of its
    // event loop of its own, so a TLS record of its own.
    const sent = new MessageChannel();
    const worker = new Worker(
      `const { createServer } = require('node:https');
      const { parentPort, workerData } = require('node:worker_threads');
      const server = createServer({ cert: workerData.cert, key: workerData.key }, (_req, res) => {
        res.write('first');
        const next = (i) => (i === 40 ? res.end(() => workerData.sent.postMessage(true)) : res.write(String(i).padStart(2, '0') + 'x'.repeat(1022), () => setImmediate(next, i + 1)));
        next(0);
      });
      server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));`,
      { eval: true, workerData: { cert: pki.cert.certPem, key: pki.cert.keyPem, sent: sent.port2 }, transferList: [sent.port2] },
    );
    cleanups.push(() => worker.terminate());
    const port = await new Promise<number>((resolve) => worker.once('message', resolve));
    const req = poolFor(port).request('GET', '/list', {});
    req.end();
    const res = await responseOf(req);
    // Busy until all of it is sent: the pieces wait in the socket, and are read in one go.
    while (receiveMessageOnPort(sent.port1) === undefined);
    sent.port1.close();
    const seen: string[] = [];
    res.on('data', (chunk: Buffer) => seen.push(chunk.toString()));
    await new Promise((resolve) => res.once('end', resolve));
    const pieces = Array.from({ length: 40 }, (_, i) => `${String(i).padStart(2, '0')}${'x'.repeat(1022)}`);
    expect(seen.join('')).toBe(`first${pieces.join('')}`);
    // The first piece at once (most answers are one piece), the other 40 in a few.
    expect(seen[0]).toBe('first');
    expect(seen.length).toBeLessThanOrEqual(5);
  });

  it('aborts a read the forwarder times out before any answer, with the forwarder’s error', async () => {
    const server = await startServer(() => undefined);
    const req = poolFor(server.port).request('GET', '/never', {});
    armUpstreamTimeouts(req, { connectMs: 1_000, responseHeadersMs: 100 }, { where: 'https://api.test' } as Upstream);
    req.end();
    await expect(responseOf(req)).rejects.toThrow('the Kubernetes API server at https://api.test did not answer within 100 ms');
    await waitFor('the connection to close', () => server.closed === 1);
  });

  it('gives up on a server that accepts the connection and never completes TLS', async () => {
    const silentPort = await silentServerPort(cleanups);
    const req = poolFor(silentPort, 100).request('GET', '/api', {});
    req.end();
    await expect(responseOf(req)).rejects.toThrow('no connection within 100 ms');
  });

  it('refuses a server whose certificate the CA did not sign', async () => {
    const other = await createPki('someone-else');
    const server = createHttpsServer({ cert: other.cert.certPem, key: other.cert.keyPem }, (_req, res) => res.end('unverified'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const req = poolFor((server.address() as AddressInfo).port).request('GET', '/api', {});
    req.end();
    await expect(responseOf(req)).rejects.toThrow(/certificate/);
  });
});
