/**
 * The `tracing` section of gatehouse.yaml.
 *
 * @module
 */

import { z } from 'zod';

/**
 * OpenTelemetry tracing, off by default: when `enabled` is false no SDK is
 * loaded and the request path carries no span at all.
 *
 * ```yaml
 * tracing:
 *   enabled: true
 *   otlpEndpoint: http://otel-collector:4318/v1/traces   # the OTLP/HTTP traces URL
 *   protocol: http/protobuf      # or http/json
 *   serviceName: gatehouse
 *   sampleRatio: 0.1             # of new traces; a client's sampled traceparent is followed
 *   headers: { authorization: "Bearer …" }
 * ```
 */
export const tracingConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** Full URL spans are POSTed to (an OpenTelemetry Collector's `/v1/traces`). */
    otlpEndpoint: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).default('http://127.0.0.1:4318/v1/traces'),
    /** OTLP/HTTP encoding: `http/protobuf` (the OTLP default) or `http/json`. */
    protocol: z.enum(['http/protobuf', 'http/json']).default('http/protobuf'),
    /** The `service.name` resource attribute. */
    serviceName: z.string().min(1).default('gatehouse'),
    /** Share of new traces recorded (0–1); requests arriving with a `traceparent` follow its sampled flag. */
    sampleRatio: z.number().min(0).max(1).default(1),
    /** Extra HTTP headers on each export (collector credentials). */
    headers: z.record(z.string(), z.string()).default({}),
  })
  .strict();

export type TracingConfig = z.infer<typeof tracingConfigSchema>;
