import type { OutgoingHttpHeaders } from 'node:http';
import type { RequestContext } from '../pipeline/context.js';

/**
 * Impersonate-Extra-* keys Gatehouse sets, so the API server's own audit log
 * names the client and the Gatehouse request the call belongs to.
 */
export const IMPERSONATION_EXTRA = {
  clientAddress: 'gatehouse-client-address',
  principalKind: 'gatehouse-principal-kind',
  via: 'gatehouse-via',
  requestId: 'gatehouse-request-id',
  sponsor: 'gatehouse-sponsor',
  client: 'gatehouse-client',
  session: 'gatehouse-session',
  approval: 'gatehouse-approval',
} as const;

const MAX_EXTRA = 256;

/** A header-safe value: printable ASCII as it is, anything else percent-encoded; bounded. */
function headerValue(text: string): string {
  const value = /^[\x20-\x7e]*$/.test(text) ? text : encodeURIComponent(text);
  return value.slice(0, MAX_EXTRA);
}

/**
 * Adds Impersonate-User/Group/Extra-* for the request's principal, so the
 * cluster's RBAC applies to the person or agent and not only to the gateway.
 * The client's own Impersonate-* headers were already removed.
 */
export function addImpersonation(headers: OutgoingHttpHeaders, ctx: RequestContext): void {
  const principal = ctx.principal;
  // The identity stage always runs first; a missing principal here is a wiring bug, and forwarding as the gateway would fail open.
  if (!principal) throw new Error('impersonation needs a principal, and the request has none');
  headers['impersonate-user'] = principal.subject;
  if (principal.groups.length > 0) headers['impersonate-group'] = principal.groups;
  headers[`impersonate-extra-${IMPERSONATION_EXTRA.clientAddress}`] = ctx.req.socket.remoteAddress ?? 'unknown';
  headers[`impersonate-extra-${IMPERSONATION_EXTRA.principalKind}`] = principal.kind;
  headers[`impersonate-extra-${IMPERSONATION_EXTRA.via}`] = principal.via;
  headers[`impersonate-extra-${IMPERSONATION_EXTRA.requestId}`] = ctx.id;
  // Who is accountable for an agent, what it ran, and which approval let it through, in the API server's own audit log.
  if (principal.sponsor) headers[`impersonate-extra-${IMPERSONATION_EXTRA.sponsor}`] = headerValue(principal.sponsor);
  const client = ctx.req.headers['user-agent'];
  if (client) headers[`impersonate-extra-${IMPERSONATION_EXTRA.client}`] = headerValue(client);
  const session = ctx.req.headers['kubectl-session'];
  if (typeof session === 'string' && session !== '') headers[`impersonate-extra-${IMPERSONATION_EXTRA.session}`] = headerValue(session);
  if (ctx.approval) headers[`impersonate-extra-${IMPERSONATION_EXTRA.approval}`] = ctx.approval.approval.id;
}
