/**
 * The `boundRole` variable: the Role or ClusterRole a RoleBinding or
 * ClusterRoleBinding write refers to (its `roleRef`), as stored in the
 * cluster, so a rule can judge what a binding grants rather than only the
 * role's name. See docs/policy.md.
 *
 * @module
 */

import { isRecord } from '../kube/object.js';

const RBAC_GROUP = 'rbac.authorization.k8s.io';
const BINDING_WRITES: ReadonlySet<string> = new Set(['create', 'update', 'patch']);

/** The role a binding names: a ClusterRole, or a Role in the binding's namespace. */
export interface RoleRef {
  readonly kind: 'Role' | 'ClusterRole';
  readonly name: string;
  /** The binding's namespace for a Role; '' for a ClusterRole. */
  readonly namespace: string;
}

/** The parts of a stored Role or ClusterRole that policy sees. */
export interface StoredRole {
  readonly labels: Readonly<Record<string, string>>;
  /** As stored: for an aggregated ClusterRole, the rules the aggregation controller filled in. */
  readonly rules: readonly unknown[];
  /** Set on aggregated ClusterRoles. */
  readonly aggregationRule?: unknown;
}

/** What {@link roleRefOf} reads of a request. */
export interface BindingRequest {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly subresource: string;
  readonly namespace: string;
}

/**
 * The role a binding write refers to: a create, update or patch of a
 * RoleBinding or ClusterRoleBinding whose object has a `roleRef` naming a
 * Role or ClusterRole; undefined for any other request. A ClusterRoleBinding
 * naming a Role (which the API server refuses) refers to nothing.
 *
 * @example
 * roleRefOf(facts, { roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' } });
 * // { kind: 'ClusterRole', name: 'edit', namespace: '' }
 */
export function roleRefOf(request: BindingRequest, object: unknown): RoleRef | undefined {
  if (request.group !== RBAC_GROUP || request.subresource !== '' || !BINDING_WRITES.has(request.verb)) return undefined;
  if (request.resource !== 'rolebindings' && request.resource !== 'clusterrolebindings') return undefined;
  const ref = isRecord(object) ? object.roleRef : undefined;
  if (!isRecord(ref) || typeof ref.name !== 'string' || ref.name === '') return undefined;
  if (ref.apiGroup !== undefined && ref.apiGroup !== RBAC_GROUP) return undefined;
  if (ref.kind === 'ClusterRole') return { kind: 'ClusterRole', name: ref.name, namespace: '' };
  if (ref.kind === 'Role' && request.resource === 'rolebindings' && request.namespace !== '') return { kind: 'Role', name: ref.name, namespace: request.namespace };
  return undefined;
}

/** `Role "ns/name"` or `ClusterRole "name"`, for messages. */
export function describeRoleRef(ref: RoleRef): string {
  return ref.kind === 'Role' ? `Role "${ref.namespace}/${ref.name}"` : `ClusterRole "${ref.name}"`;
}

/**
 * The `boundRole` variable: the referenced role shaped like the object, or
 * for a role that does not exist one with no rules (binding it grants
 * nothing until it is created, and creating it is judged as a role write).
 */
export function boundRoleVariable(ref: RoleRef, stored: StoredRole | undefined): Record<string, unknown> {
  const metadata = { name: ref.name, ...(ref.namespace === '' ? {} : { namespace: ref.namespace }), labels: stored?.labels ?? {} };
  return {
    apiVersion: `${RBAC_GROUP}/v1`,
    kind: ref.kind,
    metadata,
    rules: stored?.rules ?? [],
    ...(stored?.aggregationRule !== undefined ? { aggregationRule: stored.aggregationRule } : {}),
  };
}

/**
 * The policy-relevant parts of a Role or ClusterRole object (JSON as the API
 * server returns it, or a manifest in a policy test).
 *
 * @example
 * storedRole({ kind: 'ClusterRole', metadata: { name: 'ops' }, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] });
 */
export function storedRole(object: unknown): StoredRole {
  const o = isRecord(object) ? object : {};
  const metadata = isRecord(o.metadata) ? o.metadata : {};
  const labels = isRecord(metadata.labels) ? Object.fromEntries(Object.entries(metadata.labels).filter((e): e is [string, string] => typeof e[1] === 'string')) : {};
  return {
    labels,
    rules: Array.isArray(o.rules) ? o.rules : [],
    ...(o.aggregationRule !== undefined && o.aggregationRule !== null ? { aggregationRule: o.aggregationRule } : {}),
  };
}
