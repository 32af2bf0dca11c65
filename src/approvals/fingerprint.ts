import { createHash } from 'node:crypto';
import type { KubeRequest } from '../classify/kube-request.js';

/**
 * What makes two requests "the same request" for a grant: who asks, the
 * cluster, the method, the path with its query parameters in a canonical
 * order, and the SHA-256 of the body. A retry of the same kubectl command
 * matches; any change to the cluster, the target, the query (dryRun,
 * force…) or the body does not.
 *
 * @example
 * fingerprint('oidc:bob@example.com', 'prod', 'POST', '/api/v1/namespaces/default/pods?fieldManager=kubectl-run', body);
 */
export function fingerprint(subject: string, cluster: string, method: string, url: string, body: Buffer | undefined): string {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  // Raw pairs, not decoded ones: Go drops a pair with a bad escape (`%zz`) that URLSearchParams keeps,
  // so two spellings one reader tells apart must not share a grant. Sorted by name only (the sort is
  // stable): the order of a repeated parameter's values is its meaning (exec's command=echo&command=sh…
  // is not command=sh&command=…&command=echo; Go reads the first force=).
  const params = (q === -1 ? [] : url.slice(q + 1).split('&'))
    .filter((pair) => pair !== '')
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq === -1 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)];
    })
    .sort(([a], [b]) => cmp(a!, b!));
  const bodyHash = createHash('sha256')
    .update(body ?? Buffer.alloc(0))
    .digest('hex');
  return createHash('sha256')
    .update(JSON.stringify([2, subject, cluster, method.toUpperCase(), path, params, bodyHash]))
    .digest('hex');
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const STREAM_SUBRESOURCES: ReadonlySet<string> = new Set(['exec', 'attach', 'portforward']);

/**
 * One line an approver reads first: "create pods web in namespace default",
 * "exec pods web in namespace prod on cluster eu-1" (a named cluster other
 * than the single-cluster `default` is always said).
 */
export function summarize(request: KubeRequest, nameInBody: string): string {
  const where = request.cluster !== undefined && request.cluster !== '' && request.cluster !== 'default' ? ` on cluster ${request.cluster}` : '';
  return describeRequest(request, nameInBody) + where;
}

function describeRequest(request: KubeRequest, nameInBody: string): string {
  if (!request.isResourceRequest) return `${request.verb.toUpperCase()} ${request.path}`;
  const name = request.name || nameInBody;
  const session = STREAM_SUBRESOURCES.has(request.subresource);
  const resource = request.subresource && !session ? `${request.resource}/${request.subresource}` : request.resource;
  const group = request.apiGroup ? `.${request.apiGroup}` : '';
  const target = name ? `${resource}${group} ${name}` : `${resource}${group}`;
  const verb = session ? request.subresource : request.verb;
  return `${verb} ${target}${request.namespace ? ` in namespace ${request.namespace}` : ''}`;
}
