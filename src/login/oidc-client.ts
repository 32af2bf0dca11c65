import { readFileSync } from 'node:fs';
import * as client from 'openid-client';
import { issuerUrlProblem } from '../identity/oidc/issuer-url.js';
import type { CachedTokens } from './token-cache.js';

export interface LoginTarget {
  issuer: string;
  clientId: string;
  clientSecret?: string | undefined;
  /** PEM CA bundle for a private identity provider. */
  caFile?: string | undefined;
}

/**
 * Discovers the issuer and returns an openid-client configuration. Plain
 * http is allowed only for loopback issuers (tests and the local demo).
 */
export async function discoverIssuer(target: LoginTarget): Promise<client.Configuration> {
  // The same rule the gateway applies to the issuers it trusts.
  const problem = issuerUrlProblem(target.issuer);
  if (problem) throw new Error(`issuer ${target.issuer} ${problem}`);
  const url = new URL(target.issuer);
  const auth = target.clientSecret ? client.ClientSecretPost(target.clientSecret) : client.None();
  const options: client.DiscoveryRequestOptions = {};
  if (url.protocol === 'http:') options.execute = [client.allowInsecureRequests];
  if (target.caFile) {
    // undici is loaded only for an issuer with its own CA bundle (the console's sign-in module is in every gateway).
    const { Agent, fetch: undiciFetch } = await import('undici');
    const dispatcher = new Agent({ connect: { ca: readFileSync(target.caFile) } });
    // undici's own fetch with its own Agent: the global fetch may bundle another undici version.
    options[client.customFetch] = (input, init) =>
      undiciFetch(input, { ...init, dispatcher });
  }
  return client.discovery(url, target.clientId, undefined, auth, options);
}

/** Turns a token endpoint response into what the cache keeps; an ID token is required. */
export function tokensFrom(target: LoginTarget, response: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers, previousRefresh?: string): CachedTokens {
  const idToken = response.id_token;
  if (!idToken) throw new Error(`${target.issuer} returned no id_token; is the "openid" scope granted?`);
  const claims = response.claims();
  const exp = claims?.exp;
  if (typeof exp !== 'number') throw new Error(`the id_token from ${target.issuer} has no exp claim`);
  return {
    issuer: target.issuer,
    clientId: target.clientId,
    idToken,
    refreshToken: response.refresh_token ?? previousRefresh,
    expiresAt: exp,
  };
}
