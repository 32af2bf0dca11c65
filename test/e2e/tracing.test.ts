import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { createServer as createH2cServer } from 'node:http2';
import type { Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { startCluster } from '../../src/harness/index.js';
import type { Cluster } from '../../src/harness/index.js';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { rawRequest } from './helpers/https.js';
import { kubectlFor } from './helpers/run.js';
import type { Kubectl } from './helpers/run.js';
import { waitFor } from './helpers/wait.js';

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
let collectorEndpoint: string;
let gateway: GatewayProcess;
let direct: Kubectl;
let via: Kubectl;
let caPem: string;

const attr = (span: OtlpSpan, key: string): string | number | boolean | undefined => {
  const v = span.attributes.find((a) => a.key === key)?.value;
  if (v === undefined) return undefined;
  return v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : v.boolValue);
};


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
  collectorEndpoint = endpoint;

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
    // A Secret read is masked: its trace has a masking span, which counts what it replaced.
    await direct.ok(['-n', ns, 'create', 'secret', 'generic', 'traced', '--from-literal=password=hunter2']);
    await via.ok(['-n', ns, 'get', 'secret', 'traced', '-o', 'yaml']);
    const read = await waitFor('the secret get access line', () => accessLines('get').find((l) => l.resource === 'secrets'));
    const { children } = await waitFor('the secret get trace', () => traceOf(read.requestId, 9));
    const masking = children.find((c) => c.name === 'masking');
    expect(masking, children.map((c) => c.name).join(', ')).toBeDefined();
    expect(attr(masking!, 'gatehouse.masked_values')).toBeGreaterThan(0);
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

  it('gives console API, MCP and health requests a server span each', async () => {
    const auth = { authorization: `Bearer ${gateway.adminToken}` };
    const answers = {
      '/readyz': await rawRequest(gateway.url, { path: '/readyz', caPem }),
      '/gatehouse/v1/log-level': await rawRequest(gateway.url, { path: '/gatehouse/v1/log-level', headers: auth, caPem }),
      '/mcp': await rawRequest(gateway.url, {
        method: 'POST',
        path: '/mcp',
        headers: { ...auth, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
        caPem,
      }),
    };
    expect(answers['/gatehouse/v1/log-level'].status).toBe(200);
    for (const [path, endpoint, method] of [
      ['/readyz', 'health', 'GET'],
      ['/gatehouse/v1/log-level', 'console', 'GET'],
      ['/mcp', 'mcp', 'POST'],
    ] as const) {
      const span = await waitFor(`the ${endpoint} span`, () => received.find((s) => attr(s, 'url.path') === path && attr(s, 'gatehouse.endpoint') === endpoint));
      expect(span.name).toBe(`${method} ${endpoint}`);
      expect(span.kind).toBe(2); // SERVER in OTLP
      expect(attr(span, 'http.response.status_code')).toBe(answers[path].status);
    }
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

// kube-apiserver with `--tracing-config-file` exports OTLP over gRPC. The
// receiver is a plain h2c server that keeps each export's protobuf body: the
// API server's span is in the gateway's trace when that body carries the
// trace's 16 id bytes and the gateway's upstream span id as its parent.
describe('the API server', () => {
  const exports: Buffer[] = [];
  let receiver: Http2Server;
  let traced: Cluster;
  let front: GatewayProcess;

  beforeAll(async () => {
    receiver = createH2cServer();
    receiver.on('stream', (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        // gRPC framing: 1 byte "compressed", 4 bytes length, then the message.
        const frame = Buffer.concat(chunks);
        const message = frame.subarray(5);
        exports.push(frame[0] === 1 && headers['grpc-encoding'] === 'gzip' ? gunzipSync(message) : message);
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        // An empty ExportTraceServiceResponse.
        stream.end(Buffer.from([0, 0, 0, 0, 0]));
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-apiserver-tracing-'));
    const tracingConfig = join(dir, 'tracing.yaml');
    writeFileSync(
      tracingConfig,
      stringify({
        apiVersion: 'apiserver.config.k8s.io/v1beta1',
        kind: 'TracingConfiguration',
        endpoint: `127.0.0.1:${(receiver.address() as AddressInfo).port}`,
        samplingRatePerMillion: 1_000_000,
      }),
    );
    traced = await startCluster({ apiserverArgs: [`--tracing-config-file=${tracingConfig}`], log: (line) => process.stderr.write(`[traced cluster] ${line}\n`) });
    const config = join(dir, 'gatehouse.yaml');
    writeFileSync(config, stringify({ tracing: { enabled: true, otlpEndpoint: collectorEndpoint, protocol: 'http/json' } }));
    front = await startGatewayProcess(traced.adminKubeconfig, ['--config', config]);
  }, 240_000);
  afterAll(async () => {
    await front?.stop();
    await traced?.stop();
    receiver?.close();
  });

  it('joins the trace of a request under the upstream span', async () => {
    const res = await rawRequest(front.url, {
      path: '/api/v1/namespaces/default/configmaps',
      headers: { authorization: `Bearer ${front.adminToken}` },
      caPem: readFileSync(join(front.dataDir, 'ca.crt'), 'utf8'),
    });
    expect(res.status).toBe(200);
    const { server, children } = await waitFor('the gateway trace', () => traceOf(res.headers['audit-id'] as string, 7));
    const upstream = children.find((c) => c.name === 'upstream')!;
    const traceId = Buffer.from(server.traceId, 'hex');
    const upstreamSpan = Buffer.from(upstream.spanId, 'hex');
    // The API server batches its spans (every 5 s by default).
    const body = await waitFor('an API server export with the trace id', () => exports.find((b) => b.includes(traceId)));
    expect(body.includes(upstreamSpan)).toBe(true);
  });
});
