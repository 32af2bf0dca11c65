import { EventEmitter } from 'node:events';
import { request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server } from 'node:https';
import { connect as netConnect, createServer as createNetServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { hostname } from 'node:os';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runAgent, tunnelUrl } from '../../../src/agent/connect.js';
import type { AgentOptions, RunningAgent } from '../../../src/agent/connect.js';
import { proxyFor } from '../../../src/agent/proxy.js';
import { createTunnelSession, TUNNEL_SUBPROTOCOL } from '../../../src/tunnel/session.js';
import type { TunnelSession } from '../../../src/tunnel/session.js';
import { createUpstream } from '../../../src/upstream/client.js';
import { next } from '../tunnel/pair.js';
import { startFakeApiServer } from './fake-api-server.js';
import { createPki } from './pki.js';
import type { FakeApiServer } from './fake-api-server.js';

const GOOD_TOKEN = 'gh-agent-token-for-prod';

/** A stand-in for the gateway's tunnel endpoint: TLS, token check, one session per agent connection. */
interface FakeGateway {
  url: URL;
  caPem: string;
  attempts: number;
  sessions: TunnelSession[];
  hellos: Record<string, unknown>[];
  events: EventEmitter;
  close(): Promise<void>;
}

async function startFakeGateway(): Promise<FakeGateway> {
  const { caPem, cert } = await createPki('gateway');
  const server: Server = createHttpsServer({ cert: cert.certPem, key: cert.keyPem });
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => (protocols.has(TUNNEL_SUBPROTOCOL) ? TUNNEL_SUBPROTOCOL : false) });
  const gateway: FakeGateway = { url: new URL('https://127.0.0.1'), caPem, attempts: 0, sessions: [], hellos: [], events: new EventEmitter(), close: () => Promise.resolve() };
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    gateway.attempts++;
    gateway.events.emit('attempt');
    if (req.url !== '/gatehouse/v1/tunnel' || req.headers.authorization !== `Bearer ${GOOD_TOKEN}` || req.headers['gatehouse-cluster'] !== 'prod') {
      const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Unauthorized', code: 401, message: 'unknown agent token' });
      socket.end(`HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const session = createTunnelSession(ws, { side: 'gateway' });
      gateway.sessions.push(session);
      session.on('control', (message) => {
        gateway.hellos.push(message);
        gateway.events.emit('hello', message);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  gateway.url = new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}`);
  gateway.close = async () => {
    for (const session of gateway.sessions) session.close('test over');
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return gateway;
}

function memoryLog(): { log: Logger; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
  return { log, lines };
}

let api: FakeApiServer;
let gateway: FakeGateway;
let agent: RunningAgent | undefined;
beforeAll(async () => {
  api = await startFakeApiServer();
});
afterAll(() => api.close());

function start(overrides: Partial<AgentOptions> = {}): RunningAgent {
  agent = runAgent({
    gatewayUrl: gateway.url,
    cluster: 'prod',
    token: GOOD_TOKEN,
    gatewayCa: Buffer.from(gateway.caPem),
    upstream: createUpstream(api.target),
    log: pino({ level: 'silent' }),
    version: '9.9.9',
    backoff: { initialMs: 10, maxMs: 50 },
    ...overrides,
  });
  return agent;
}

function wssOrigin(): string {
  return `wss://${gateway.url.host}`;
}

function nextHello(): Promise<Record<string, unknown>> {
  return next<Record<string, unknown>>(gateway.events, 'hello');
}

describe('runAgent', () => {
  beforeEach(async () => {
    gateway = await startFakeGateway();
  });
  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    await gateway.close();
  });

  it('says hello, serves the gateway, reconnects when dropped, and stops for good', async () => {
    const firstHello = nextHello();
    const running = start();
    const hello = await firstHello;
    expect(hello).toEqual({
      type: 'hello',
      agentId: expect.stringMatching(new RegExp(`^${hostname()}-[0-9a-f]{8}$`)) as unknown,
      version: '9.9.9',
      cluster: 'prod',
      apiServer: api.target.server.origin,
      kubernetesVersion: 'v1.31.0-fake',
    });
    expect(running.connected()).toBe(true);
    expect(running.describe()).toBe(`connected to ${wssOrigin()} as cluster prod`);

    // The gateway's requests reach the API server.
    const session = gateway.sessions[0]!;
    const stream = session.openStream();
    const req = request({ path: '/version', createConnection: () => stream });
    req.end();
    const res = await next<IncomingMessage>(req, 'response');
    expect(res.statusCode).toBe(200);
    res.resume();
    await next(stream, 'close');

    // Dropped: the agent comes back with the same identity.
    const secondHello = nextHello();
    session.close('dropped by the test');
    expect((await secondHello).agentId).toBe(hello.agentId);
    expect(gateway.sessions).toHaveLength(2);

    await running.stop();
    expect(running.connected()).toBe(false);
    await next(gateway.sessions[1]!, 'close');
    // Several times the longest backoff later, no one has come back.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(gateway.attempts).toBe(2);
  });

  it('logs a refused token clearly and retries at the longest backoff', async () => {
    const { log, lines } = memoryLog();
    const running = start({ token: 'revoked', log, backoff: { initialMs: 10, maxMs: 100 } });
    await next(gateway.events, 'attempt');
    await next(gateway.events, 'attempt');
    expect(running.connected()).toBe(false);
    const refusal = lines.find((line) => line.level === 50);
    expect(refusal?.msg).toBe(
      `could not connect to ${wssOrigin()}: the gateway refused the agent token (HTTP 401: unknown agent token): ` +
        'is it wrong, revoked, or issued for another cluster than "prod"?; reconnecting in 0.1 s',
    );
    expect(lines.some((line) => line.msg === `connecting to ${wssOrigin()}`)).toBe(true);
  });

  it('reaches the gateway through an HTTP CONNECT proxy', async () => {
    const proxy = await startConnectProxy();
    try {
      const hello = nextHello();
      start({ proxy: new URL(`http://user:p%40ss@127.0.0.1:${proxy.port}`) });
      expect((await hello).cluster).toBe('prod');
      expect(proxy.requests).toEqual([
        { line: `CONNECT 127.0.0.1:${gateway.url.port} HTTP/1.1`, auth: `Basic ${Buffer.from('user:p@ss').toString('base64')}` },
      ]);
    } finally {
      await agent?.stop();
      await proxy.close();
    }
  });

  it('reports a proxy that refuses CONNECT and keeps trying', async () => {
    const proxy = await startConnectProxy(407);
    const { log, lines } = memoryLog();
    try {
      start({ proxy: new URL(`http://127.0.0.1:${proxy.port}`), log });
      await next(proxy.events, 'request');
      await next(proxy.events, 'request');
      expect(lines.find((line) => line.level === 40)?.msg).toMatch(
        new RegExp(`^could not connect to ${wssOrigin()}: the proxy 127\\.0\\.0\\.1:${proxy.port} refused CONNECT to 127\\.0\\.0\\.1:${gateway.url.port}: HTTP/1\\.1 407 `),
      );
    } finally {
      await agent?.stop();
      await proxy.close();
    }
  });
});

describe('tunnelUrl', () => {
  it('puts the tunnel path on the gateway origin over wss', () => {
    expect(tunnelUrl(new URL('https://gatehouse.example.com:8443/ignored')).href).toBe('wss://gatehouse.example.com:8443/gatehouse/v1/tunnel');
    expect(tunnelUrl(new URL('wss://gatehouse.example.com')).href).toBe('wss://gatehouse.example.com/gatehouse/v1/tunnel');
  });

  it('refuses a gateway URL that would send the token in clear text', () => {
    expect(() => tunnelUrl(new URL('http://gatehouse.example.com'))).toThrow(/must be https:\/\/ or wss:\/\//);
  });
});

describe('proxyFor', () => {
  const target = new URL('wss://gw.corp.example:443/gatehouse/v1/tunnel');
  it.each([
    [{ HTTPS_PROXY: 'http://proxy:3128' }, 'http://proxy:3128/'],
    [{ https_proxy: 'proxy:3128' }, 'http://proxy:3128/'],
    [{ HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: 'gw.corp.example' }, undefined],
    [{ HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: 'localhost, .example' }, undefined],
    [{ HTTPS_PROXY: 'http://proxy:3128', no_proxy: 'corp.example:443' }, undefined],
    [{ HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: 'corp.example:8443' }, 'http://proxy:3128/'],
    [{ HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: 'ample' }, 'http://proxy:3128/'],
    [{ HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: '*' }, undefined],
    [{ HTTP_PROXY: 'http://proxy:3128' }, undefined],
  ])('%j → %s', (env, expected) => {
    expect(proxyFor(target, undefined, env)?.href).toBe(expected);
  });

  it('prefers the explicit proxy, even for a host NO_PROXY names', () => {
    expect(proxyFor(target, new URL('http://explicit:8080'), { NO_PROXY: '*' })?.href).toBe('http://explicit:8080/');
  });
});

/** A tiny HTTP CONNECT proxy; `refuse` answers every CONNECT with that status instead. */
async function startConnectProxy(refuse?: number) {
  const requests: { line: string; auth: string | undefined }[] = [];
  const events = new EventEmitter();
  const sockets = new Set<Socket>();
  const server = createNetServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      client.off('data', onData);
      const lines = buffered.subarray(0, end).toString('latin1').split('\r\n');
      const auth = lines.find((l) => l.toLowerCase().startsWith('proxy-authorization:'))?.slice('proxy-authorization:'.length).trim();
      requests.push({ line: lines[0]!, auth });
      events.emit('request');
      if (refuse) {
        client.end(`HTTP/1.1 ${refuse} Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      const [host, port] = lines[0]!.split(' ')[1]!.split(':');
      const upstream = netConnect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(buffered.subarray(end + 4));
        client.pipe(upstream).pipe(client);
      });
      sockets.add(upstream);
      upstream.once('close', () => client.destroy());
      upstream.on('error', () => client.destroy());
      client.once('close', () => upstream.destroy());
    };
    client.on('data', onData);
    client.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    events,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
