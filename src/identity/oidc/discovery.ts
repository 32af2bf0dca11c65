import { GatehouseError } from '../../errors/codes.js';
import type { IssuerFetch } from './issuer-fetch.js';
import { isLoopbackHostname } from './issuer-url.js';

/** What Gatehouse takes from an issuer's discovery document. */
export interface IssuerMetadata {
  readonly issuer: string;
  readonly jwksUri: URL;
}

/** Seconds a client is told to wait before retrying when an issuer cannot be reached. */
export const ISSUER_RETRY_AFTER_SECONDS = 5;

const MAX_DOCUMENT_CHARS = 512 * 1024;

/** The GH_IDENTITY_UNAVAILABLE refusal for `issuer`, with the reason (never a token). */
export function issuerUnavailable(issuer: string, reason: string, cause?: unknown): GatehouseError {
  return new GatehouseError('GH_IDENTITY_UNAVAILABLE', `the OIDC issuer ${issuer} cannot be used right now: ${reason}`, {
    cause,
    retryAfterSeconds: ISSUER_RETRY_AFTER_SECONDS,
  });
}

/**
 * Fetches `<issuer>/.well-known/openid-configuration` and checks it: HTTP 200
 * (redirects are not followed), a JSON object whose `issuer` equals the
 * configured one exactly (OIDC Discovery §4.3, so a document cannot speak for
 * another issuer), and a `jwks_uri` on https (or http on loopback).
 * Anything else throws GH_IDENTITY_UNAVAILABLE naming the issuer.
 *
 * @example
 * const { jwksUri } = await discoverIssuer('https://accounts.example.com', fetch, 5000);
 */
export async function discoverIssuer(issuer: string, fetchIssuer: IssuerFetch, timeoutMs: number): Promise<IssuerMetadata> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  let body: string;
  try {
    const response = await fetchIssuer(url, {
      method: 'GET',
      headers: new Headers({ accept: 'application/json' }),
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw issuerUnavailable(issuer, `GET ${url} answered HTTP ${response.status}, expected 200`);
    }
    body = await response.text();
  } catch (err) {
    if (err instanceof GatehouseError) throw err;
    throw issuerUnavailable(issuer, `GET ${url} failed (${describeFetchError(err)})`, err);
  }
  if (body.length > MAX_DOCUMENT_CHARS) throw issuerUnavailable(issuer, `the discovery document at ${url} is larger than ${MAX_DOCUMENT_CHARS} characters`);
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (err) {
    throw issuerUnavailable(issuer, `the discovery document at ${url} is not JSON`, err);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw issuerUnavailable(issuer, `the discovery document at ${url} is not a JSON object`);
  const { issuer: named, jwks_uri: jwksUri } = doc as Record<string, unknown>;
  if (named !== issuer) {
    throw issuerUnavailable(issuer, `its discovery document names the issuer ${JSON.stringify(named)}; it must be exactly ${JSON.stringify(issuer)}`);
  }
  if (typeof jwksUri !== 'string') throw issuerUnavailable(issuer, 'its discovery document has no jwks_uri');
  let parsed: URL;
  try {
    parsed = new URL(jwksUri);
  } catch (err) {
    throw issuerUnavailable(issuer, `its jwks_uri ${JSON.stringify(jwksUri)} is not a URL`, err);
  }
  if (!(parsed.protocol === 'https:' || (parsed.protocol === 'http:' && isLoopbackHostname(parsed.hostname)))) {
    throw issuerUnavailable(issuer, `its jwks_uri ${jwksUri} must use https (plain http on loopback only)`);
  }
  return { issuer, jwksUri: parsed };
}

/** A short, token-free description of a fetch failure (undici hides the socket error in `cause`). */
export function describeFetchError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timed out';
  const cause = err.cause;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${cause.message}` : cause.message;
  }
  return err.message;
}
