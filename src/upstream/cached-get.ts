import { GatehouseError } from '../errors/codes.js';
import type { Upstream } from './client.js';
import { getObject, ObjectReadError } from './fetch.js';

/** How long answers are kept, and how long one lookup may take. */
export interface CachedGetOptions {
  ttlMs: number;
  timeoutMs?: number;
}

const MAX_ENTRIES = 10_000;

/**
 * Objects of the cluster that policy reads (namespaces, roles), fetched with
 * the gateway's own credential and cached briefly, keyed by API path:
 * matching requests ask on every request. Concurrent lookups of one path
 * share a fetch; a failed lookup is not remembered. Resolves to the decoded
 * object made into `T` by `pick`, or undefined when it does not exist (404);
 * rejects with GH_POLICY_UNAVAILABLE when it cannot be read (fail closed).
 *
 * @example
 * const get = createCachedGet(upstream, (ns) => ns.metadata?.labels ?? {}, { ttlMs: 5000 });
 * await get('/api/v1/namespaces/prod', 'namespace prod'); // → { … } or undefined
 */
export function createCachedGet<T>(upstream: Upstream, pick: (object: unknown) => T, options: CachedGetOptions): (path: string, what: string) => Promise<T | undefined> {
  const cache = new Map<string, { at: number; value: Promise<T | undefined> }>();
  const read = async (path: string, what: string): Promise<T | undefined> => {
    let object;
    try {
      object = await getObject(upstream, path, options.timeoutMs ?? 5_000);
    } catch (err) {
      if (!(err instanceof ObjectReadError)) throw err;
      const because = err.status === undefined ? `: ${err.message}` : ` (${err.message})`;
      throw new GatehouseError('GH_POLICY_UNAVAILABLE', `the gateway could not read ${what} for policy${because}`, { cause: err.cause, retryAfterSeconds: 2 });
    }
    return object === undefined ? undefined : pick(object);
  };
  return (path, what) => {
    const now = Date.now();
    const hit = cache.get(path);
    if (hit && now - hit.at < options.ttlMs) return hit.value;
    const value = read(path, what);
    cache.set(path, { at: now, value });
    value.catch(() => cache.delete(path));
    if (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value!);
    return value;
  };
}
