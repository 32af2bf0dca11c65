/**
 * When the client's answer ends relative to the exchange's record: a read
 * recorded in the background is answered without waiting for its record
 * (building the audit event is no longer on its latency path); a write is
 * answered only once recorded (audit-kill.test.ts checks that end to end).
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMasker } from '../../../src/masking/index.js';
import type { RequestContext } from '../../../src/pipeline/context.js';
import type { Completion } from '../../../src/pipeline/pipeline.js';
import type { Decision } from '../../../src/policy/engine.js';
import { forwardRequest } from '../../../src/proxy/forward.js';
import type { ExchangeOutcome } from '../../../src/record/recorder.js';
import type { Upstream } from '../../../src/upstream/client.js';
import { kubeRequest } from '../policy/helpers.js';

const CONFIGMAP = JSON.stringify({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'x', namespace: 'a' }, data: { note: 'token=ghp_0123456789abcdefghijklmnopqrstuvwxyzAB' } });

const servers: Server[] = [];
async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}
afterAll(async () => {
  for (const s of servers) await new Promise((resolve) => s.close(resolve));
});

let upstreamPort = 0;
beforeAll(async () => {
  upstreamPort = await listen(createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(CONFIGMAP) }).end(CONFIGMAP)));
});

const upstream: Upstream = {
  where: 'http://upstream.test',
  request: ({ method, path, headers }) => Promise.resolve(request({ host: '127.0.0.1', port: upstreamPort, method, path, headers, agent: false })),
  upgradeRequest: () => Promise.reject(new Error('no upgrades here')),
  invalidateCredential: () => undefined,
  http2Stats: () => ({ sessions: 0, streams: 0 }),
  sharedWatches: () => ({ upstreams: 0, clients: 0 }),
  close: () => undefined,
};

/** A gateway of one terminal stage whose record never completes; `done` resolves with each outcome given to it. */
async function gatewayWithStuckRecord(decision: Decision | undefined): Promise<{ port: number; outcomes: ExchangeOutcome[] }> {
  const outcomes: ExchangeOutcome[] = [];
  const completion: Completion = {
    captureBytes: 0,
    holdsAnswer: false,
    openStream: () => undefined,
    done: (outcome) => {
      outcomes.push(outcome);
      return new Promise<void>(() => undefined);
    },
  };
  const port = await listen(
    createServer((req, res) => {
      const ctx: RequestContext = { id: 'r1', req, upgrade: false, startedAt: process.hrtime.bigint(), arrivedMicros: 0, timings: {}, request: kubeRequest('GET', req.url ?? '/'), decision };
      void forwardRequest(ctx, res, upstream, { timeouts: { connectMs: 1000, responseHeadersMs: 5000 }, impersonate: false, masker: createMasker() }, completion);
    }),
  );
  return { port, outcomes };
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, agent: false }, (res: IncomingMessage) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString() }));
    })
      .on('error', reject)
      .end();
  });
}

const maskDecision: Decision = { action: 'mask', rule: 'agent-reads', message: 'masked', hint: undefined, matched: [], errors: [] };

describe('a read recorded in the background', () => {
  it('is answered whole while its record is still being made', async () => {
    const { port, outcomes } = await gatewayWithStuckRecord(undefined);
    const res = await get(port, '/api/v1/namespaces/a/configmaps/x');
    expect(res).toEqual({ status: 200, body: CONFIGMAP });
    expect(outcomes).toMatchObject([{ status: 200, upstream: { status: 200, bytesOut: CONFIGMAP.length } }]);
  });

  it('is answered whole, masked, while its record is still being made', async () => {
    const { port, outcomes } = await gatewayWithStuckRecord(maskDecision);
    const res = await get(port, '/api/v1/namespaces/a/configmaps/x');
    expect(res.status).toBe(200);
    expect(res.body).toContain('<masked:github-token>');
    expect(res.body).not.toContain('ghp_');
    expect(outcomes).toMatchObject([{ status: 200, masked: true }]);
  });
});
