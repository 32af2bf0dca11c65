import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { deadUpstreamKubeconfig } from './helpers/dead-upstream.js';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { rawRequest } from './helpers/https.js';
import { kubectlFor } from './helpers/run.js';

// Refusals the gateway itself writes: each is a Kubernetes Status with a
// message that says what happened and a Gatehouse code in details.causes.
const cluster = inject('cluster');
let gateway: GatewayProcess;
let caPem: string;

beforeAll(async () => {
  gateway = await startGatewayProcess(cluster.adminKubeconfig);
  caPem = readFileSync(join(gateway.dataDir, 'ca.crt'), 'utf8');
});
afterAll(async () => gateway?.stop());

interface Status {
  kind: string;
  status: string;
  reason: string;
  code: number;
  message: string;
  details: { causes: { reason: string }[] };
}
const statusOf = (body: Buffer): Status => JSON.parse(body.toString('utf8')) as Status;

describe('authentication', () => {
  it('refuses a request without a token with a 401 Status, before the upstream', async () => {
    const res = await rawRequest(gateway.url, { path: '/api/v1/namespaces', caPem });
    expect(res.status).toBe(401);
    const status = statusOf(res.body);
    expect(status).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Unauthorized', code: 401 });
    expect(status.details.causes[0]?.reason).toBe('GH_UNAUTHENTICATED');
    expect(status.message).toContain('needs a bearer token');
  });

  it('refuses an unknown or forged token', async () => {
    for (const token of ['ghb_forged', cluster.adminToken, gateway.adminToken.slice(0, -1) + 'x']) {
      const res = await rawRequest(gateway.url, { path: '/api/v1/namespaces', headers: { authorization: `Bearer ${token}` }, caPem });
      expect(res.status, token).toBe(401);
      expect(statusOf(res.body).details.causes[0]?.reason).toBe('GH_UNAUTHENTICATED');
    }
  });

  it('makes kubectl report that it must log in', async () => {
    const anonymous = join(gateway.dataDir, 'anonymous.kubeconfig');
    const config = readFileSync(gateway.adminKubeconfig, 'utf8').replace(/token: .*/, 'token: not-a-gatehouse-token');
    writeFileSync(anonymous, config);
    const r = await kubectlFor(anonymous)(['get', 'namespaces']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('You must be logged in to the server');
  });

  it('refuses client impersonation instead of running the request as the gateway', async () => {
    const r = await kubectlFor(gateway.adminKubeconfig)(['get', 'pods', '--as=system:anonymous']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Error from server (Forbidden)');
    expect(r.stderr).toContain('Impersonate-* headers');
  });
});

describe('malformed requests', () => {
  const auth = (): Record<string, string> => ({ authorization: `Bearer ${gateway.adminToken}` });

  it('refuses paths the upstream could read differently', async () => {
    for (const path of ['/api/v1/namespaces/%2e%2e/pods', '/api/v1/namespaces/default/pods/a%2Fb', '/api/v1//namespaces', '/api/v1/namespaces/./pods']) {
      const res = await rawRequest(gateway.url, { path, headers: auth(), caPem });
      expect(res.status, path).toBe(400);
      const status = statusOf(res.body);
      expect(status.reason).toBe('BadRequest');
      expect(status.details.causes[0]?.reason).toBe('GH_BAD_REQUEST_PATH');
    }
  });

  it('refuses an oversized body with 413 before forwarding it', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 10, 'a');
    const res = await rawRequest(gateway.url, {
      method: 'POST',
      path: '/api/v1/namespaces/default/configmaps',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: big,
      caPem,
    });
    expect(res.status).toBe(413);
    expect(statusOf(res.body)).toMatchObject({ reason: 'RequestEntityTooLarge', code: 413 });
  });

  it('forwards a read with a small body, and refuses one whose body is past what a read may carry', async () => {
    // With its length: Node's client frames the body of a GET in no way otherwise.
    const read = (body: Buffer): ReturnType<typeof rawRequest> =>
      rawRequest(gateway.url, { path: '/api/v1/namespaces/default', headers: { ...auth(), 'content-length': body.length }, body, caPem });
    expect((await read(Buffer.from('{}'))).status).toBe(200);
    const res = await read(Buffer.alloc(2 * 1024 * 1024, 'a'));
    expect(res.status).toBe(413);
    expect(statusOf(res.body)).toMatchObject({ reason: 'RequestEntityTooLarge', code: 413 });
    expect(statusOf(res.body).message).toContain('the body of this GET request is larger than 1048576 bytes');
    // The rest of that body was never read: the connection closes rather than read it as the next request.
    expect(res.headers.connection).toBe('close');
  });

  it('refuses a write whose JSON body cannot be decoded', async () => {
    const res = await rawRequest(gateway.url, {
      method: 'POST',
      path: '/api/v1/namespaces/default/configmaps',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: '{"kind": "ConfigMap",',
      caPem,
    });
    expect(res.status).toBe(400);
    expect(statusOf(res.body).details.causes[0]?.reason).toBe('GH_BAD_REQUEST_BODY');
  });
});

describe('health', () => {
  it('serves /healthz and a verbose /readyz that includes the upstream', async () => {
    expect((await rawRequest(gateway.url, { path: '/healthz', caPem })).body.toString()).toBe('ok');
    const ready = await rawRequest(gateway.url, { path: '/readyz?verbose', caPem });
    expect(ready.status).toBe(200);
    expect(ready.body.toString()).toContain('[+]upstream ok');
  });
});

describe('a down upstream', () => {
  let down: GatewayProcess;
  beforeAll(async () => {
    const { kubeconfig } = await deadUpstreamKubeconfig(gateway.dataDir, cluster.caPem);
    down = await startGatewayProcess(kubeconfig);
  });
  afterAll(async () => down?.stop());

  it('answers 503 with a Status naming the unreachable API server', async () => {
    // --raw skips discovery, whose errors kubectl reduces to a generic sentence.
    const r = await kubectlFor(down.adminKubeconfig)(['get', '--raw', '/api/v1/namespaces']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Error from server (ServiceUnavailable): the gateway could not reach the Kubernetes API server at https://127.0.0.1:');
    expect(r.stderr).toContain('ECONNREFUSED');
    const ready = await rawRequest(down.url, { path: '/readyz', caPem: readFileSync(join(down.dataDir, 'ca.crt'), 'utf8') });
    expect(ready.status).toBe(503);
    expect(ready.body.toString()).toContain('[-]upstream failed');
  });
});
