import { createRemoteJWKSet, customFetch, errors } from 'jose';
import type { JWTVerifyGetKey } from 'jose';
import { describeFetchError, issuerUnavailable, type IssuerMetadata } from './discovery.js';
import type { IssuerFetch } from './issuer-fetch.js';

/** How an issuer's key set is fetched and refreshed. */
export interface IssuerKeysOptions {
  /** Shortest gap between two fetches an unknown `kid` may trigger (jose's cooldown). */
  cooldownMs: number;
  /** Per-request timeout. */
  timeoutMs: number;
}

/**
 * The verification keys of one issuer: jose's remote JWKS (cached for 10
 * minutes, refetched when a token names an unknown `kid` and the cooldown has
 * passed, so a rotated key is picked up without a restart), fetched with the
 * issuer's own fetch (custom CA). A JWKS that cannot be fetched (network
 * error, timeout, non-200, not a JWKS) throws GH_IDENTITY_UNAVAILABLE naming
 * the issuer; a token whose key is not in the set fails verification as usual.
 *
 * @example
 * const keys = createIssuerKeys(await discoverIssuer(iss, f, 5000), f, { cooldownMs: 30_000, timeoutMs: 5000 });
 * await jwtVerify(token, keys, { issuer: iss, algorithms: ['RS256'] });
 */
export function createIssuerKeys(metadata: IssuerMetadata, fetchIssuer: IssuerFetch, options: IssuerKeysOptions): JWTVerifyGetKey {
  const remote = createRemoteJWKSet(metadata.jwksUri, {
    [customFetch]: fetchIssuer,
    cooldownDuration: options.cooldownMs,
    timeoutDuration: options.timeoutMs,
  });
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (err) {
      if (isFetchFailure(err)) {
        throw issuerUnavailable(metadata.issuer, `its JWKS at ${metadata.jwksUri.href} could not be fetched (${describeFetchError(err)})`, err);
      }
      throw err;
    }
  };
}

/**
 * True for errors of the JWKS HTTP fetch rather than of key selection: jose
 * reports a non-200 or unparsable response as a plain JOSEError, a timeout as
 * JWKSTimeout, a body that is not a key set as JWKSInvalid, and the network
 * error of fetch itself as is.
 */
function isFetchFailure(err: unknown): boolean {
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) return true;
  if (err instanceof errors.JOSEError) return err.code === 'ERR_JOSE_GENERIC';
  return true;
}
