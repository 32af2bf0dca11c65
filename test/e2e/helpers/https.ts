import { request } from 'node:https';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One raw HTTPS request (for what kubectl cannot express: bad paths, huge bodies, protobuf). */
export function rawRequest(
  url: string,
  options: { method?: string; path: string; headers?: OutgoingHttpHeaders; body?: Buffer | string; caPem: string },
): Promise<RawResponse> {
  const base = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { hostname: base.hostname, port: base.port, method: options.method ?? 'GET', path: options.path, headers: options.headers, ca: options.caPem },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
