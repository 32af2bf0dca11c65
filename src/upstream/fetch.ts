import type { OutgoingHttpHeaders } from 'node:http';
import type { Upstream, UpstreamResponse } from './client.js';

export interface UpstreamReply {
  status: number;
  contentType: string | undefined;
  body: Buffer;
}

/**
 * One complete request the gateway itself makes to the upstream with its own
 * credential (readiness probes, namespace lookups, dry-runs), buffered, with a
 * deadline. Rejects on transport errors and on timeout; any HTTP status resolves.
 */
export async function upstreamFetch(
  upstream: Upstream,
  init: { method: string; path: string; headers?: OutgoingHttpHeaders; body?: Buffer; timeoutMs: number; maxBytes?: number },
): Promise<UpstreamReply> {
  const req = await upstream.request({ method: init.method, path: init.path, headers: { accept: 'application/json', ...init.headers } });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${init.timeoutMs} ms`)), init.timeoutMs);
    req.on('response', (res: UpstreamResponse) => {
      if (res.statusCode === 401) upstream.invalidateCredential();
      const chunks: Buffer[] = [];
      let size = 0;
      const max = init.maxBytes ?? 16 * 1024 * 1024;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > max) req.destroy(new Error(`the answer exceeded ${max} bytes`));
        else chunks.push(chunk);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body: Buffer.concat(chunks) });
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    req.on('error', (err: Error) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(init.body);
  });
}
