/**
 * Tracing for the gateway: off by default, and then nothing of OpenTelemetry
 * is loaded; on, one trace per request exported over OTLP/HTTP
 * (docs/operations.md).
 *
 * @module
 */

import type { Logger } from 'pino';
import type { TracingConfig } from './config.js';
import type { RequestTracer } from './types.js';

export type { RequestTrace, RequestTracer, StageSpan } from './types.js';

export interface Tracing {
  readonly tracer: RequestTracer;
  /** Exports what is still queued and stops. */
  shutdown(): Promise<void>;
}

/**
 * Loads the OpenTelemetry SDK when `tracing.enabled`; undefined otherwise, so
 * the pipeline carries no span and costs nothing.
 *
 * @example
 * const tracing = await openTracing(config.tracing, log);
 * const pipeline = createPipeline(stages, terminal, responder, log, recorder, observe, tracing?.tracer);
 */
export async function openTracing(config: TracingConfig, log: Logger): Promise<Tracing | undefined> {
  if (!config.enabled) return undefined;
  const { startSdk } = await import('./sdk.js');
  log.info({ endpoint: config.otlpEndpoint, protocol: config.protocol, sampleRatio: config.sampleRatio }, 'tracing enabled');
  return startSdk(config, log);
}
