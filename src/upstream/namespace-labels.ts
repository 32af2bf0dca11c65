import type { Upstream } from './client.js';
import { createCachedGet } from './cached-get.js';
import type { CachedGetOptions } from './cached-get.js';

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
export function createNamespaceLabels(upstream: Upstream, options: CachedGetOptions): (namespace: string) => Promise<Labels | undefined> {
  const get = createCachedGet(upstream, (ns) => Object.freeze({ ...((ns as { metadata?: { labels?: Record<string, string> } }).metadata?.labels ?? {}) }), options);
  return (namespace) => get(`/api/v1/namespaces/${encodeURIComponent(namespace)}`, `namespace ${namespace}`);
}
