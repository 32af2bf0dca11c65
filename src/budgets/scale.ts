/**
 * Scale guards: bounds on the replicas a request leaves a workload with.
 * Pure; the budget stage resolves the objects first.
 *
 * @module
 */

import type { KubeRequest } from '../classify/kube-request.js';
import { isRecord } from '../kube/object.js';
import type { ScaleLimits } from './model.js';

/** `group/resource` of the built-in workloads whose `spec.replicas` a write can change. */
const SCALABLE: ReadonlySet<string> = new Set(['apps/deployments', 'apps/statefulsets', 'apps/replicasets', '/replicationcontrollers']);

/**
 * True for a write that can change a workload's replicas: an update or
 * patch of a Deployment, StatefulSet, ReplicaSet or ReplicationController,
 * or of any resource's `scale` subresource (custom resources too).
 */
export function changesReplicas(request: KubeRequest): boolean {
  if (!request.isResourceRequest || (request.verb !== 'update' && request.verb !== 'patch') || request.name === '') return false;
  if (request.subresource === 'scale') return true;
  return request.subresource === '' && SCALABLE.has(`${request.apiGroup}/${request.resource}`);
}

/**
 * `spec.replicas` of a workload or Scale object; a Scale leaves out 0
 * (`omitempty`). Undefined when the object does not say.
 */
export function replicasOf(object: unknown): number | undefined {
  if (!isRecord(object)) return undefined;
  const spec = object.spec;
  if (isRecord(spec) && typeof spec.replicas === 'number') return spec.replicas;
  return object.kind === 'Scale' && isRecord(spec) ? 0 : undefined;
}

/**
 * Why going from `from` to `to` replicas breaks the limits, or undefined
 * when it does not (or the count does not change). An unknown count breaks
 * any limit that needs it (fail closed).
 *
 * @example
 * scaleViolation({ minReplicas: 1 }, 3, 0) // → 'from 3 to 0 replicas, below the minimum of 1'
 * scaleViolation({ maxChangePercent: 50 }, 4, 10) // → 'from 4 to 10 replicas, a change of 150%, more than 50%'
 */
export function scaleViolation(limits: ScaleLimits, from: number | undefined, to: number | undefined): string | undefined {
  if (to === undefined) return 'the requested replica count could not be worked out';
  if (from === to) return undefined;
  const change = `from ${from ?? 'an unknown number of'} to ${to} replicas`;
  if (limits.minReplicas !== undefined && to < limits.minReplicas) return `${change}, below the minimum of ${limits.minReplicas}`;
  if (limits.maxReplicas !== undefined && to > limits.maxReplicas) return `${change}, above the maximum of ${limits.maxReplicas}`;
  if (limits.maxChangePercent !== undefined) {
    if (from === undefined) return `${change}: the current replica count could not be read to check the ${limits.maxChangePercent}% limit`;
    // From zero there is no percentage; maxReplicas bounds a scale-up from zero.
    if (from === 0) return undefined;
    const percent = (Math.abs(to - from) / from) * 100;
    if (percent > limits.maxChangePercent) return `${change}, a change of ${Math.round(percent)}%, more than ${limits.maxChangePercent}%`;
  }
  return undefined;
}
