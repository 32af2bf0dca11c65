import { hash } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { JWTVerifyGetKey } from 'jose';
import type { Logger } from 'pino';
import { GatehouseError } from '../../errors/codes.js';
import type { Principal } from '../principal.js';
import type { Authenticator } from '../stage.js';
import type { OidcIssuerConfig } from './config.js';
import { discoverIssuer } from './discovery.js';
import { createIssuerFetch, type IssuerFetch } from './issuer-fetch.js';
import { createIssuerKeys } from './jwks.js';
import { VerifiedTokenCache } from './token-cache.js';
import { verifyOidcToken } from './verify.js';

/** Tuning of {@link createOidcAuthenticator}; only `log` is required. */
export interface OidcAuthenticatorOptions {
  log: Logger;
  /** Shortest gap between JWKS refetches an unknown `kid` may trigger. Default 30 000 (jose's default). */
  jwksCooldownMs?: number;
  /** Timeout of each discovery or JWKS request. Default 5000. */
  timeoutMs?: number;
  /** After a failed discovery, requests fail fast for this long before it is tried again. Default 5000. */
  discoveryRetryMs?: number;
  /** Verified tokens kept (by SHA-256) until min(exp, now + maxAgeMs); `false` turns the cache off. Default 1000 entries, 60 s. */
  cache?: { maxEntries: number; maxAgeMs: number } | false;
}

/** Longer than any ID token a sane issuer mints; longer ones are not parsed at all. */
const MAX_TOKEN_CHARS = 16 * 1024;

interface IssuerState {
  readonly config: OidcIssuerConfig;
  readonly fetch: IssuerFetch;
  keys: JWTVerifyGetKey | undefined;
  pending: Promise<JWTVerifyGetKey> | undefined;
  failure: { error: GatehouseError; at: number } | undefined;
}

/**
 * Authenticates bearer tokens that are ID tokens of the trusted OIDC issuers.
 *
 * The issuer is picked by the token's unverified `iss` (a token that is not a
 * JWT, or names an issuer not configured, is "not mine": undefined). Each
 * issuer's discovery document is fetched on its first token and cached (a
 * failed discovery is retried after `discoveryRetryMs`); its JWKS is jose's
 * remote set, refetched on an unknown `kid`, so key rotation needs no restart.
 * The token is then verified by {@link verifyOidcToken}. A refused token gives
 * undefined (the identity stage answers 401) and its reason is logged at
 * debug with the issuer, never the token; an issuer that cannot be reached
 * throws GH_IDENTITY_UNAVAILABLE (503, Retry-After 5).
 *
 * @example
 * const oidc = createOidcAuthenticator(config.identity.oidc, { log });
 * const identity = createIdentityStage([bootstrapTokenAuthenticator(records), oidc]);
 */
export function createOidcAuthenticator(issuers: OidcIssuerConfig[], options: OidcAuthenticatorOptions): Authenticator {
  const log = options.log;
  const timeoutMs = options.timeoutMs ?? 5000;
  const cooldownMs = options.jwksCooldownMs ?? 30_000;
  const retryMs = options.discoveryRetryMs ?? 5000;
  const cacheOptions = options.cache ?? { maxEntries: 1000, maxAgeMs: 60_000 };
  const cache = cacheOptions === false ? undefined : new VerifiedTokenCache(cacheOptions);

  const byIssuer = new Map<string, IssuerState>();
  for (const config of issuers) {
    if (byIssuer.has(config.issuer)) throw new TypeError(`OIDC issuer ${config.issuer} is configured twice`);
    byIssuer.set(config.issuer, { config, fetch: createIssuerFetch(config.caFile), keys: undefined, pending: undefined, failure: undefined });
  }

  function keysFor(state: IssuerState): Promise<JWTVerifyGetKey> {
    if (state.keys !== undefined) return Promise.resolve(state.keys);
    if (state.failure !== undefined && Date.now() - state.failure.at < retryMs) return Promise.reject(state.failure.error);
    state.pending ??= discoverIssuer(state.config.issuer, state.fetch, timeoutMs)
      .then(
        (metadata) => {
          state.failure = undefined;
          state.keys = createIssuerKeys(metadata, state.fetch, { cooldownMs, timeoutMs });
          log.info({ issuer: state.config.issuer, jwksUri: metadata.jwksUri.href }, 'OIDC issuer discovered');
          return state.keys;
        },
        (err: unknown) => {
          const error = err instanceof GatehouseError ? err : new GatehouseError('GH_IDENTITY_UNAVAILABLE', `the OIDC issuer ${state.config.issuer} cannot be used right now`, { cause: err, retryAfterSeconds: 5 });
          state.failure = { error, at: Date.now() };
          log.warn({ issuer: state.config.issuer, reason: error.message }, 'OIDC issuer discovery failed');
          throw error;
        },
      )
      .finally(() => {
        state.pending = undefined;
      });
    return state.pending;
  }

  return async (token: string): Promise<Principal | undefined> => {
    if (token.length > MAX_TOKEN_CHARS) return undefined;
    const cacheKey = cache === undefined ? undefined : hash('sha256', token, 'base64url');
    if (cacheKey !== undefined) {
      const hit = cache?.get(cacheKey);
      if (hit !== undefined) return hit;
    }
    const state = issuerOf(token, byIssuer);
    if (state === undefined) return undefined;
    const alg = algorithmOf(token);
    if (alg === undefined || !(state.config.algorithms as readonly string[]).includes(alg)) {
      log.debug({ issuer: state.config.issuer, reason: `algorithm ${JSON.stringify(alg)} is not allowed` }, 'OIDC token refused');
      return undefined;
    }
    const outcome = await verifyOidcToken(token, state.config, await keysFor(state));
    if (!outcome.ok) {
      log.debug({ issuer: state.config.issuer, reason: outcome.reason }, 'OIDC token refused');
      return undefined;
    }
    if (cacheKey !== undefined) cache?.set(cacheKey, outcome.principal, outcome.expiresAt * 1000);
    return outcome.principal;
  };
}

/** The configured issuer a token claims to come from (unverified), or undefined for garbage and strangers. */
function issuerOf(token: string, byIssuer: ReadonlyMap<string, IssuerState>): IssuerState | undefined {
  let iss: unknown;
  try {
    iss = decodeJwt(token).iss;
  } catch {
    return undefined;
  }
  return typeof iss === 'string' ? byIssuer.get(iss) : undefined;
}

function algorithmOf(token: string): string | undefined {
  try {
    return decodeProtectedHeader(token).alg;
  } catch {
    return undefined;
  }
}
