import { createServer, request } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { GatehouseError } from '../../../src/errors/codes.js';
import { CONTINUE, stop } from '../../../src/pipeline/context.js';
import type { Stage } from '../../../src/pipeline/context.js';
import { createPipeline } from '../../../src/pipeline/pipeline.js';
import type { Recorder } from '../../../src/record/recorder.js';
import { respondWithStatus, respondWithStatusOnSocket } from '../../../src/proxy/respond.js';
import { parseConfig } from '../../../src/config/schema.js';
import { openTracing } from '../../../src/tracing/index.js';
import { otelRequestTracer } from '../../../src/tracing/otel.js';
import { startSdk } from '../../../src/tracing/sdk.js';
import type { RequestTracer } from '../../../src/tracing/types.js';

let server: Server | undefined;
afterEach(() => server?.close());

const recorder: Recorder = {
  unavailable: () => undefined,
  whileDown: () => undefined,
  unrecordedReads: () => 0,
  close: () => undefined,
  responseCaptureLimit: () => 0,
  awaitsRecord: () => true,
  openStream: () => undefined,
  record: () => Promise.resolve(),
};

const named = (name: string, run: Stage['run']): Stage => ({ name, run });

/** Identity, route and classify stand-ins that fill the context as the real ones do. */
const stages = (policy: Stage['run']): Stage[] => [
  named('identity', (ctx) => ((ctx.principal = { subject: 'alice', groups: [] } as never), CONTINUE)),
  named('route', (ctx) => ((ctx.cluster = 'prod'), CONTINUE)),
  named('classify', (ctx) => {
    ctx.request = { verb: 'list', resource: 'configmaps', subresource: '', namespace: 'shop', name: '', path: '/api/v1/namespaces/shop/configmaps' } as never;
    return CONTINUE;
  }),
  named('policy', policy),
];

/** A pipeline on loopback with a tracer over an in-memory exporter; the terminal records the upstream headers it would send. */
async function serve(list: Stage[]): Promise<{ url: string; exporter: InMemorySpanExporter; upstreamHeaders: IncomingHttpHeaders[] }> {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer: RequestTracer = otelRequestTracer(provider.getTracer('test'));
  const upstreamHeaders: IncomingHttpHeaders[] = [];
  const pipeline = createPipeline(
    list,
    {
      forward: async (ctx, res, completion) => {
        upstreamHeaders.push({ ...ctx.req.headers });
        res.setHeader('audit-id', ctx.id);
        await completion.done({ status: 200, upstream: { status: 200, latencyMs: 1, bytesIn: 0, bytesOut: 2 } });
        res.end('{}');
      },
      forwardUpgrade: () => Promise.reject(new Error('not used')),
    },
    {
      refuse: (ctx, res, error) => respondWithStatus(res, error, ctx.id),
      refuseUpgrade: (ctx, socket, error) => respondWithStatusOnSocket(socket, error, ctx.id),
    },
    pino({ level: 'silent' }),
    recorder,
    undefined,
    tracer,
  );
  server = createServer((req, res) => pipeline.handleRequest(req, res));
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, exporter, upstreamHeaders };
}

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; auditId: string }> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, auditId: res.headers['audit-id'] as string }));
    })
      .on('error', reject)
      .end();
  });
}

async function spansOf(exporter: InMemorySpanExporter, count: number): Promise<ReadableSpan[]> {
  // The server span ends when the response closes on the server, just after the client read it.
  for (let i = 0; i < 100 && exporter.getFinishedSpans().length < count; i++) await new Promise((r) => setTimeout(r, 10));
  return exporter.getFinishedSpans();
}

describe('request tracing', () => {
  it('gives a forwarded request one server span with a child per stage, upstream and recording', async () => {
    const { url, exporter, upstreamHeaders } = await serve(stages(() => CONTINUE));
    const res = await get(`${url}/api/v1/namespaces/shop/configmaps`);
    expect(res.status).toBe(200);
    const spans = await spansOf(exporter, 7);
    const server = spans.find((s) => s.parentSpanContext === undefined)!;
    expect(server.name).toBe('list configmaps');
    expect(server.kind).toBe(1); // SERVER
    expect(server.attributes).toMatchObject({
      'gatehouse.request_id': res.auditId,
      'http.request.method': 'GET',
      'http.response.status_code': 200,
      'k8s.request.verb': 'list',
      'k8s.request.resource': 'configmaps',
      'k8s.namespace.name': 'shop',
      'k8s.cluster.name': 'prod',
      'gatehouse.subject': 'alice',
    });
    const children = spans.filter((s) => s !== server);
    expect(children.map((s) => s.name)).toEqual(['identity', 'route', 'classify', 'policy', 'upstream', 'recording']);
    for (const child of children) {
      expect(child.spanContext().traceId).toBe(server.spanContext().traceId);
      expect(child.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    }
    const upstream = children.find((s) => s.name === 'upstream')!;
    expect(upstream.attributes['http.response.status_code']).toBe(200);
    // The API server joins the trace under the upstream span.
    expect(upstreamHeaders[0]!.traceparent).toBe(`00-${server.spanContext().traceId}-${upstream.spanContext().spanId}-01`);
  });

  it('gives a request the gateway answers itself (console, MCP, health) one server span from before its handler ran', async () => {
    const exporter = new InMemorySpanExporter();
    const tracer = otelRequestTracer(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer('test'));
    const startTime = Date.now() - 1000;
    server = createServer((req, res) => {
      tracer.answered(req, res, req.url === '/readyz' ? 'health' : 'console', startTime);
      res.writeHead(req.url === '/readyz' ? 503 : 200).end();
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const clientTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    await get(`${url}/gatehouse/v1/approvals?state=pending`, { traceparent: `00-${clientTrace}-00f067aa0ba902b7-01` });
    await get(`${url}/readyz`);
    const [consoleSpan, healthSpan] = await spansOf(exporter, 2);
    expect(consoleSpan!.name).toBe('GET console');
    expect(consoleSpan!.kind).toBe(1); // SERVER
    expect(consoleSpan!.attributes).toMatchObject({ 'gatehouse.endpoint': 'console', 'url.path': '/gatehouse/v1/approvals', 'http.response.status_code': 200 });
    expect(consoleSpan!.spanContext().traceId).toBe(clientTrace);
    expect(consoleSpan!.startTime[0]).toBe(Math.floor(startTime / 1000));
    expect(consoleSpan!.status.code).toBe(0); // UNSET
    expect(healthSpan!.name).toBe('GET health');
    expect(healthSpan!.status.code).toBe(2); // ERROR: a failing readyz is a 5xx
  });

  it('makes a client traceparent the parent and replaces it upstream', async () => {
    const { url, exporter, upstreamHeaders } = await serve(stages(() => CONTINUE));
    const clientTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    await get(`${url}/api/v1/namespaces/shop/configmaps`, { traceparent: `00-${clientTrace}-00f067aa0ba902b7-01` });
    const spans = await spansOf(exporter, 7);
    const server = spans.find((s) => s.name === 'list configmaps')!;
    expect(server.spanContext().traceId).toBe(clientTrace);
    expect(server.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(upstreamHeaders[0]!.traceparent).toMatch(new RegExp(`^00-${clientTrace}-(?!00f067aa0ba902b7)[0-9a-f]{16}-01$`));
  });

  it('marks the stage that refused, with its code, and ends the trace with the refusal status', async () => {
    const { url, exporter, upstreamHeaders } = await serve(stages(() => stop(new GatehouseError('GH_POLICY_DENIED', 'no'))));
    const res = await get(`${url}/api/v1/namespaces/shop/configmaps`);
    expect(res.status).toBe(403);
    const spans = await spansOf(exporter, 6);
    expect(spans.map((s) => s.name)).toEqual(['identity', 'route', 'classify', 'policy', 'recording', 'list configmaps']);
    expect(spans.find((s) => s.name === 'policy')!.attributes['gatehouse.error_code']).toBe('GH_POLICY_DENIED');
    expect(spans.at(-1)!.attributes['http.response.status_code']).toBe(403);
    expect(spans.at(-1)!.status.code).toBe(0); // a refusal is not an error of the gateway's
    expect(upstreamHeaders).toHaveLength(0);
  });

  it('marks a stage that threw as an error and the request as failed', async () => {
    const { url, exporter } = await serve(
      stages(() => {
        throw new Error('bug');
      }),
    );
    expect((await get(`${url}/api`)).status).toBe(500);
    const spans = await spansOf(exporter, 6);
    expect(spans.find((s) => s.name === 'policy')!.status.code).toBe(2); // ERROR
    expect(spans.at(-1)!.status.code).toBe(2);
  });

  it('is off by default: no tracer at all', async () => {
    const config = parseConfig({ upstream: { kubeconfig: '/dev/null' } });
    expect(config.tracing).toEqual({
      enabled: false,
      otlpEndpoint: 'http://127.0.0.1:4318/v1/traces',
      protocol: 'http/protobuf',
      serviceName: 'gatehouse',
      sampleRatio: 1,
      headers: {},
    });
    expect(await openTracing(config.tracing, pino({ level: 'silent' }))).toBeUndefined();
  });

  it('exports OTLP protobuf (the default) with the configured headers when the gateway stops', async () => {
    const posts: { contentType: string | undefined; key: string | undefined; body: Buffer }[] = [];
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        posts.push({ contentType: req.headers['content-type'], key: req.headers['x-collector-key'] as string | undefined, body: Buffer.concat(chunks) });
        res.end();
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const otlpEndpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
    const config = parseConfig({ upstream: { kubeconfig: '/dev/null' }, tracing: { enabled: true, otlpEndpoint, headers: { 'x-collector-key': 'k1' } } });
    const tracing = startSdk(config.tracing, pino({ level: 'silent' }));
    const trace = tracing.tracer.start({ method: 'GET', url: '/version', headers: {} } as never, 'request-id-1234');
    trace.stage('identity').end();
    trace.end({ id: 'request-id-1234', timings: {} } as never, 200);
    await tracing.shutdown();
    expect(posts).toHaveLength(1);
    expect(posts[0]).toMatchObject({ contentType: 'application/x-protobuf', key: 'k1' });
    expect(posts[0]!.body.includes('request-id-1234')).toBe(true);
    expect(posts[0]!.body.includes('identity')).toBe(true);
  });

  it('rejects a bad endpoint or ratio', () => {
    expect(() => parseConfig({ upstream: { kubeconfig: '/dev/null' }, tracing: { enabled: true, otlpEndpoint: 'collector:4318' } })).toThrow(/tracing\.otlpEndpoint/);
    expect(() => parseConfig({ upstream: { kubeconfig: '/dev/null' }, tracing: { sampleRatio: 2 } })).toThrow(/tracing\.sampleRatio/);
  });
});
