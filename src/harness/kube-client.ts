/**
 * The few API calls the harness makes itself (readiness, creating the kwok
 * node), over node:https with the admin token.
 *
 * @internal
 */
import { request } from 'node:https';

export interface KubeResponse {
  readonly status: number;
  readonly body: string;
}

/** Where and as whom the harness talks to the API server. */
export interface KubeTarget {
  readonly server: string;
  readonly caPem: string;
  readonly token: string;
}

/** One request to the API server; rejects only on transport errors. */
export function kubeRequest(
  target: KubeTarget,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 5_000,
): Promise<KubeResponse> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      new URL(path, target.server),
      {
        method,
        ca: target.caPem,
        timeout: timeoutMs,
        headers: {
          authorization: `Bearer ${target.token}`,
          accept: 'application/json',
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** The HTTP status of a GET to `url` over TLS verified against `caPem`, or 0 on a transport error. */
export function probeHttps(url: string, caPem: string, timeoutMs = 2_000): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', ca: caPem, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}
