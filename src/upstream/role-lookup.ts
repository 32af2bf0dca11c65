import { storedRole } from '../policy/bound-role.js';
import type { RoleRef, StoredRole } from '../policy/bound-role.js';
import type { Upstream } from './client.js';
import { createCachedGet } from './cached-get.js';
import type { CachedGetOptions } from './cached-get.js';

/**
 * Roles and ClusterRoles that bindings refer to, read from the cluster with
 * the gateway's credential (it needs `get` on both) and cached briefly, so a
 * rule can judge what a binding grants (the `boundRole` variable). Resolves
 * to undefined for a role that does not exist; rejects with
 * GH_POLICY_UNAVAILABLE when the role cannot be read.
 *
 * @example
 * const roles = createRoleLookup(upstream, { ttlMs: 5000 });
 * await roles({ kind: 'ClusterRole', name: 'edit', namespace: '' }); // → { labels, rules: [...] } or undefined
 */
export function createRoleLookup(upstream: Upstream, options: CachedGetOptions): (ref: RoleRef) => Promise<StoredRole | undefined> {
  const get = createCachedGet(upstream, (role) => Object.freeze(storedRole(role)), options);
  return (ref) => {
    const name = encodeURIComponent(ref.name);
    return ref.kind === 'ClusterRole'
      ? get(`/apis/rbac.authorization.k8s.io/v1/clusterroles/${name}`, `ClusterRole ${ref.name}`)
      : get(`/apis/rbac.authorization.k8s.io/v1/namespaces/${encodeURIComponent(ref.namespace)}/roles/${name}`, `Role ${ref.namespace}/${ref.name}`);
  };
}
