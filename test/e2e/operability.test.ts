import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { deadUpstreamKubeconfig } from './helpers/dead-upstream.js';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { rawRequest } from './helpers/https.js';
import { kubectlFor, run } from './helpers/run.js';
import type { Kubectl } from './helpers/run.js';
import { waitFor } from './helpers/wait.js';

// What an operator sees: Prometheus metrics that move with real kubectl
// traffic, one request id from response to log to audit record, readiness
// with reasons, SIGHUP reloads and a SIGTERM that drains instead of cutting.
const cluster = inject('cluster');
const ns = `ops-${randomBytes(3).toString('hex')}`;
const METRICS_TOKEN = 'metrics-token-0123456789';
let gateway: GatewayProcess;
let direct: Kubectl;
let via: Kubectl;
let caPem: string;
let metricsUrl: string;

interface Recorded {
  event: { requestId: string; request: { verb: string; resource: string; name: string }; result: { status: number } };
}

const gatehouse = (g: GatewayProcess, args: string[]) => run(process.execPath, ['bin/gatehouse.js', ...args, '--data-dir', g.dataDir]);
const auth = (): Record<string, string> => ({ authorization: `Bearer ${gateway.adminToken}` });

async function scrape(): Promise<string> {
  const res = await fetch(`${metricsUrl}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** The value of one sample (0 when absent), e.g. value(text, 'gatehouse_requests_total{cluster="default",verb="list",…}'). */
function value(text: string, sample: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}


async function records(g: GatewayProcess): Promise<Recorded[]> {
  const r = await gatehouse(g, ['audit', 'search', '--namespace', ns, '--limit', '500', '--json']);
  expect(r.code, r.stderr).toBe(0);
  const parsed = JSON.parse(r.stdout) as Recorded[] | { events: Recorded[] };
  return Array.isArray(parsed) ? parsed : parsed.events;
}

beforeAll(async () => {
  direct = kubectlFor(cluster.adminKubeconfig);
  await direct.ok(['create', 'namespace', ns]);
  const config = join(tmpdir(), `gatehouse-ops-${ns}.yaml`);
  writeFileSync(config, stringify({ metrics: { token: METRICS_TOKEN }, shutdown: { delaySeconds: 2, drainSeconds: 20 } }));
  gateway = await startGatewayProcess(cluster.adminKubeconfig, ['--config', config, '--metrics-listen', '127.0.0.1:0', '--approval-hold', '0']);
  via = kubectlFor(gateway.adminKubeconfig);
  caPem = readFileSync(join(gateway.dataDir, 'ca.crt'), 'utf8');
  metricsUrl = /metrics at (http:\/\/\S+)\/metrics/.exec(gateway.stderr())![1]!;
}, 120_000);
afterAll(async () => {
  await direct?.(['delete', 'namespace', ns, '--wait=false']);
  await gateway?.stop();
});

describe('metrics', () => {
  it('count kubectl requests by verb, resource, decision and code, with stage and upstream latency', async () => {
    const before = await scrape();
    await via.ok(['-n', ns, 'get', 'configmaps']);
    await via.ok(['-n', ns, 'create', 'configmap', 'counted']);
    const refused = await rawRequest(gateway.url, { path: `/api/v1/namespaces/${ns}/configmaps`, caPem });
    expect(refused.status).toBe(401);
    // A request is counted when its response closes on the server, which may come after the client has read it: wait for all three.
    const counted = [
      'gatehouse_requests_total{cluster="default",verb="list",resource="configmaps",subresource="",decision="allow",code="200"}',
      'gatehouse_requests_total{cluster="default",verb="create",resource="configmaps",subresource="",decision="allow",code="201"}',
      'gatehouse_requests_total{cluster="",verb="",resource="",subresource="",decision="none",code="401"}',
    ];
    const after = await waitFor('the counters to move', async () => {
      const text = await scrape();
      return counted.every((sample) => value(text, sample) > value(before, sample)) ? text : undefined;
    });
    const delta = (sample: string): number => value(after, sample) - value(before, sample);
    expect(delta('gatehouse_requests_total{cluster="default",verb="list",resource="configmaps",subresource="",decision="allow",code="200"}')).toBe(1);
    expect(delta('gatehouse_requests_total{cluster="default",verb="create",resource="configmaps",subresource="",decision="allow",code="201"}')).toBe(1);
    expect(delta('gatehouse_requests_total{cluster="",verb="",resource="",subresource="",decision="none",code="401"}')).toBe(1);
    expect(delta('gatehouse_stage_duration_seconds_count{stage="identity"}')).toBeGreaterThanOrEqual(3);
    expect(delta('gatehouse_stage_duration_seconds_count{stage="policy"}')).toBeGreaterThanOrEqual(2);
    expect(delta('gatehouse_request_duration_seconds_count{verb="create"}')).toBe(1);
    expect(delta('gatehouse_upstream_duration_seconds_count')).toBeGreaterThanOrEqual(2);
    expect(after).toContain('gatehouse_audit_healthy 1');
    expect(after).toMatch(/\ngatehouse_policy_rules \d+/);
    expect(after).toContain('process_resident_memory_bytes');
  });

  it('are served on the main listener only with the metrics token', async () => {
    expect((await rawRequest(gateway.url, { path: '/metrics', caPem })).status).toBe(401);
    expect((await rawRequest(gateway.url, { path: '/metrics', headers: auth(), caPem })).status).toBe(401);
    const ok = await rawRequest(gateway.url, { path: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` }, caPem });
    expect(ok.status).toBe(200);
    expect(ok.body.toString()).toContain('# TYPE gatehouse_requests_total counter');
  });

  it('show an open watch', async () => {
    const child = spawn('kubectl', ['-n', ns, 'get', 'configmaps', '-w', '-o', 'name'], { env: { ...process.env, KUBECONFIG: gateway.adminKubeconfig } });
    try {
      await waitFor('the watch gauge', async () => (value(await scrape(), 'gatehouse_open_watches') === 1 ? true : undefined));
    } finally {
      child.kill();
    }
    await waitFor('the watch to close', async () => (value(await scrape(), 'gatehouse_open_watches') === 0 ? true : undefined));
  });
});

describe('the request id', () => {
  it('is the Audit-Id of forwarded answers and refusals, the audit requestId and the access log requestId', async () => {
    const ok = await rawRequest(gateway.url, { path: `/api/v1/namespaces/${ns}/configmaps/counted`, headers: { ...auth(), 'audit-id': 'forged' }, caPem });
    expect(ok.status).toBe(200);
    const id = ok.headers['audit-id'] as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const recorded = await waitFor('the audit record', async () => (await records(gateway)).find((r) => r.event.requestId === id));
    expect(recorded.event.request).toMatchObject({ verb: 'get', resource: 'configmaps', name: 'counted' });
    await waitFor('the access log line', () => (gateway.stderr().includes(`"requestId":"${id}"`) ? true : undefined));
    const line = gateway.stderr().split('\n').find((l) => l.includes(`"requestId":"${id}"`) && l.includes('"msg":"access"'))!;
    expect(JSON.parse(line)).toMatchObject({ verb: 'get', resource: 'configmaps', namespace: ns, subject: 'gatehouse-admin', decision: 'allow', status: 200 });

    const refused = await rawRequest(gateway.url, { path: `/api/v1/namespaces/${ns}/configmaps`, caPem });
    expect(refused.status).toBe(401);
    expect(refused.headers['audit-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('readiness', () => {
  it('lists its checks with ?verbose', async () => {
    const ready = await rawRequest(gateway.url, { path: '/readyz?verbose', caPem });
    expect(ready.status).toBe(200);
    expect(ready.body.toString()).toBe('[+]ping ok\n[+]shutdown ok\n[+]policy ok\n[+]audit-store ok\n[+]upstream ok\nreadyz check passed\n');
    expect((await rawRequest(gateway.url, { path: '/livez?verbose', caPem })).body.toString()).toBe('[+]ping ok\nlivez check passed\n');
  });

  it('fails with the reason when the upstream is down, while the gateway stays live', async () => {
    const { kubeconfig, port } = await deadUpstreamKubeconfig(gateway.dataDir, cluster.caPem);
    const down = await startGatewayProcess(kubeconfig);
    try {
      const downCa = readFileSync(join(down.dataDir, 'ca.crt'), 'utf8');
      const ready = await rawRequest(down.url, { path: '/readyz', caPem: downCa });
      expect(ready.status).toBe(503);
      expect(ready.body.toString()).toMatch(new RegExp(`\\[-\\]upstream failed: https://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
      expect(ready.body.toString()).toContain('[+]audit-store ok');
      expect(ready.body.toString()).toContain('readyz check failed');
      expect((await rawRequest(down.url, { path: '/livez', caPem: downCa })).status).toBe(200);
    } finally {
      await down.stop();
    }
  });
});

describe('signals', () => {
  it('SIGHUP reloads the policy and counts it', async () => {
    const before = value(await scrape(), 'gatehouse_policy_reloads_total{trigger="signal",result="success"}');
    process.kill(gateway.pid, 'SIGHUP');
    await waitFor('the reload to be counted', async () =>
      value(await scrape(), 'gatehouse_policy_reloads_total{trigger="signal",result="success"}') === before + 1 ? true : undefined,
    );
    // Logs are written asynchronously: the line may trail the counter.
    await waitFor('the reload to be logged', () => (/"trigger":"signal".*"msg":"policy reloaded"/.test(gateway.stderr()) ? true : undefined));
  });

  it('SIGTERM fails readiness, lets a slow request finish, ends a watch and records both', async () => {
    await direct.ok(['-n', ns, 'create', 'configmap', 'watched']);
    const watch = spawn('kubectl', ['-n', ns, 'get', 'configmaps', '-w', '-o', 'name'], { env: { ...process.env, KUBECONFIG: gateway.adminKubeconfig } });
    let watchOut = '';
    let watchErr = '';
    watch.stdout.setEncoding('utf8').on('data', (d: string) => (watchOut += d));
    watch.stderr.setEncoding('utf8').on('data', (d: string) => (watchErr += d));
    const watchExit = new Promise<number | null>((resolve) => watch.once('exit', resolve));
    await waitFor('the watch to stream', () => (watchOut.includes('configmap/watched') ? true : undefined));

    // A create whose body arrives in two parts, the second after SIGTERM.
    const body = Buffer.from(JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'slow', namespace: ns }, data: { k: 'v' } }));
    const base = new URL(gateway.url);
    const slow = request({
      hostname: base.hostname,
      port: base.port,
      method: 'POST',
      path: `/api/v1/namespaces/${ns}/configmaps`,
      headers: { ...auth(), 'content-type': 'application/json', 'content-length': body.length },
      ca: caPem,
    });
    const answered = new Promise<{ status: number; connection: string | undefined; auditId: string }>((resolve, reject) => {
      slow.once('response', (res) => {
        res.resume();
        res.once('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, auditId: res.headers['audit-id'] as string }));
      });
      slow.once('error', reject);
    });
    slow.write(body.subarray(0, 10));
    await new Promise((r) => setTimeout(r, 300));

    const exited = new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        try {
          process.kill(gateway.pid, 0);
        } catch {
          clearInterval(poll);
          resolve();
        }
      }, 50);
    });
    process.kill(gateway.pid, 'SIGTERM');
    const ready = await waitFor('readyz to fail', async () => {
      const r = await rawRequest(gateway.url, { path: '/readyz', caPem });
      return r.status === 503 ? r.body.toString() : undefined;
    });
    expect(ready).toContain('[-]shutdown failed: the gateway is shutting down');

    slow.end(body.subarray(10));
    const reply = await answered;
    expect(reply.status).toBe(201);
    expect(reply.connection).toBe('close');
    // kubectl reads the end of the watch as the end of its output: no error, exit 0.
    expect(await watchExit).toBe(0);
    await exited;
    expect(watchErr).toBe('');
    expect(gateway.stderr()).toMatch(/"cut":0,"streams":1,"msg":"stopped serving"/);

    const events = await records(gateway);
    expect(events.find((e) => e.event.requestId === reply.auditId)?.event.result.status).toBe(201);
    expect(events.some((e) => e.event.request.verb === 'watch' && e.event.request.resource === 'configmaps')).toBe(true);
  });
});
