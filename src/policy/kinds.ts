/**
 * From an object's apiVersion and kind to the request line a client would
 * send for it, for the tools (`policy test`, `policy explain`) that start
 * from a manifest instead of a request. No discovery: built-in kinds and the
 * usual English plural, which is also what CRDs default to.
 *
 * @module
 */

import type { KubeRequest } from '../classify/kube-request.js';
import { classifyRequest } from '../kube/request-info.js';

/** Plurals that do not follow the default rule. */
const IRREGULAR: Readonly<Record<string, string>> = { endpoints: 'endpoints', podsecuritypolicy: 'podsecuritypolicies' };

/** Built-in kinds that are not namespaced. */
const CLUSTER_SCOPED: ReadonlySet<string> = new Set([
  'Namespace',
  'Node',
  'PersistentVolume',
  'ClusterRole',
  'ClusterRoleBinding',
  'StorageClass',
  'CustomResourceDefinition',
  'PriorityClass',
  'IngressClass',
  'RuntimeClass',
  'CSIDriver',
  'CSINode',
  'VolumeAttachment',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'APIService',
  'CertificateSigningRequest',
]);

/** `Deployment` → `deployments`, `NetworkPolicy` → `networkpolicies`, `Ingress` → `ingresses`. */
export function resourceForKind(kind: string): string {
  const lower = kind.toLowerCase();
  const irregular = IRREGULAR[lower];
  if (irregular !== undefined) return irregular;
  if (/[^aeiou]y$/.test(lower)) return `${lower.slice(0, -1)}ies`;
  if (/(s|x|z|ch|sh)$/.test(lower)) return `${lower}es`;
  return `${lower}s`;
}

export function isClusterScopedKind(kind: string): boolean {
  return CLUSTER_SCOPED.has(kind);
}

/** `apps/v1` → ['apps', 'v1'], `v1` → ['', 'v1']. */
export function splitApiVersion(apiVersion: string): [group: string, version: string] {
  const slash = apiVersion.lastIndexOf('/');
  return slash < 0 ? ['', apiVersion] : [apiVersion.slice(0, slash), apiVersion.slice(slash + 1)];
}

export interface RequestLine {
  verb: string;
  group: string;
  version: string;
  /** `pods`, or `pods/exec` for a subresource. */
  resource: string;
  namespace: string;
  name: string;
  query?: string;
  object?: unknown;
}

const METHODS: Readonly<Record<string, string>> = {
  get: 'GET',
  list: 'GET',
  watch: 'GET',
  proxy: 'GET',
  create: 'POST',
  update: 'PUT',
  patch: 'PATCH',
  delete: 'DELETE',
  deletecollection: 'DELETE',
};

/**
 * The classified request a client would send for this request line: the URL
 * is built and run through the gateway's own classifier, then the verb is
 * set to the one asked for (so `create` on `pods/exec` stays `create`).
 *
 * @throws Error when the line makes a path the gateway refuses.
 */
export function kubeRequestFor(line: RequestLine): KubeRequest {
  const [resource = '', subresource = ''] = line.resource.split('/', 2);
  const base = line.group === '' ? `/api/${line.version}` : `/apis/${line.group}/${line.version}`;
  // A namespace's own path carries its name once: /api/v1/namespaces/{name}.
  const scope = line.namespace === '' || resource === 'namespaces' ? '' : `/namespaces/${line.namespace}`;
  const parts = [resource, line.name, subresource].filter((p) => p !== '');
  const query = line.verb === 'watch' ? ['watch=true', line.query ?? ''].filter((q) => q !== '').join('&') : (line.query ?? '');
  const request = classified(METHODS[line.verb] ?? 'GET', `${base}${scope}/${parts.join('/')}`, query, line.object);
  request.verb = line.verb;
  return request;
}

/** A non-resource request (`/version`, `/healthz`, discovery). */
export function nonResourceRequestFor(verb: string, path: string): KubeRequest {
  return classified(verb.toUpperCase(), path, '', undefined);
}

function classified(method: string, path: string, query: string, object: unknown): KubeRequest {
  const result = classifyRequest(method, query === '' ? path : `${path}?${query}`);
  if (!result.ok) throw new Error(`${method} ${path}: ${result.reason}`);
  return { ...result.info, query, contentType: object === undefined ? undefined : 'application/json', object };
}
