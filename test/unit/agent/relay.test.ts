import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAgentRelay } from '../../../src/agent/relay.js';
import type { AgentRelay } from '../../../src/agent/relay.js';
import { createUpstream } from '../../../src/upstream/client.js';
import type { CredentialProvider } from '../../../src/upstream/credential.js';
import type { TunnelSession } from '../../../src/tunnel/session.js';
import { digest, next, sessionPair, sha256, writeAll } from '../tunnel/pair.js';
import type { SessionPair } from '../tunnel/pair.js';
import { SERVICE_ACCOUNT_TOKEN, startFakeApiServer } from './fake-api-server.js';
import type { FakeApiServer } from './fake-api-server.js';

const log = pino({ level: 'silent' });
let api: FakeApiServer;
let invalidations = 0;
const credentials: CredentialProvider = {
  get: () => Promise.resolve({ authorization: `Bearer ${SERVICE_ACCOUNT_TOKEN}`, clientCert: undefined, clientKey: undefined }),
  invalidate: () => void invalidations++,
};

beforeAll(async () => {
  api = await startFakeApiServer();
});
afterAll(() => api.close());

let pair: SessionPair | undefined;
let relay: AgentRelay | undefined;
afterEach(async () => {
  relay?.close();
  await pair?.close();
  pair = undefined;
  relay = undefined;
});

/** A gateway session whose agent relays to `upstream`. */
async function tunnelTo(upstream = createUpstream(api.target, credentials)): Promise<TunnelSession> {
  pair = await sessionPair();
  const agentRelay = createAgentRelay(upstream, log);
  relay = agentRelay;
  pair.agent.on('stream', (stream) => agentRelay.handle(stream));
  return pair.gateway;
}

// What the gateway does: plain HTTP/1.1 over a fresh tunnel stream (no `agent`, or node ignores createConnection).
function send(gateway: TunnelSession, method: string, path: string, headers: OutgoingHttpHeaders = {}) {
  return request({ method, path, headers, createConnection: () => gateway.openStream() });
}

async function body(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

describe('agent relay', () => {
  it("forwards with the agent's credential, never the gateway's, and drops hop-by-hop headers", async () => {
    const gateway = await tunnelTo();
    const req = send(gateway, 'GET', '/headers', {
      authorization: 'Bearer the-gateway-must-not-leak-this',
      'proxy-authorization': 'Basic eDp5',
      'impersonate-user': 'alice',
      'x-custom': 'kept',
      te: 'trailers',
      connection: 'close, x-hop',
      'x-hop': 'named by Connection',
    });
    req.end();
    const res = await next<IncomingMessage>(req, 'response');
    expect(res.statusCode).toBe(200);
    const seen = JSON.parse(await body(res)) as Record<string, string>;
    expect(seen.authorization).toBe(`Bearer ${SERVICE_ACCOUNT_TOKEN}`);
    expect(seen['impersonate-user']).toBe('alice');
    expect(seen['x-custom']).toBe('kept');
    expect(seen.host).toBe(api.target.server.host);
    for (const dropped of ['proxy-authorization', 'te', 'x-hop']) expect(seen).not.toHaveProperty(dropped);
  });

  it.each<[string, OutgoingHttpHeaders]>([
    ['chunked', {}],
    ['with a Content-Length', { 'content-length': 8 * 1024 * 1024 }],
  ])('streams an 8 MiB body both ways, %s', async (_framing, headers) => {
    const gateway = await tunnelTo();
    const data = randomBytes(8 * 1024 * 1024);
    const req = send(gateway, 'POST', '/echo', headers);
    const response = next<IncomingMessage>(req, 'response');
    await writeAll(req, data);
    const res = await response;
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBe(headers['content-length'] === undefined ? undefined : String(data.length));
    expect(res.headers['transfer-encoding']).toBe(headers['content-length'] === undefined ? 'chunked' : undefined);
    expect(await digest(res)).toEqual({ bytes: data.length, sha256: sha256(data) });
    expect(api.seen.get('/echo')?.['transfer-encoding']).toBe(headers['content-length'] === undefined ? 'chunked' : undefined);
  });

  it('keeps the chunked body of a DELETE framed on its way up (unframed, it would be read as the next request)', async () => {
    const gateway = await tunnelTo();
    const req = send(gateway, 'DELETE', '/echo', { 'transfer-encoding': 'chunked' });
    const response = next<IncomingMessage>(req, 'response');
    req.end('{"kind":"DeleteOptions"}');
    const res = await response;
    expect(res.statusCode).toBe(200);
    expect(await body(res)).toBe('{"kind":"DeleteOptions"}');
    expect(api.seen.get('/echo')?.['transfer-encoding']).toBe('chunked');
    // Without a body, nothing is added.
    const empty = send(gateway, 'DELETE', '/echo');
    empty.end();
    const emptyRes = await next<IncomingMessage>(empty, 'response');
    expect(emptyRes.statusCode).toBe(200);
    // Read to its end, as every exchange here is: one left open would be aborted when the tunnel closes after the test.
    expect(await body(emptyRes)).toBe('');
    expect(api.seen.get('/echo')?.['transfer-encoding']).toBeUndefined();
  });

  it('delivers a streaming response chunk by chunk as the API server writes it', async () => {
    const gateway = await tunnelTo();
    const req = send(gateway, 'GET', '/watch?watch=true');
    req.end();
    // Headers arrive before any event: a watch starts at once.
    const res = await next<IncomingMessage>(req, 'response');
    expect(res.statusCode).toBe(200);
    for (const event of ['{"type":"ADDED"}\n', '{"type":"MODIFIED"}\n', '{"type":"DELETED"}\n']) {
      const chunk = next<Buffer>(res, 'data');
      api.watch(event);
      expect((await chunk).toString()).toBe(event);
    }
    const ended = next(res, 'end');
    api.watch(null);
    await ended;
  });

  it('frees the upstream watch when the gateway gives up on it', async () => {
    const gateway = await tunnelTo();
    const req = send(gateway, 'GET', '/watch?watch=true&second');
    req.on('error', () => undefined);
    req.end();
    await next<IncomingMessage>(req, 'response');
    req.destroy();
    await api.watchClosed;
  });

  it('passes a 401 through and forgets its credential', async () => {
    const gateway = await tunnelTo();
    const before = invalidations;
    const req = send(gateway, 'GET', '/unauthorized');
    req.end();
    const res = await next<IncomingMessage>(req, 'response');
    expect(res.statusCode).toBe(401);
    await body(res);
    expect(invalidations).toBe(before + 1);
  });

  it('answers 502 with a Kubernetes Status when the API server cannot be reached', async () => {
    const port = await closedPort();
    const gateway = await tunnelTo(createUpstream({ ...api.target, server: new URL(`https://127.0.0.1:${port}`) }, credentials));
    const req = send(gateway, 'GET', '/api/v1/namespaces');
    req.end();
    const res = await next<IncomingMessage>(req, 'response');
    expect(res.statusCode).toBe(502);
    expect(res.headers['content-type']).toBe('application/json');
    const status = JSON.parse(await body(res)) as Record<string, unknown>;
    expect(status).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'ServiceUnavailable', code: 502 });
    expect(status.message).toMatch(new RegExp(`^the cluster agent could not reach its API server at https://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
  });

  it('splices an upgraded (101) connection byte for byte, both ways', async () => {
    const gateway = await tunnelTo();
    const req = send(gateway, 'POST', '/exec', { connection: 'Upgrade', upgrade: 'SPDY/3.1', 'x-stream-protocol-version': 'v4.channel.k8s.io' });
    req.end();
    const [res, socket] = await new Promise<[IncomingMessage, Socket]>((resolve) => req.once('upgrade', (r: IncomingMessage, s: Socket) => resolve([r, s])));
    expect(res.statusCode).toBe(101);
    expect(res.headers['x-stream-protocol-version']).toBe('v4.channel.k8s.io');
    expect(api.seen.get('/exec')).toMatchObject({ connection: 'Upgrade', upgrade: 'SPDY/3.1', authorization: `Bearer ${SERVICE_ACCOUNT_TOKEN}` });

    // The fake API server echoes: what goes up must come back intact.
    const data = randomBytes(3 * 1024 * 1024);
    const echoed = new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size >= data.length) resolve(Buffer.concat(chunks));
      });
    });
    for (let offset = 0; offset < data.length; offset += 64 * 1024) {
      if (!socket.write(data.subarray(offset, offset + 64 * 1024))) await next(socket, 'drain');
    }
    expect(sha256(await echoed)).toBe(sha256(data));
    socket.destroy();
  });

  it('relays a refused upgrade as an ordinary response', async () => {
    const gateway = await tunnelTo();
    const req = send(gateway, 'POST', '/exec-forbidden', { connection: 'Upgrade', upgrade: 'SPDY/3.1' });
    req.end();
    const res = await next<IncomingMessage>(req, 'response');
    expect(res.statusCode).toBe(403);
    expect(JSON.parse(await body(res))).toMatchObject({ kind: 'Status', reason: 'Forbidden', message: 'exec is forbidden' });
  });
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
