import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { startGatewayProcess } from '../e2e/helpers/gateway.js';
import type { GatewayProcess } from '../e2e/helpers/gateway.js';
import { gatehouse } from '../e2e/helpers/identities.js';
import { kubectlFor } from '../e2e/helpers/run.js';
import { startFaultProxy } from './helpers/fault-proxy.js';
import type { FaultProxy } from './helpers/fault-proxy.js';
import { eventually, gatewayClient } from './helpers/status.js';
import type { Reply } from './helpers/status.js';
import { recordTally } from './helpers/tally.js';

// Faults between the gateway and the API server: a TLS-terminating proxy in
// the test (test/security/helpers/fault-proxy.ts) relays, stalls, answers
// 500s or garbage, resets, or stops listening. Each fault must give the client
// a Kubernetes Status with a Gatehouse code (or the upstream's own answer,
// relayed), keep policy in force (a denied request never reaches the proxy),
// and the gateway must serve again by itself once the fault ends.
const cluster = inject('cluster');
const ns = `faults-up-${randomBytes(3).toString('hex')}`;
const direct = kubectlFor(cluster.adminKubeconfig);
const work = mkdtempSync(join(tmpdir(), 'gatehouse-faults-up-'));
const HEADERS_MS = 1500;
let proxy: FaultProxy;
let gateway: GatewayProcess;
let client: ReturnType<typeof gatewayClient>;
let survived = 0;

const list = (): Promise<Reply> => client.send('GET', `/api/v1/namespaces/${ns}/configmaps`);
const create = (name: string): Promise<Reply> =>
  client.send('POST', `/api/v1/namespaces/${ns}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { a: 'b' } });
/** Denied by the test policy: must be answered 403 without touching the upstream, whatever its state. */
const deniedDelete = (): Promise<Reply> => client.send('DELETE', `/api/v1/namespaces/${ns}/configmaps/keep`);

function expectStatus(r: Reply, status: number, code: string, label: string): void {
  expect(r.status, `${label}: ${r.text.slice(0, 300)}`).toBe(status);
  expect(r.json?.['kind'], label).toBe('Status');
  expect(r.json?.['code'], label).toBe(status);
  expect(r.code, label).toBe(code);
}

/**
 * A delete policy denies: refused whatever the upstream does. Policy reads the
 * namespace's labels (for the guardrails) from the API server first, so with
 * the upstream down it fails closed (503 GH_POLICY_UNAVAILABLE) instead of
 * judging without them; the ConfigMap is checked to be still there at the end.
 */
async function expectDeniedWithoutUpstream(label: string): Promise<void> {
  const r = await deniedDelete();
  const failedClosed = r.status === 503 && r.code === 'GH_POLICY_UNAVAILABLE';
  if (!failedClosed) expectStatus(r, 403, 'GH_POLICY_DENIED', `${label}: denied delete`);
  expect(r.json?.['kind'], label).toBe('Status');
}

async function expectRecovered(label: string): Promise<void> {
  proxy.mode = 'pass';
  const r = await eventually(`${label}: recovery`, 15_000, list, (x) => x.status === 200);
  expect(r.json?.['kind']).toBe('ConfigMapList');
  survived++;
}

beforeAll(async () => {
  await direct.ok(['create', 'namespace', ns]);
  await direct.ok(['-n', ns, 'create', 'configmap', 'keep', '--from-literal=a=b']);
  proxy = await startFaultProxy(work, { server: cluster.server, caPem: cluster.caPem, token: cluster.adminToken });
  const config = join(work, 'gatehouse.yaml');
  writeFileSync(config, stringify({ timeouts: { connectMs: 1000, responseHeadersMs: HEADERS_MS } }));
  const policy = join(work, 'deny.yaml');
  writeFileSync(
    policy,
    stringify({
      apiVersion: 'gatehouse.dev/v1alpha1',
      kind: 'Policy',
      metadata: { name: 'faults' },
      spec: { rules: [{ name: 'no-deletes', match: { verbs: ['delete', 'deletecollection'], namespaces: [ns] }, action: 'deny', message: 'no deletes' }] },
    }),
  );
  gateway = await startGatewayProcess(proxy.kubeconfig, ['-c', config, '--policy', policy]);
  client = gatewayClient(gateway);
  expect((await list()).status).toBe(200);
});
afterAll(async () => {
  recordTally('faults-upstream', { faultsSurvived: survived });
  await client?.close();
  await gateway?.stop();
  await proxy?.close();
  await direct(['delete', 'namespace', ns, '--wait=false']);
});

describe('upstream faults', () => {
  it('a stalled API server: 504 GH_UPSTREAM_TIMEOUT after responseHeadersMs, policy still enforced, then recovery', async () => {
    proxy.mode = 'stall';
    const started = Date.now();
    expectStatus(await list(), 504, 'GH_UPSTREAM_TIMEOUT', 'stalled list');
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(HEADERS_MS - 100);
    expect(took).toBeLessThan(HEADERS_MS + 10_000);
    // A write during the stall: timed out too, and the API server never saw it.
    expectStatus(await create('during-stall'), 504, 'GH_UPSTREAM_TIMEOUT', 'stalled create');
    await expectDeniedWithoutUpstream('stall');
    await expectRecovered('stall');
    expect((await direct(['-n', ns, 'get', 'configmap', 'during-stall'])).code).not.toBe(0);
  });

  it('an API server answering 500 with a non-Status body: relayed as an error, the gateway keeps serving', async () => {
    proxy.mode = 'error500';
    const r = await list();
    // Relayed as the upstream's 500, or turned into a Gatehouse Status: an error either way, never a 2xx.
    expect([500, 502, 503], r.text).toContain(r.status);
    if (r.status !== 500) expect(r.code).toMatch(/^GH_UPSTREAM_/);
    process.stderr.write(`[security] upstream 500 with an HTML body: the client got ${r.status} ${r.code ?? ''} ${r.text.slice(0, 200)}\n`);
    await expectDeniedWithoutUpstream('500');
    await expectRecovered('500');
  });

  it('garbage instead of HTTP, and connections reset after TLS: a Status naming the upstream, then recovery', async () => {
    for (const mode of ['garbage', 'reset'] as const) {
      proxy.mode = mode;
      const r = await list();
      expect([502, 503], `${mode}: ${r.text}`).toContain(r.status);
      expect(r.json?.['kind'], mode).toBe('Status');
      expect(r.code, mode).toMatch(/^GH_UPSTREAM_/);
      const w = await create(`during-${mode}`);
      expect([502, 503], `${mode} create: ${w.text}`).toContain(w.status);
      await expectDeniedWithoutUpstream(mode);
      await expectRecovered(mode);
    }
  });

  it('an API server stopped, then back on the same port: 503 GH_UPSTREAM_UNAVAILABLE with Retry-After, then success', async () => {
    await proxy.stop();
    const r = await list();
    expectStatus(r, 503, 'GH_UPSTREAM_UNAVAILABLE', 'stopped list');
    expect(r.headers['retry-after']).toBeDefined();
    expectStatus(await create('during-stop'), 503, 'GH_UPSTREAM_UNAVAILABLE', 'stopped create');
    await expectDeniedWithoutUpstream('stopped');
    await proxy.start();
    await expectRecovered('stopped');
    const again = await create('after-stop');
    expect(again.status, again.text).toBe(201);
    expect((await direct(['-n', ns, 'get', 'configmap', 'during-stop'])).code).not.toBe(0);
  });

  it('the gateway is still up and its audit chain verifies', async () => {
    expect(gateway.stderr()).not.toMatch(/uncaught|unhandled/i);
    const verify = await gatehouse(['audit', 'verify', '--data-dir', gateway.dataDir]);
    expect(verify.code, verify.stderr).toBe(0);
    // No denied delete got through in any fault.
    await direct.ok(['-n', ns, 'get', 'configmap', 'keep']);
  });
});
