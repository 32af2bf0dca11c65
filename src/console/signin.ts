/**
 * Browser sign-in: OIDC authorization code + PKCE against the configured
 * provider (openid-client), the session cookie, sign-out, the dev-mode
 * admin sign-in, and `whoami`.
 *
 * The ID token's claims go through the same mapping as the gateway's OIDC
 * authenticator ({@link checkClaims}), so a person has one subject whether
 * they use kubectl or the console.
 *
 * @module
 */

import * as client from 'openid-client';
import type { Logger } from 'pino';
import { checkClaims } from '../identity/oidc/claims.js';
import { discoverIssuer } from '../login/oidc-client.js';
import { z } from 'zod';
import type { RequestAuthenticator } from './auth.js';
import { ConsoleError } from './errors.js';
import { readJson } from './http.js';
import { reply, route } from './router.js';
import type { Route } from './router.js';
import { cookie, LOGIN_COOKIE, readCookie, SESSION_COOKIE } from './session.js';
import type { BrowserSession, SessionCodec } from './session.js';
import type { ConsoleOidc, ConsoleSettings } from './settings.js';

export const CALLBACK_PATH = '/gatehouse/v1/auth/callback';
const AUTH_PATH = '/gatehouse/v1/auth/';
/** A sign-in must be finished within this long. */
const LOGIN_TTL_MS = 10 * 60_000;
/** The subject of the dev-mode admin. */
const DEV_ADMIN_SUBJECT = 'dev:admin';

/** Only paths of the console itself: never another origin, never `//host`. */
function returnPath(value: string | null): string {
  if (value === null) return '/ui/';
  if (!/^\/ui(\/[^\\]*)?$/.test(value) || value.startsWith('//')) {
    throw new ConsoleError('bad-request', 'return must be a path under /ui/, e.g. /ui/approvals');
  }
  return value;
}

/**
 * @example
 * const routes = signInRoutes(settings, codec, log);
 */
const tokenLoginBody = z.object({ token: z.string().trim().min(1, 'paste a token').max(8192) }).strict();

export function signInRoutes(settings: ConsoleSettings, codec: SessionCodec, authenticate: RequestAuthenticator, log: Logger): Route[] {
  // Discovery is done once and kept; a failed one is retried on the next sign-in.
  let discovered: Promise<client.Configuration> | undefined;
  const providerOf = (oidc: ConsoleOidc): Promise<client.Configuration> =>
    (discovered ??= discoverIssuer(oidc.target).catch((err: unknown) => {
      discovered = undefined;
      log.warn({ err, issuer: oidc.target.issuer }, 'console sign-in: OIDC discovery failed');
      throw new ConsoleError('unavailable', `the identity provider ${oidc.target.issuer} cannot be reached right now; try again shortly`, { cause: err });
    }));
  const oidcOrRefuse = (): ConsoleOidc => {
    if (settings.oidc === undefined) throw new ConsoleError('not-found', 'browser sign-in is not configured: set console.oidc or identity.oidc in gatehouse.yaml');
    return settings.oidc;
  };
  const sessionCookie = async (session: Omit<BrowserSession, 'expiresAt'>) =>
    cookie(SESSION_COOKIE, await codec.seal(session, settings.sessionTtlMs), { path: '/', sameSite: 'Strict', maxAgeMs: settings.sessionTtlMs });
  const clearLogin = cookie(LOGIN_COOKIE, '', { path: AUTH_PATH, sameSite: 'Lax', maxAgeMs: 0 });

  return [
    route('GET', '/gatehouse/v1/auth/methods', 'public', () => reply(200, { oidc: settings.oidc !== undefined, devLogin: settings.devLogin })),

    route('GET', '/gatehouse/v1/auth/login', 'public', async ({ res, url }) => {
      const oidc = oidcOrRefuse();
      const returnTo = returnPath(url.searchParams.get('return'));
      const config = await providerOf(oidc);
      const verifier = client.randomPKCECodeVerifier();
      const pending = { state: client.randomState(), nonce: client.randomNonce(), verifier, returnTo };
      const authorizationUrl = client.buildAuthorizationUrl(config, {
        redirect_uri: settings.publicUrl + CALLBACK_PATH,
        scope: oidc.scopes.join(' '),
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state: pending.state,
        nonce: pending.nonce,
      });
      // Lax, not Strict: the provider's redirect back to the callback is a cross-site navigation.
      const loginCookie = cookie(LOGIN_COOKIE, await codec.sealLogin(pending, LOGIN_TTL_MS), { path: AUTH_PATH, sameSite: 'Lax', maxAgeMs: LOGIN_TTL_MS });
      res.writeHead(302, { location: authorizationUrl.href, 'set-cookie': loginCookie, 'cache-control': 'no-store' }).end();
      return undefined;
    }),

    route('GET', CALLBACK_PATH, 'public', async ({ req, res, url }) => {
      const oidc = oidcOrRefuse();
      const value = readCookie(req.headers.cookie, LOGIN_COOKIE);
      const pending = value === undefined ? undefined : await codec.openLogin(value);
      if (pending === undefined) {
        throw new ConsoleError('bad-request', 'this sign-in expired or was started in another browser: start again at /gatehouse/v1/auth/login');
      }
      const config = await providerOf(oidc);
      let claims: client.IDToken | undefined;
      try {
        const response = await client.authorizationCodeGrant(config, new URL(url.pathname + url.search, settings.publicUrl), {
          pkceCodeVerifier: pending.verifier,
          expectedState: pending.state,
          expectedNonce: pending.nonce,
          idTokenExpected: true,
        });
        claims = response.claims();
      } catch (err) {
        log.info({ err, issuer: oidc.target.issuer }, 'console sign-in refused');
        throw new ConsoleError('unauthenticated', `the sign-in did not complete: ${(err as Error).message}`);
      }
      if (claims === undefined) throw new ConsoleError('unauthenticated', 'the identity provider returned no ID token');
      const outcome = checkClaims(claims, oidc.claims, Date.now() / 1000);
      if (!outcome.ok) throw new ConsoleError('unauthenticated', `the ID token was not accepted: ${outcome.reason}`);
      const { subject, groups } = outcome.principal;
      log.info({ subject }, 'console sign-in');
      res.writeHead(302, { location: pending.returnTo, 'set-cookie': [await sessionCookie({ subject, groups, via: 'oidc' }), clearLogin], 'cache-control': 'no-store' }).end();
      return undefined;
    }),

    route('POST', '/gatehouse/v1/auth/logout', 'public', () => reply(200, { signedOut: true }, { 'set-cookie': cookie(SESSION_COOKIE, '', { path: '/', sameSite: 'Strict', maxAgeMs: 0 }) })),

    route('POST', '/gatehouse/v1/auth/dev-login', 'public', async () => {
      if (!settings.devLogin) throw new ConsoleError('not-found', 'dev-login is off (console.devLogin: true turns it on, for development only)');
      log.warn({ subject: DEV_ADMIN_SUBJECT }, 'console dev-login: signed in a local admin without credentials');
      return reply(200, { subject: DEV_ADMIN_SUBJECT }, { 'set-cookie': await sessionCookie({ subject: DEV_ADMIN_SUBJECT, groups: [], via: 'dev-login' }) });
    }),

    // Without an identity provider people still sign in: with a credential the gateway already accepts (e.g. the admin token `gatehouse up` printed).
    route('POST', '/gatehouse/v1/auth/token-login', 'public', async ({ req }) => {
      const { token } = await readJson(req, tokenLoginBody);
      const principal = await authenticate({ headers: { authorization: `Bearer ${token}` } });
      if (principal === undefined) throw new ConsoleError('unauthenticated', 'the gateway does not accept this token (unknown, revoked or expired)');
      // Agents and CI act through the API with their tokens; the console is for people.
      if (principal.kind !== 'human') throw new ConsoleError('forbidden', `${principal.kind === 'agent' ? 'an agent' : 'a CI'} token cannot sign in to the console; sign in as a person`);
      const via = principal.via === 'oidc' ? 'oidc' : principal.via;
      log.info({ subject: principal.subject, via }, 'console sign-in with a token');
      return reply(200, { subject: principal.subject }, { 'set-cookie': await sessionCookie({ subject: principal.subject, groups: principal.groups, via }) });
    }),

    route('GET', '/gatehouse/v1/whoami', 'signed-in', ({ caller }) =>
      reply(200, { subject: caller.subject, kind: caller.kind, groups: caller.groups, roles: [...caller.roles].sort(), via: caller.via }),
    ),
  ];
}
