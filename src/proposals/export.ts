/**
 * Proposed manifests as files for a GitOps pull request
 * (`gatehouse proposals export`): one YAML file per proposal at
 * `<cluster>/<namespace>/<kind>-<name>.yaml`, without the fields the API
 * server manages.
 *
 * @module
 */

import { stringify } from 'yaml';

/** Fields a manifest in Git must not carry: the server sets them. */
const SERVER_METADATA = ['managedFields', 'resourceVersion', 'uid', 'creationTimestamp', 'generation', 'selfLink'];
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * The object as a manifest: no status, no server-managed metadata, no
 * kubectl last-applied annotation.
 *
 * @example
 * manifestOf({ kind: 'Deployment', metadata: { name: 'web', uid: 'u' }, status: {} }); // { kind: 'Deployment', metadata: { name: 'web' } }
 */
export function manifestOf(object: unknown): Record<string, unknown> | undefined {
  if (object === null || typeof object !== 'object' || Array.isArray(object)) return undefined;
  const rest = { ...(object as Record<string, unknown>) };
  delete rest.status;
  const meta = rest.metadata;
  if (meta !== null && typeof meta === 'object' && !Array.isArray(meta)) {
    const m = { ...(meta as Record<string, unknown>) };
    for (const f of SERVER_METADATA) delete m[f];
    const annotations = m.annotations as Record<string, string> | undefined;
    if (annotations !== undefined && LAST_APPLIED in annotations) {
      const others = { ...annotations };
      delete others[LAST_APPLIED];
      if (Object.keys(others).length > 0) m.annotations = others;
      else delete m.annotations;
    }
    rest.metadata = m;
  }
  return rest;
}

/**
 * Where a proposal's manifest goes under the export directory; cluster-scoped
 * objects go under `_cluster`. Undefined when the object has no kind or name.
 *
 * @example
 * manifestPath('prod', { kind: 'Deployment', metadata: { name: 'web', namespace: 'shop' } }); // 'prod/shop/deployment-web.yaml'
 */
export function manifestPath(cluster: string, manifest: Record<string, unknown>): string | undefined {
  const kind = typeof manifest.kind === 'string' ? manifest.kind.toLowerCase() : '';
  const meta = (manifest.metadata ?? {}) as { name?: unknown; namespace?: unknown };
  const name = typeof meta.name === 'string' ? meta.name : '';
  if (kind === '' || name === '') return undefined;
  const ns = typeof meta.namespace === 'string' && meta.namespace !== '' ? meta.namespace : '_cluster';
  return [safe(cluster), safe(ns), `${safe(kind)}-${safe(name)}.yaml`].join('/');
}

export function manifestYaml(manifest: Record<string, unknown>): string {
  return stringify(manifest, { sortMapEntries: false, lineWidth: 0 });
}

/** Path segments from Kubernetes names are already safe; anything else is made so (no `..`, no separators). */
function safe(segment: string): string {
  const s = segment.replace(/[^A-Za-z0-9._-]/g, '_');
  return s === '.' || s === '..' || s === '' ? '_' : s;
}
