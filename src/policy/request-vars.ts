/**
 * The variables CEL expressions see, built the way a ValidatingAdmissionPolicy
 * builds them, so expressions written for the API server read the same here.
 *
 * @module
 */

import type { KubeRequest } from '../classify/kube-request.js';
import type { Principal } from '../identity/principal.js';
import type { RequestInfo } from '../kube/request-info.js';
import { isRecord } from '../kube/object.js';

/** Subresources the API server admits as CONNECT, per resource of the core group. */
const CONNECT_SUBRESOURCES: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  ['pods', new Set(['exec', 'attach', 'portforward', 'proxy'])],
  ['services', new Set(['proxy'])],
  ['nodes', new Set(['proxy'])],
]);

const OPERATIONS: Readonly<Record<string, string>> = {
  create: 'CREATE',
  update: 'UPDATE',
  patch: 'UPDATE',
  delete: 'DELETE',
  deletecollection: 'DELETE',
  // Gatehouse: admission never sees reads; policy does.
  get: 'GET',
  list: 'LIST',
  watch: 'WATCH',
};

/**
 * The admission operation of a request: CREATE, UPDATE, DELETE or CONNECT as
 * the API server would say, and GET, LIST or WATCH for reads (a Gatehouse
 * addition). Non-resource requests give their HTTP method.
 *
 * @example
 * operationFor({ ...info, verb: 'create', resource: 'pods', subresource: 'exec' }) // 'CONNECT'
 */
export function operationFor(info: RequestInfo): string {
  if (!info.isResourceRequest) return info.verb.toUpperCase();
  if (info.verb === 'proxy') return 'CONNECT';
  if (info.apiGroup === '' && CONNECT_SUBRESOURCES.get(info.resource)?.has(info.subresource)) return 'CONNECT';
  return OPERATIONS[info.verb] ?? info.verb.toUpperCase();
}

/**
 * The `request` variable: admission.k8s.io AdmissionRequest fields, plus
 * Gatehouse's `verb` (the classified verb) and `path`.
 */
export function requestVariable(request: KubeRequest, principal: Principal, name: string, object: unknown, requestId: string): Record<string, unknown> {
  const kind = { group: request.apiGroup, version: request.apiVersion, kind: isRecord(object) && typeof object.kind === 'string' ? object.kind : '' };
  const resource = { group: request.apiGroup, version: request.apiVersion, resource: request.resource };
  return {
    uid: requestId,
    kind,
    resource,
    subResource: request.subresource,
    requestKind: kind,
    requestResource: resource,
    requestSubResource: request.subresource,
    name,
    namespace: request.namespace,
    operation: operationFor(request),
    userInfo: principalUserInfo(principal),
    dryRun: /(?:^|&)dryRun=All(?:&|$)/.test(request.query),
    verb: request.verb,
    path: request.path,
    cluster: request.cluster ?? '',
    labelSelector: labelSelectorOf(request.query),
  };
}

/** A list's or watch's `labelSelector` parameter, decoded ('' when there is none): `name=web,owner=helm`. */
export function labelSelectorOf(query: string): string {
  // Most requests have none: no parse for them.
  if (!query.includes('labelSelector=')) return '';
  return new URLSearchParams(query).get('labelSelector') ?? '';
}

function principalUserInfo(principal: Principal): Record<string, unknown> {
  return {
    username: principal.subject,
    uid: principal.tokenId ?? '',
    groups: principal.groups,
    extra: { 'gatehouse.dev/principal-kind': [principal.kind], 'gatehouse.dev/via': [principal.via] },
  };
}

/** The `principal` variable: who is asking, as the identity stage saw them. */
export function principalVariable(principal: Principal): Record<string, unknown> {
  return { subject: principal.subject, groups: principal.groups, kind: principal.kind, via: principal.via, tokenId: principal.tokenId ?? '' };
}

/** The `namespaceObject` variable: the target namespace with its labels, or null. */
export function namespaceVariable(namespace: string, labels: Readonly<Record<string, string>> | undefined): Record<string, unknown> | null {
  if (namespace === '' || labels === undefined) return null;
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels } };
}
