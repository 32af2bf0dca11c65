/**
 * Who is calling the console API: a bearer credential the gateway accepts
 * (checked by the gateway's own authenticators, injected), else the browser
 * session cookie. Also the CSRF rule for cookie-authenticated changes.
 *
 * @module
 */

import type { IncomingMessage } from 'node:http';
import { GatehouseError } from '../errors/codes.js';
import { bearerToken } from '../identity/bearer.js';
import type { Principal } from '../identity/principal.js';
import { authenticateToken } from '../identity/stage.js';
import type { Authenticator } from '../identity/stage.js';
import { ConsoleError } from './errors.js';
import { rolesOf } from './roles.js';
import type { Caller } from './roles.js';
import { readCookie, SESSION_COOKIE } from './session.js';
import type { SessionCodec } from './session.js';
import type { ConsoleSettings } from './settings.js';

/** Checks the request's bearer credential: the principal, undefined when there is none or it is refused. May throw a GatehouseError (e.g. GH_IDENTITY_UNAVAILABLE). */
/** Checks a request's `Authorization: Bearer` credential; only the headers are read. */
export type RequestAuthenticator = (req: Pick<IncomingMessage, 'headers'>) => Promise<Principal | undefined>;

/** The header a browser must send with cookie-authenticated POST and DELETE requests; a cross-site form cannot set it. */
export const CSRF_HEADER = 'x-gatehouse-console';

/**
 * A {@link RequestAuthenticator} over the identity stage's authenticators,
 * tried in order as the identity stage does.
 *
 * @example
 * const authenticate = bearerAuthenticator([bootstrapTokenAuthenticator(state.bootstrapTokens), tokens.authenticator]);
 */
export function bearerAuthenticator(authenticators: readonly Authenticator[]): RequestAuthenticator {
  return async (req) => {
    const token = bearerToken(req.headers);
    return token === undefined ? undefined : authenticateToken(authenticators, token);
  };
}

/** The caller, or undefined when the request carries no valid credential. Throws ConsoleError when a credential could not be checked. */
export type CallerResolver = (req: IncomingMessage) => Promise<Caller | undefined>;

/**
 * A bearer credential wins over the cookie: a script that sends both means
 * the token. A bearer credential that is refused is not retried as a cookie.
 */
export function createCallerResolver(authenticate: RequestAuthenticator, codec: SessionCodec, settings: Pick<ConsoleSettings, 'roles' | 'approverGroups'>): CallerResolver {
  const roles = (): ConsoleSettings['roles'] =>
    settings.approverGroups === undefined ? settings.roles : { ...settings.roles, approvers: [...settings.roles.approvers, ...settings.approverGroups()] };
  return async (req) => {
    if (req.headers.authorization !== undefined) {
      let principal: Principal | undefined;
      try {
        principal = await authenticate(req);
      } catch (err) {
        if (err instanceof GatehouseError) {
          const headers: Record<string, string> = err.retryAfterSeconds === undefined ? {} : { 'retry-after': String(err.retryAfterSeconds) };
          throw new ConsoleError(err.httpStatus === 503 ? 'unavailable' : 'unauthenticated', err.message, { headers, cause: err });
        }
        throw err;
      }
      if (principal === undefined) return undefined;
      const { subject, groups, kind, via } = principal;
      return { subject, groups, kind, via, roles: rolesOf(groups, via, roles()), cookie: false };
    }
    const value = readCookie(req.headers.cookie, SESSION_COOKIE);
    const session = value === undefined ? undefined : await codec.open(value);
    if (session === undefined) return undefined;
    const via = session.via === 'oidc' ? 'console-oidc' : session.via;
    return { subject: session.subject, groups: session.groups, kind: 'human', via, roles: rolesOf(session.groups, via, roles()), cookie: true };
  };
}

/** State-changing methods need the CSRF header unless a bearer credential is presented (a browser never adds one on its own). */
export function checkCsrf(req: IncomingMessage): void {
  if (req.method === 'GET' || req.method === 'HEAD') return;
  if (req.headers.authorization !== undefined) return;
  if (req.headers[CSRF_HEADER] !== '1') {
    throw new ConsoleError('csrf-header-missing', `browser requests that change something must send the header X-Gatehouse-Console: 1`);
  }
}
