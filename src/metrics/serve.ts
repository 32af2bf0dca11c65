/**
 * Where Prometheus scrapes: a separate plain-HTTP listener (`metrics.listen`)
 * and/or /metrics on the gateway's own HTTPS listener behind a bearer token
 * (`metrics.token`).
 *
 * @module
 */

import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface MetricsListener {
  /** http://host:port of the listener. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Starts the metrics-only listener.
 *
 * @example
 * const listener = await listenForMetrics('127.0.0.1:9464', metrics.registry);
 * // curl http://127.0.0.1:9464/metrics
 */
export async function listenForMetrics(listen: string, registry: Registry): Promise<MetricsListener> {
  const split = listen.lastIndexOf(':');
  const host = listen.slice(0, split).replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = Number(listen.slice(split + 1));
  const server = createServer((req, res) => {
    if (pathOf(req) === '/metrics' && (req.method === 'GET' || req.method === 'HEAD')) void scrape(req, res, registry);
    else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('only /metrics is served here\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * /metrics on the main listener for requests carrying `Authorization: Bearer
 * <token>`; returns false for every other path so the request goes on.
 *
 * @example
 * const route = metricsRoute(config.metrics.token, metrics.registry);
 * server.on('request', (req, res) => route(req, res) || pipeline.handleRequest(req, res));
 */
export function metricsRoute(token: string, registry: Registry): (req: IncomingMessage, res: ServerResponse) => boolean {
  const expected = digest(token);
  return (req, res) => {
    if (pathOf(req) !== '/metrics') return false;
    const auth = req.headers.authorization;
    // Digests have equal length, so the comparison takes the same time whatever was sent.
    if (auth === undefined || !auth.startsWith('Bearer ') || !timingSafeEqual(digest(auth.slice(7)), expected)) {
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="gatehouse-metrics"' });
      res.end('metrics need the metrics token\n');
      return true;
    }
    void scrape(req, res, registry);
    return true;
  };
}

async function scrape(req: IncomingMessage, res: ServerResponse, registry: Registry): Promise<void> {
  try {
    const body = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-cache, private' });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch (err) {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(`collecting metrics failed: ${(err as Error).message}\n`);
  }
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
