import type { RequestContext } from '../pipeline/context.js';
import type { ResolvedObjects } from '../policy/stage.js';
import { createUpstream } from '../upstream/client.js';
import type { Upstream } from '../upstream/client.js';
import { createDryRunResolver } from '../upstream/dry-run.js';
import { loadKubeconfig } from '../upstream/kubeconfig.js';
import { createNamespaceLabels } from '../upstream/namespace-labels.js';
import { createRoleLookup } from '../upstream/role-lookup.js';
import type { RoleRef, StoredRole } from '../policy/bound-role.js';
import type { ClusterConfig } from './config.js';

/** One named cluster and what the gateway asks it on a request's behalf. */
export interface Cluster {
  readonly name: string;
  readonly mode: 'direct' | 'agent';
  readonly upstream: Upstream;
  readonly namespaceLabels: (namespace: string) => Promise<Readonly<Record<string, string>> | undefined>;
  /** The Role or ClusterRole a binding refers to, for policy's `boundRole`; undefined when it does not exist. */
  readonly boundRole: (ref: RoleRef) => Promise<StoredRole | undefined>;
  readonly resolveObject: (ctx: RequestContext) => Promise<ResolvedObjects>;
}

export interface ClusterSet {
  readonly defaultCluster: Cluster;
  get(name: string): Cluster | undefined;
  all(): readonly Cluster[];
  /** The cluster the route stage picked for this request (the default one before routing ran). */
  of(ctx: RequestContext): Cluster;
  close(): void;
}

/**
 * Opens every configured cluster: direct ones from their kubeconfig (read
 * now, so a broken one fails the start), agent ones through `agentUpstream`.
 *
 * @example
 * const set = createClusterSet(clusters, 'default', { agentUpstream: (c) => tunnels.upstream(c.name) });
 * set.of(ctx).upstream.request(…);
 */
export function createClusterSet(
  configs: readonly ClusterConfig[],
  defaultName: string,
  options: {
    agentUpstream: (config: ClusterConfig) => Upstream;
    /** identity.impersonation.enabled */
    impersonate: boolean;
    /** timeouts.connectMs: how long a new connection to a direct cluster's API server may take. */
    connectMs?: number;
    /** watches.share: identical watches of a direct cluster ride one upstream watch. */
    shareWatches?: boolean;
  },
): ClusterSet {
  const byName = new Map<string, Cluster>();
  for (const config of configs) {
    const upstream = config.kubeconfig !== undefined ? createUpstream(loadKubeconfig(config.kubeconfig, config.context), undefined, { connectMs: options.connectMs, shareWatches: options.shareWatches }) : options.agentUpstream(config);
    byName.set(config.name, {
      name: config.name,
      mode: config.kubeconfig !== undefined ? 'direct' : 'agent',
      upstream,
      namespaceLabels: createNamespaceLabels(upstream, { ttlMs: 5_000 }),
      boundRole: createRoleLookup(upstream, { ttlMs: 5_000 }),
      resolveObject: createDryRunResolver(upstream, { timeoutMs: 10_000, impersonate: options.impersonate }),
    });
  }
  const defaultCluster = byName.get(defaultName);
  if (defaultCluster === undefined) throw new Error(`defaultCluster "${defaultName}" is not a configured cluster`);
  return {
    defaultCluster,
    get: (name) => byName.get(name),
    all: () => [...byName.values()],
    of: (ctx) => {
      if (ctx.cluster === undefined) return defaultCluster;
      // The route stage refuses unknown names; never send a request meant for one cluster to another.
      const cluster = byName.get(ctx.cluster);
      if (cluster === undefined) throw new Error(`no cluster named "${ctx.cluster}"`);
      return cluster;
    },
    close: () => {
      for (const c of byName.values()) c.upstream.close();
    },
  };
}
