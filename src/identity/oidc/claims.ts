import type { JWTPayload } from 'jose';
import type { Principal } from '../principal.js';
import type { OidcIssuerConfig } from './config.js';

/** The outcome of checking a verified token's claims: a principal, or why not (for the debug log). */
export type ClaimsOutcome = { readonly ok: true; readonly principal: Principal } | { readonly ok: false; readonly reason: string };

/**
 * The checks jose does not do, on a payload whose signature, `iss`, `aud`,
 * `exp` and `nbf` jose has already verified, then the mapping to a principal:
 *
 * - `iat` must not lie in the future beyond the clock skew;
 * - with more than one `aud`, `azp` must be one of the accepted audiences
 *   (OIDC Core §3.1.3.7), so a token minted for another client that merely
 *   lists us cannot be replayed here;
 * - each configured required claim must be present with exactly its value;
 * - the username claim must be a non-empty string (→ `usernamePrefix` + value);
 * - the groups claim, when present, must be a string or an array of strings
 *   (each → `groupsPrefix` + value).
 *
 * @example
 * checkClaims({ sub: 'alice', groups: ['dev'], aud: 'gatehouse', iat: 1 }, issuerConfig, Date.now() / 1000);
 * // → { ok: true, principal: { subject: 'oidc:alice', groups: ['dev'], kind: 'human', via: 'oidc', tokenId: undefined } }
 */
export function checkClaims(payload: JWTPayload, config: OidcIssuerConfig, nowSeconds: number): ClaimsOutcome {
  if (typeof payload.iat === 'number' && payload.iat > nowSeconds + config.clockSkewSeconds) {
    return { ok: false, reason: '"iat" lies in the future' };
  }
  const aud = payload.aud;
  if (Array.isArray(aud) && aud.length > 1) {
    const azp = payload['azp'];
    if (typeof azp !== 'string' || !config.audiences.includes(azp)) {
      return { ok: false, reason: '"aud" names several audiences and "azp" is missing or not an accepted audience' };
    }
  }
  for (const [claim, expected] of Object.entries(config.requiredClaims)) {
    if (payload[claim] !== expected) return { ok: false, reason: `required claim ${JSON.stringify(claim)} is missing or has another value` };
  }
  const username = payload[config.usernameClaim];
  if (typeof username !== 'string' || username === '') {
    return { ok: false, reason: `username claim ${JSON.stringify(config.usernameClaim)} is not a non-empty string` };
  }
  const groups = groupsFrom(payload[config.groupsClaim]);
  if (groups === undefined) {
    return { ok: false, reason: `groups claim ${JSON.stringify(config.groupsClaim)} is neither a string nor an array of strings` };
  }
  return {
    ok: true,
    principal: {
      subject: config.usernamePrefix + username,
      groups: groups.map((group) => config.groupsPrefix + group),
      kind: config.principalKind,
      via: 'oidc',
      tokenId: undefined,
    },
  };
}

function groupsFrom(value: unknown): string[] | undefined {
  if (value === undefined) return [];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((group): group is string => typeof group === 'string')) return value;
  return undefined;
}
