/**
 * The `metrics` section of gatehouse.yaml.
 *
 * @module
 */

import { z } from 'zod';

const hostPort = /^(?:\[[^\]]+\]|[^:[\]]*):\d{1,5}$/;

/**
 * Off by default: a scrape endpoint is opt-in, and a fixed default port would
 * collide when several gateways share a host.
 *
 * ```yaml
 * metrics:
 *   listen: 127.0.0.1:9464       # plain-HTTP listener serving only /metrics
 *   token: <at least 16 chars>   # and/or /metrics on the gateway's HTTPS port for `Authorization: Bearer <token>`
 * ```
 */
export const metricsConfigSchema = z
  .object({
    /** host:port of a separate plain-HTTP listener for Prometheus; keep it on loopback or a private network. */
    listen: z.string().regex(hostPort, 'must be host:port').optional(),
    /** Serve /metrics on the main listener too, to requests with this bearer token. */
    token: z.string().min(16, 'use a token of at least 16 characters').optional(),
  })
  .strict();

export type MetricsConfig = z.infer<typeof metricsConfigSchema>;

/** Whether anything scrapes: when not, no metric is created and the request path skips them. */
export function metricsEnabled(config: MetricsConfig): boolean {
  return config.listen !== undefined || config.token !== undefined;
}
