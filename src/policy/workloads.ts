/**
 * Workloads that carry a pod template, and the synthetic Pod that rules with
 * `includeWorkloadTemplates: true` judge in their place (docs/policy.md).
 *
 * @module
 */

import { isRecord } from '../kube/object.js';

type TemplateAt = (workload: Record<string, unknown>) => unknown;

const specTemplate: TemplateAt = (w) => field(field(w, 'spec'), 'template');

/** `group/resource` of every built-in controller whose pods are stamped from a template. */
const WORKLOADS: ReadonlyMap<string, TemplateAt> = new Map([
  ['apps/deployments', specTemplate],
  ['apps/statefulsets', specTemplate],
  ['apps/daemonsets', specTemplate],
  ['apps/replicasets', specTemplate],
  ['batch/jobs', specTemplate],
  ['batch/cronjobs', (w) => field(field(field(field(w, 'spec'), 'jobTemplate'), 'spec'), 'template')],
  ['/replicationcontrollers', specTemplate],
]);

/**
 * The workload key of a request on the workload object itself (not a
 * subresource such as `scale` or `status`, which cannot change the template),
 * or undefined.
 */
export function workloadOf(group: string, resource: string, subresource: string): string | undefined {
  if (subresource !== '') return undefined;
  const key = `${group}/${resource}`;
  return WORKLOADS.has(key) ? key : undefined;
}

/**
 * The Pod a workload's template describes: `metadata` from the template
 * (namespace and, when the template has none, name from the workload) and
 * `spec` from the template. Null when the workload or its template is absent
 * (e.g. a delete), so an expression that reads it fails instead of passing.
 *
 * @example
 * podFromWorkload('apps/deployments', deployment) // { apiVersion: 'v1', kind: 'Pod', metadata: {...}, spec: {...} }
 */
export function podFromWorkload(workload: string, object: unknown): Record<string, unknown> | null {
  const at = WORKLOADS.get(workload);
  if (at === undefined || !isRecord(object)) return null;
  const template = at(object);
  if (!isRecord(template)) return null;
  const owner = isRecord(object.metadata) ? object.metadata : {};
  const meta = isRecord(template.metadata) ? template.metadata : {};
  const metadata: Record<string, unknown> = { ...meta };
  if (metadata.name === undefined && owner.name !== undefined) metadata.name = owner.name;
  if (owner.namespace !== undefined) metadata.namespace = owner.namespace;
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec: template.spec ?? {} };
}

function field(o: unknown, key: string): unknown {
  return isRecord(o) ? o[key] : undefined;
}

