import { readFileSync } from 'node:fs';
import type { Agent, fetch as undiciFetch } from 'undici';

/** The subset of `fetch` that discovery and JWKS retrieval use (jose's `customFetch` shape). */
export type IssuerFetch = (
  url: string,
  init: { method: 'GET'; headers: Headers; redirect: 'manual'; signal: AbortSignal },
) => Promise<Response>;

/**
 * The fetch used for one issuer's discovery document and JWKS. With a CA
 * bundle, requests go through undici's own fetch and an `Agent` that trusts
 * only that bundle (the global fetch may bundle a different undici, so the
 * two are never mixed); without one, the global fetch and the system roots.
 * Reads `caFile` now, so a missing file fails at start-up, not on a request.
 *
 * @example
 * const fetchIssuer = createIssuerFetch('/etc/gatehouse/idp-ca.pem');
 * const res = await fetchIssuer('https://idp.internal/.well-known/openid-configuration', {
 *   method: 'GET', headers: new Headers(), redirect: 'manual', signal: AbortSignal.timeout(5000),
 * });
 */
export function createIssuerFetch(caFile?: string): IssuerFetch {
  if (caFile === undefined) return (url, init) => fetch(url, init);
  const ca = readFileSync(caFile);
  // undici is loaded with the first request to such an issuer, not by every gateway.
  let client: Promise<{ fetch: typeof undiciFetch; dispatcher: Agent }> | undefined;
  return async (url, init) => {
    client ??= import('undici').then((undici) => ({ fetch: undici.fetch, dispatcher: new undici.Agent({ connect: { ca } }) }));
    const { fetch: send, dispatcher } = await client;
    // Plain headers: the global Headers class may come from another undici.
    return send(url, { ...init, headers: Object.fromEntries(init.headers), dispatcher });
  };
}
