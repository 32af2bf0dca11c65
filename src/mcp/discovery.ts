/**
 * Which resources the cluster serves (aggregated discovery, two requests
 * through the gateway) and how a model's word for one ("pods", "po",
 * "Deployment", "deployments.apps", "ingresses.v1.networking.k8s.io")
 * resolves to an API path.
 *
 * @module
 */

import { ToolInputError } from './result.js';

export interface ApiResource {
  /** `''` for the core group. */
  group: string;
  version: string;
  /** Plural, e.g. `deployments`. */
  resource: string;
  kind: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  verbs: string[];
}

/** Aggregated discovery (`apidiscovery.k8s.io/v2`), as `/api` and `/apis` answer it. */
export interface DiscoveryList {
  items?: {
    metadata?: { name?: string };
    versions?: {
      version: string;
      resources?: {
        resource: string;
        responseKind?: { kind?: string };
        scope?: string;
        singularResource?: string;
        shortNames?: string[];
        verbs?: string[];
      }[];
    }[];
  }[];
}

export const AGGREGATED_DISCOVERY_ACCEPT = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;q=0.9';

/**
 * Flattens aggregated discovery lists; versions keep the server's order
 * (preferred first), so the first match of a name is the preferred version.
 *
 * @example
 * const resources = parseDiscovery([coreList, groupsList]);
 */
export function parseDiscovery(lists: readonly DiscoveryList[]): ApiResource[] {
  const out: ApiResource[] = [];
  for (const list of lists) {
    if (!Array.isArray(list.items)) throw new Error('the cluster did not answer with aggregated discovery (apidiscovery.k8s.io/v2, Kubernetes 1.30 or later)');
    for (const group of list.items) {
      for (const version of group.versions ?? []) {
        for (const r of version.resources ?? []) {
          out.push({
            group: group.metadata?.name ?? '',
            version: version.version,
            resource: r.resource,
            kind: r.responseKind?.kind ?? '',
            singular: r.singularResource ?? '',
            namespaced: r.scope === 'Namespaced',
            shortNames: r.shortNames ?? [],
            verbs: r.verbs ?? [],
          });
        }
      }
    }
  }
  return out;
}

export const apiVersionOf = (r: Pick<ApiResource, 'group' | 'version'>): string => (r.group === '' ? r.version : `${r.group}/${r.version}`);

/**
 * Resolves what a model calls a resource, as kubectl does: plural, singular,
 * short name or kind, optionally qualified with `.group` or `.version.group`.
 *
 * @example
 * resolveResource(resources, 'deploy'); // → { group: 'apps', version: 'v1', resource: 'deployments', … }
 */
export function resolveResource(resources: readonly ApiResource[], name: string): ApiResource {
  const wanted = name.trim().toLowerCase();
  const [head = '', ...rest] = wanted.split('.');
  const qualifier = rest.join('.');
  const matchesName = (r: ApiResource): boolean =>
    r.resource === head || r.singular === head || r.kind.toLowerCase() === head || r.shortNames.includes(head);
  const matchesQualifier = (r: ApiResource): boolean =>
    qualifier === '' || r.group === qualifier || `${r.version}.${r.group}` === qualifier || (r.group === '' && r.version === qualifier);
  const found = resources.filter((r) => matchesName(r) && matchesQualifier(r));
  // Core first, then the built-in groups, as kubectl prefers `events` over `events.events.k8s.io`.
  const best = found.find((r) => r.group === '') ?? found.find((r) => !r.group.includes('.') || r.group.endsWith('.k8s.io')) ?? found[0];
  if (best) return best;
  const close = resources.filter((r) => r.resource.startsWith(head.slice(0, 3))).map((r) => r.resource);
  throw new ToolInputError(
    `the cluster has no resource type "${name}".${close.length > 0 ? ` Did you mean ${[...new Set(close)].slice(0, 5).join(', ')}?` : ''} Call api_resources to see every type.`,
  );
}

/** Resolves the type of a manifest (`apiVersion` + `kind`). */
export function resolveKind(resources: readonly ApiResource[], apiVersion: string, kind: string): ApiResource {
  const found = resources.find((r) => apiVersionOf(r) === apiVersion && r.kind === kind);
  if (!found) throw new ToolInputError(`the cluster does not serve kind "${kind}" in apiVersion "${apiVersion}". Call api_resources to see what it serves.`);
  return found;
}

/**
 * The API path of a resource type, one object or one subresource.
 *
 * @example
 * resourcePath(deployments, 'dev', 'web', 'scale'); // '/apis/apps/v1/namespaces/dev/deployments/web/scale'
 */
export function resourcePath(r: ApiResource, namespace: string | undefined, name?: string, subresource?: string): string {
  const root = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  const ns = r.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const obj = name === undefined ? '' : `/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ''}`;
  return `${root}${ns}/${r.resource}${obj}`;
}
