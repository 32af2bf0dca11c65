/**
 * Browser sessions: the `gatehouse_session` cookie is a JWS (HS256) signed
 * with a 32-byte key kept in the data directory, so sessions survive
 * restarts and need no table. The same key signs the short-lived cookie that
 * carries an OIDC sign-in's state, nonce and PKCE verifier from the login
 * redirect to the callback; each kind has its own audience so one can never
 * pass for the other.
 *
 * @module
 */

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import { createPrivateOnce } from '../config/private-file.js';

export const SESSION_COOKIE = 'gatehouse_session';
export const LOGIN_COOKIE = 'gatehouse_login';
export const SESSION_KEY_FILE = 'console-session.key';

const ISSUER = 'gatehouse-console';
const SESSION_AUDIENCE = 'gatehouse-console-session';
const LOGIN_AUDIENCE = 'gatehouse-console-login';

/** Who a browser session belongs to. `via`: how they signed in. */
export interface BrowserSession {
  subject: string;
  groups: string[];
  via: 'oidc' | 'dev-login' | 'bootstrap-token' | 'token';
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

/** What the callback needs to finish the sign-in the login redirect started. */
export interface PendingLogin {
  state: string;
  nonce: string;
  verifier: string;
  /** Where to send the browser afterwards (a path under /ui/). */
  returnTo: string;
}

const sessionClaims = z.object({ sub: z.string().min(1), groups: z.array(z.string()), via: z.enum(['oidc', 'dev-login', 'bootstrap-token', 'token']), exp: z.number() });
const loginClaims = z.object({ state: z.string(), nonce: z.string(), verifier: z.string(), returnTo: z.string() });

export interface SessionCodec {
  seal(session: Omit<BrowserSession, 'expiresAt'>, ttlMs: number): Promise<string>;
  /** The session in a cookie value, or undefined when it is forged, expired or not a session. */
  open(value: string): Promise<BrowserSession | undefined>;
  sealLogin(login: PendingLogin, ttlMs: number): Promise<string>;
  openLogin(value: string): Promise<PendingLogin | undefined>;
}

/**
 * @example
 * const codec = createSessionCodec(loadSessionKey(dataDir));
 * const cookie = await codec.seal({ subject: 'oidc:alice', groups: ['dev'], via: 'oidc' }, 8 * 3600_000);
 */
export function createSessionCodec(key: Uint8Array): SessionCodec {
  const sign = (claims: Record<string, unknown>, audience: string, ttlMs: number, subject?: string) => {
    const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuer(ISSUER).setAudience(audience).setIssuedAt();
    if (subject !== undefined) jwt.setSubject(subject);
    return jwt.setExpirationTime(Math.floor((Date.now() + ttlMs) / 1000)).sign(key);
  };
  const verify = async <T extends z.ZodType>(value: string, audience: string, schema: T): Promise<z.infer<T> | undefined> => {
    try {
      const { payload } = await jwtVerify(value, key, { issuer: ISSUER, audience, algorithms: ['HS256'] });
      const parsed = schema.safeParse(payload);
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  };
  return {
    seal: (session, ttlMs) => sign({ groups: session.groups, via: session.via }, SESSION_AUDIENCE, ttlMs, session.subject),
    open: async (value) => {
      const claims = await verify(value, SESSION_AUDIENCE, sessionClaims);
      return claims && { subject: claims.sub, groups: claims.groups, via: claims.via, expiresAt: claims.exp * 1000 };
    },
    sealLogin: (login, ttlMs) => sign({ ...login }, LOGIN_AUDIENCE, ttlMs),
    openLogin: (value) => verify(value, LOGIN_AUDIENCE, loginClaims),
  };
}

/**
 * The console's signing key from the data directory, created (32 random
 * bytes, mode 0600) on first use; two processes starting at once agree on
 * one key (see createPrivateOnce).
 */
export function loadSessionKey(dataDir: string): Uint8Array {
  const path = join(dataDir, SESSION_KEY_FILE);
  createPrivateOnce(path, () => randomBytes(32).toString('base64') + '\n');
  const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new Error(`${path} does not hold a 32-byte key (base64): delete it to make a new one (this signs everyone out)`);
  return key;
}

/** Cookie values from a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** A Set-Cookie value; `maxAgeMs` 0 clears the cookie. Always HttpOnly and Secure: the gateway only speaks HTTPS. */
export function cookie(name: string, value: string, options: { path: string; sameSite: 'Strict' | 'Lax'; maxAgeMs: number }): string {
  return `${name}=${value}; Path=${options.path}; Max-Age=${Math.floor(options.maxAgeMs / 1000)}; HttpOnly; Secure; SameSite=${options.sameSite}`;
}
