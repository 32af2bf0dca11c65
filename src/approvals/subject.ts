import type { KubeRequest } from '../classify/kube-request.js';
import type { Principal } from '../identity/principal.js';
import type { RequestContext } from '../pipeline/context.js';
import type { ApprovalRequester, ApprovalTarget } from './types.js';

/** Who asked, as an approval or a proposal stores it. */
export function requesterOf(principal: Principal): ApprovalRequester {
  return { subject: principal.subject, kind: principal.kind, groups: [...principal.groups], tokenId: principal.tokenId ?? null, sponsor: principal.sponsor ?? null };
}

/** What was asked, as a person deciding sees it: the classified request line and the path with its query. */
export function targetOf(ctx: RequestContext, request: KubeRequest, name: string): ApprovalTarget {
  return {
    verb: request.verb,
    apiGroup: request.apiGroup,
    apiVersion: request.apiVersion,
    resource: request.resource,
    subresource: request.subresource,
    namespace: request.namespace,
    name,
    path: ctx.req.url ?? request.path,
  };
}
