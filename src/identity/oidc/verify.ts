import { jwtVerify } from 'jose';
import type { JWTVerifyGetKey } from 'jose';
import { GatehouseError } from '../../errors/codes.js';
import type { Principal } from '../principal.js';
import { checkClaims } from './claims.js';
import type { OidcIssuerConfig } from './config.js';

/** A verified token's principal and when it stops being valid (epoch seconds), or why it was refused. */
export type VerifyOutcome =
  | { readonly ok: true; readonly principal: Principal; readonly expiresAt: number }
  | { readonly ok: false; readonly reason: string };

/**
 * Verifies one compact JWS as an ID token of `config.issuer` with jose:
 * signature by a key of the issuer (`keys`), only the configured algorithms
 * (so `none` and HS* never pass), exact `iss`, an accepted `aud`, `exp`, `nbf`
 * and `iat` within the clock skew, `exp`/`iat`/`sub` and the configured
 * required claims present; then {@link checkClaims}. A GatehouseError from
 * `keys` (issuer unreachable) propagates; every other failure is a refusal
 * whose reason names the check, never the token.
 *
 * @example
 * const outcome = await verifyOidcToken(token, issuerConfig, keys);
 * if (outcome.ok) ctx.principal = outcome.principal;
 */
export async function verifyOidcToken(token: string, config: OidcIssuerConfig, keys: JWTVerifyGetKey): Promise<VerifyOutcome> {
  let payload;
  try {
    ({ payload } = await jwtVerify(token, keys, {
      issuer: config.issuer,
      audience: config.audiences,
      algorithms: config.algorithms,
      clockTolerance: config.clockSkewSeconds,
      requiredClaims: ['exp', 'iat', 'sub', ...Object.keys(config.requiredClaims)],
    }));
  } catch (err) {
    if (err instanceof GatehouseError) throw err;
    const code = (err as { code?: unknown }).code;
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, reason: typeof code === 'string' ? `${code}: ${message}` : message };
  }
  const outcome = checkClaims(payload, config, Date.now() / 1000);
  if (!outcome.ok) return outcome;
  return { ok: true, principal: outcome.principal, expiresAt: payload.exp as number };
}
