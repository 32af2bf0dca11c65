import { readFileSync } from 'node:fs';
import { Agent, fetch as undiciFetch } from 'undici';

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
  const dispatcher = new Agent({ connect: { ca: readFileSync(caFile) } });
  // Plain headers: the global Headers class may come from another undici.
  return (url, init) => undiciFetch(url, { ...init, headers: Object.fromEntries(init.headers), dispatcher });
}
