import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { rawRequest } from './helpers/https.js';
import { kubectlFor } from './helpers/run.js';
import type { Kubectl } from './helpers/run.js';

// A real gateway exporting OTLP/HTTP JSON to a real (if tiny) collector: one
// trace per request, a span per stage, the Audit-Id on the server span, and a
// client's traceparent as the parent.
const cluster = inject('cluster');
const ns = `trace-${randomBytes(3).toString('hex')}`;

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: OtlpValue }[];
}
interface OtlpRequest {
  resourceSpans: { resource: { attributes: { key: string; value: OtlpValue }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
}

const received: OtlpSpan[] = [];
const contentTypes = new Set<string>();
let serviceNames = new Set<string>();
let collector: Server;
let gateway: GatewayProcess;
let direct: Kubectl;
let via: Kubectl;
let caPem: string;

const attr = (span: OtlpSpan, key: string): string | number | boolean | undefined => {
  const v = span.attributes.find((a) => a.key === key)?.value;
  if (v === undefined) return undefined;
  return v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : v.boolValue);
};

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const found = probe();
    if (found !== undefined) return found;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The spans of the trace whose server span carries this request id, once its stage spans have arrived too. */
function traceOf(requestId: string, stageCount: number): { server: OtlpSpan; children: OtlpSpan[] } | undefined {
  const servers = received.filter((s) => attr(s, 'gatehouse.request_id') === requestId);
  if (servers.length !== 1) return undefined;
  const server = servers[0]!;
  const children = received.filter((s) => s.traceId === server.traceId && s.parentSpanId === server.spanId);
  return children.length >= stageCount ? { server, children } : undefined;
}

/** The access log line of each request the gateway answered for this namespace, by verb. */
function accessLines(verb: string): { requestId: string; traceId: string; resource?: string }[] {
  return gateway
    .stderr()
    .split('\n')
    .filter((l) => l.includes('"msg":"access"') && l.includes(`/namespaces/${ns}/`))
    .map((l) => JSON.parse(l) as { requestId: string; traceId: string; verb: string; resource?: string })
    .filter((l) => l.verb === verb);
}

beforeAll(async () => {
  collector = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      contentTypes.add(req.headers['content-type'] ?? '');
      const raw = Buffer.concat(chunks);
      const body = JSON.parse((req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8')) as OtlpRequest;
      for (const rs of body.resourceSpans) {
        serviceNames = new Set([...serviceNames, ...rs.resource.attributes.filter((a) => a.key === 'service.name').map((a) => a.value.stringValue!)]);
        for (const ss of rs.scopeSpans) received.push(...ss.spans);
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`;

  direct = kubectlFor(cluster.adminKubeconfig);
  await direct.ok(['create', 'namespace', ns]);
  const config = join(tmpdir(), `gatehouse-trace-${ns}.yaml`);
  writeFileSync(config, stringify({ tracing: { enabled: true, otlpEndpoint: endpoint, protocol: 'http/json', serviceName: 'gatehouse-e2e', headers: { 'x-collector-key': 'k' } } }));
  gateway = await startGatewayProcess(cluster.adminKubeconfig, ['--config', config]);
  via = kubectlFor(gateway.adminKubeconfig);
  caPem = readFileSync(join(gateway.dataDir, 'ca.crt'), 'utf8');
}, 120_000);
afterAll(async () => {
  await direct?.(['delete', 'namespace', ns, '--wait=false']);
  await gateway?.stop();
  collector?.close();
});

describe('tracing', () => {
  it('exports one trace per kubectl request with a span per stage, named by the access log', async () => {
    await via.ok(['-n', ns, 'create', 'configmap', 'traced', '--from-literal=k=v']);
    await via.ok(['-n', ns, 'get', 'configmaps']);
    await via.ok(['-n', ns, 'delete', 'configmap', 'traced']);

    for (const [verb, resource] of [
      ['create', 'configmaps'],
      ['list', 'configmaps'],
      ['delete', 'configmaps'],
    ] as const) {
      const line = await waitFor(`the ${verb} access line`, () => accessLines(verb)[0]);
      expect(line.traceId).toMatch(/^[0-9a-f]{32}$/);
      // Spans are exported in batches (every 5 s).
      const { server, children } = await waitFor(`the ${verb} trace`, () => traceOf(line.requestId, 8));
      expect(server.traceId).toBe(line.traceId);
      expect(server.parentSpanId ?? '').toBe('');
      expect(server.kind).toBe(2); // SPAN_KIND_SERVER
      expect(server.name).toBe(`${verb} ${resource}`);
      expect(attr(server, 'k8s.request.verb')).toBe(verb);
      expect(attr(server, 'k8s.request.resource')).toBe(resource);
      expect(attr(server, 'k8s.namespace.name')).toBe(ns);
      expect(attr(server, 'k8s.cluster.name')).toBe('default');
      expect(attr(server, 'gatehouse.decision')).toBe('allow');
      expect(attr(server, 'gatehouse.subject')).toBe('gatehouse-admin');
      expect(attr(server, 'http.response.status_code')).toBe(verb === 'create' ? 201 : 200);
      const names = children.map((c) => c.name);
      for (const stage of ['identity', 'route', 'classify', 'impersonation', 'policy', 'budget', 'upstream', 'recording']) expect(names).toContain(stage);
      expect(names.filter((n) => n === 'upstream')).toHaveLength(1);
      expect(attr(children.find((c) => c.name === 'upstream')!, 'http.response.status_code')).toBe(verb === 'create' ? 201 : 200);
    }
    // One trace per request: every request of the namespace has its own trace id.
    const all = ['create', 'list', 'delete'].flatMap((v) => accessLines(v));
    expect(new Set(all.map((l) => l.traceId)).size).toBe(all.length);
    expect(serviceNames).toEqual(new Set(['gatehouse-e2e']));
    expect([...contentTypes]).toEqual(['application/json']);
  });

  it('puts the Audit-Id on the server span and follows a client traceparent', async () => {
    const clientTrace = randomBytes(16).toString('hex');
    const clientSpan = randomBytes(8).toString('hex');
    const res = await rawRequest(gateway.url, {
      path: `/api/v1/namespaces/${ns}/configmaps`,
      headers: { authorization: `Bearer ${gateway.adminToken}`, traceparent: `00-${clientTrace}-${clientSpan}-01` },
      caPem,
    });
    expect(res.status).toBe(200);
    const auditId = res.headers['audit-id'] as string;
    const { server, children } = await waitFor('the trace', () => traceOf(auditId, 8));
    expect(server.traceId).toBe(clientTrace);
    expect(server.parentSpanId).toBe(clientSpan);
    expect(attr(server, 'gatehouse.request_id')).toBe(auditId);
    expect(children.every((c) => c.traceId === clientTrace)).toBe(true);
  });

  it('traces a refusal without an upstream span', async () => {
    const res = await rawRequest(gateway.url, { path: `/api/v1/namespaces/${ns}/configmaps`, caPem });
    expect(res.status).toBe(401);
    const { server, children } = await waitFor('the trace', () => traceOf(res.headers['audit-id'] as string, 2));
    expect(attr(server, 'http.response.status_code')).toBe(401);
    expect(attr(children.find((c) => c.name === 'identity')!, 'gatehouse.error_code')).toBe('GH_UNAUTHENTICATED');
    expect(children.map((c) => c.name)).not.toContain('upstream');
  });
});
