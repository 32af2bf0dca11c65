/**
 * Request traces on the OpenTelemetry API: one server span per request,
 * one child span per stage, `traceparent` in and out. Loaded only when
 * tracing is enabled.
 *
 * @module
 */

import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Attributes, Context, Span, TextMapGetter, TextMapSetter, Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_URL_PATH } from '@opentelemetry/semantic-conventions';
import { GatehouseError } from '../errors/codes.js';
import type { OwnEndpoint, RequestTrace, RequestTracer, StageSpan } from './types.js';

/** Span attribute names of Gatehouse's own (docs/operations.md lists them). */
export const ATTR = {
  requestId: 'gatehouse.request_id',
  decision: 'gatehouse.decision',
  rule: 'gatehouse.rule',
  errorCode: 'gatehouse.error_code',
  endpoint: 'gatehouse.endpoint',
  subject: 'gatehouse.subject',
  cluster: 'k8s.cluster.name',
  namespace: 'k8s.namespace.name',
  verb: 'k8s.request.verb',
  resource: 'k8s.request.resource',
  subresource: 'k8s.request.subresource',
  name: 'k8s.request.name',
} as const;

const propagator = new W3CTraceContextPropagator();

const getter: TextMapGetter<IncomingHttpHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key.toLowerCase()],
};
const setter: TextMapSetter<IncomingHttpHeaders> = {
  set: (carrier, key, value) => {
    carrier[key.toLowerCase()] = value;
  },
};

/**
 * Wraps an OpenTelemetry tracer (from any provider) as the pipeline's tracer.
 * Contexts are passed explicitly, so no global context manager or provider
 * is registered.
 *
 * @example
 * const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new InMemorySpanExporter())] });
 * const tracer = otelRequestTracer(provider.getTracer('gatehouse'));
 * const trace = tracer.start(req, ctx.id);
 */
export function otelRequestTracer(tracer: Tracer): RequestTracer {
  return {
    start(req, requestId) {
      // A client's own tracestate / traceparent are replaced on the way upstream by the gateway's spans.
      const parent = propagator.extract(ROOT_CONTEXT, req.headers, getter);
      const server = tracer.startSpan(
        `${req.method ?? 'GET'}`,
        {
          kind: SpanKind.SERVER,
          attributes: { [ATTR.requestId]: requestId, [ATTR_HTTP_REQUEST_METHOD]: req.method ?? 'GET', [ATTR_URL_PATH]: pathOf(req) },
        },
        parent,
      );
      return requestTrace(tracer, server, trace.setSpan(parent, server));
    },
    answered(req, res, endpoint, startTime) {
      answeredSpan(tracer, req, res, endpoint, startTime);
    },
  };
}

/** The console API, MCP and health requests: one server span each, named after the endpoint, no stages. */
function answeredSpan(tracer: Tracer, req: IncomingMessage, res: ServerResponse, endpoint: OwnEndpoint, startTime: number): void {
  const method = req.method ?? 'GET';
  const span = tracer.startSpan(
    `${method} ${endpoint}`,
    { kind: SpanKind.SERVER, startTime, attributes: { [ATTR.endpoint]: endpoint, [ATTR_HTTP_REQUEST_METHOD]: method, [ATTR_URL_PATH]: pathOf(req) } },
    propagator.extract(ROOT_CONTEXT, req.headers, getter),
  );
  res.once('close', () => {
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, res.statusCode);
    if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  });
}

function requestTrace(tracer: Tracer, server: Span, parent: Context): RequestTrace {
  const open = new Set<Span>();
  let ended = false;
  return {
    traceId: server.spanContext().traceId,
    stage(name) {
      const span = tracer.startSpan(name, { kind: name === 'upstream' ? SpanKind.CLIENT : SpanKind.INTERNAL }, parent);
      open.add(span);
      return stageSpan(span, open);
    },
    end(ctx, status) {
      if (ended) return;
      ended = true;
      for (const span of open) span.end();
      open.clear();
      const r = ctx.request;
      if (r?.verb) server.updateName(r.resource ? `${r.verb} ${r.subresource ? `${r.resource}/${r.subresource}` : r.resource}` : `${r.verb} ${r.path}`);
      const attributes: Attributes = { [ATTR_HTTP_RESPONSE_STATUS_CODE]: status };
      if (ctx.cluster) attributes[ATTR.cluster] = ctx.cluster;
      if (r) {
        attributes[ATTR.verb] = r.verb;
        if (r.resource) attributes[ATTR.resource] = r.resource;
        if (r.subresource) attributes[ATTR.subresource] = r.subresource;
        if (r.namespace) attributes[ATTR.namespace] = r.namespace;
        if (r.name) attributes[ATTR.name] = r.name;
      }
      if (ctx.principal) attributes[ATTR.subject] = ctx.principal.subject;
      if (ctx.decision) {
        attributes[ATTR.decision] = ctx.decision.action;
        if (ctx.decision.rule) attributes[ATTR.rule] = ctx.decision.rule;
      }
      server.setAttributes(attributes);
      // Server spans are errors on 5xx only: a 403 is the gateway doing its job.
      if (status >= 500) server.setStatus({ code: SpanStatusCode.ERROR });
      server.end();
    },
  };
}

function stageSpan(span: Span, open: Set<Span>): StageSpan {
  const close = (): void => {
    if (!open.delete(span)) return;
    span.end();
  };
  return {
    propagate(headers) {
      delete headers.traceparent;
      delete headers.tracestate;
      propagator.inject(trace.setSpan(ROOT_CONTEXT, span), headers, setter);
    },
    annotate(attributes) {
      span.setAttributes(attributes);
    },
    end(stopped) {
      if (stopped) {
        span.setAttribute(ATTR.errorCode, stopped.code);
        if (stopped.httpStatus >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: stopped.code });
      }
      close();
    },
    fail(err) {
      if (err instanceof GatehouseError) span.setAttribute(ATTR.errorCode, err.code);
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.name : 'error' });
      close();
    },
  };
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}
