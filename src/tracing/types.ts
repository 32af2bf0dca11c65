/**
 * What the pipeline sees of tracing: plain interfaces, so nothing of the
 * OpenTelemetry SDK is loaded unless tracing is enabled.
 *
 * @module
 */

import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { GatehouseError } from '../errors/codes.js';
import type { RequestContext } from '../pipeline/context.js';

/** Starts one trace per request; absent when tracing is off. */
export interface RequestTracer {
  /** Opens the request's server span, as a child of the client's `traceparent` when it sent one. */
  start(req: IncomingMessage, requestId: string): RequestTrace;
  /**
   * Traces a request the gateway answers itself, outside the pipeline: one
   * server span from `startTime` (ms since the epoch, taken before the
   * handler ran) that ends when the response closes, with its status.
   */
  answered(req: IncomingMessage, res: ServerResponse, endpoint: OwnEndpoint, startTime: number): void;
}

/** The gateway's own endpoints: the console and its JSON API, MCP, and /livez, /readyz, /metrics. */
export type OwnEndpoint = 'console' | 'mcp' | 'health';

/** The spans of one request. */
export interface RequestTrace {
  /** 32 hex digits, for the access log. */
  readonly traceId: string;
  /** Opens a child span of the server span (a pipeline stage, `upstream`, `recording`). */
  stage(name: string): StageSpan;
  /** Ends the server span with what the request came to; spans still open end with it. Called once. */
  end(ctx: RequestContext, status: number): void;
}

export interface StageSpan {
  /** Writes `traceparent` (and `tracestate`) naming this span into headers sent upstream. */
  propagate(headers: IncomingHttpHeaders): void;
  /** Sets attributes known only later (the upstream status). */
  annotate(attributes: Readonly<Record<string, string | number | boolean>>): void;
  /** Ends the span; `stopped` is the refusal when the stage stopped the request. */
  end(stopped?: GatehouseError): void;
  /** Ends the span as failed (the stage threw). */
  fail(err: unknown): void;
}
