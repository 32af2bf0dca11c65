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

/** Why {@link getObject} read nothing: no answer (`status` undefined), or a status other than 200 and 404. */
export class ObjectReadError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * GETs one object with the gateway's own credential: its decoded JSON, or
 * undefined when it does not exist (404).
 *
 * @throws ObjectReadError when there is no answer, or another status.
 * @example
 * await getObject(upstream, '/api/v1/namespaces/prod', 5000); // → { kind: 'Namespace', … } or undefined
 */
export async function getObject(upstream: Upstream, path: string, timeoutMs: number): Promise<unknown> {
  let reply;
  try {
    reply = await upstreamFetch(upstream, { method: 'GET', path, timeoutMs });
  } catch (err) {
    throw new ObjectReadError((err as Error).message, undefined, { cause: err });
  }
  if (reply.status === 404) return undefined;
  if (reply.status !== 200) throw new ObjectReadError(`the API server answered ${reply.status}`, reply.status);
  return JSON.parse(reply.body.toString('utf8')) as unknown;
}
