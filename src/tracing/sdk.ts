/**
 * The OpenTelemetry SDK behind `tracing.enabled`: a tracer provider with a
 * batching OTLP/HTTP exporter. Imported dynamically, so a gateway with
 * tracing off never loads it.
 *
 * @module
 */

import type { Logger } from 'pino';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { TracingConfig } from './config.js';
import { otelRequestTracer } from './otel.js';
import type { Tracing } from './index.js';

/**
 * Builds the provider and the exporter for validated tracing config.
 *
 * @example
 * const tracing = startSdk({ ...config.tracing, enabled: true }, log);
 * const trace = tracing.tracer.start(req, requestId);
 * await tracing.shutdown(); // flushes what is queued
 */
export function startSdk(config: TracingConfig, log: Logger, exporter?: SpanExporter): Tracing {
  // The SDK reports export failures through diag; route them to the log (warn), never to the console.
  diag.setLogger(
    {
      error: (message) => log.warn({ component: 'tracing' }, message),
      warn: (message) => log.warn({ component: 'tracing' }, message),
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
  const options = { url: config.otlpEndpoint, headers: config.headers };
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.serviceName }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sampleRatio) }),
    spanProcessors: [new BatchSpanProcessor(exporter ?? (config.protocol === 'http/json' ? new JsonExporter(options) : new ProtobufExporter(options)))],
  });
  return {
    tracer: otelRequestTracer(provider.getTracer('gatehouse')),
    shutdown: () => provider.shutdown(),
  };
}
