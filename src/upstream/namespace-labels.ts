import { GatehouseError } from '../errors/codes.js';
import type { Upstream } from './client.js';
import { upstreamFetch } from './fetch.js';

type Labels = Readonly<Record<string, string>>;

/**
 * Labels of namespaces, read from the cluster with the gateway's credential
 * and cached briefly: policy rules with namespace selectors ask for them on
 * every matching request. Concurrent lookups of one namespace share a fetch.
 *
 * @example
 * const labels = createNamespaceLabels(upstream, { ttlMs: 5000 });
 * await labels('prod'); // → { 'gatehouse.dev/protected': 'true', … } or undefined
 */
export function createNamespaceLabels(upstream: Upstream, options: { ttlMs: number; timeoutMs?: number }): (namespace: string) => Promise<Labels | undefined> {
  const cache = new Map<string, { at: number; value: Promise<Labels | undefined> }>();
  const fetchLabels = async (namespace: string): Promise<Labels | undefined> => {
    let reply;
    try {
      reply = await upstreamFetch(upstream, { method: 'GET', path: `/api/v1/namespaces/${encodeURIComponent(namespace)}`, timeoutMs: options.timeoutMs ?? 5_000 });
    } catch (err) {
      throw new GatehouseError('GH_POLICY_UNAVAILABLE', `the gateway could not read namespace ${namespace} for policy: ${(err as Error).message}`, {
        cause: err,
        retryAfterSeconds: 2,
      });
    }
    if (reply.status === 404) return undefined;
    if (reply.status !== 200) {
      throw new GatehouseError('GH_POLICY_UNAVAILABLE', `the gateway could not read namespace ${namespace} for policy (the API server answered ${reply.status})`, {
        retryAfterSeconds: 2,
      });
    }
    const ns = JSON.parse(reply.body.toString('utf8')) as { metadata?: { labels?: Record<string, string> } };
    return Object.freeze({ ...(ns.metadata?.labels ?? {}) });
  };
  return (namespace) => {
    const now = Date.now();
    const hit = cache.get(namespace);
    if (hit && now - hit.at < options.ttlMs) return hit.value;
    const value = fetchLabels(namespace);
    cache.set(namespace, { at: now, value });
    // A failed lookup is not remembered: the next request asks again.
    value.catch(() => cache.delete(namespace));
    if (cache.size > 10_000) cache.delete(cache.keys().next().value!);
    return value;
  };
}
