/**
 * A tiny router: a table of method + path pattern (`:name` matches one
 * segment) + who may call it, compiled once. For each request it finds the
 * route, authenticates, applies the CSRF rule and the role check, runs the
 * handler and writes its answer or its ConsoleError. Handlers never check
 * access themselves.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { checkCsrf } from './auth.js';
import type { CallerResolver } from './auth.js';
import { ConsoleError } from './errors.js';
import { sendError, sendJson } from './http.js';
import type { Caller, ConsoleRole } from './roles.js';

/** An answer to write as JSON; handlers that write the response themselves (SSE, redirects) return undefined. */
export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string | string[]>;
}

export interface PublicContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Readonly<Record<string, string>>;
}

export interface CallerContext extends PublicContext {
  caller: Caller;
}

/** `public`: no credential needed; `signed-in`: any caller; a role list: a caller holding one of them. */
export type Access = 'public' | 'signed-in' | readonly ConsoleRole[];

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
type Handler<C> = (ctx: C) => Promise<Reply | undefined> | Reply | undefined;

export type Route =
  | { method: Method; path: string; access: 'public'; handle: Handler<PublicContext> }
  | { method: Method; path: string; access: Exclude<Access, 'public'>; handle: Handler<CallerContext> };

interface Compiled {
  route: Route;
  pattern: RegExp;
  names: string[];
}

/** Builds a route table entry; the overloads tie the context type to the access. */
export function route(method: Method, path: string, access: 'public', handle: Handler<PublicContext>): Route;
export function route(method: Method, path: string, access: Exclude<Access, 'public'>, handle: Handler<CallerContext>): Route;
export function route(method: Method, path: string, access: Access, handle: Handler<PublicContext> | Handler<CallerContext>): Route {
  return { method, path, access, handle } as Route;
}

export const reply = (status: number, body: unknown, headers?: Record<string, string | string[]>): Reply => ({ status, body, ...(headers ? { headers } : {}) });

const ROLE_NAMES: Readonly<Record<ConsoleRole, string>> = { admin: 'admins', auditor: 'auditors', approver: 'approvers' };

export type Router = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>;

/**
 * @example
 * const router = createRouter([route('GET', '/gatehouse/v1/whoami', 'signed-in', whoami)], resolveCaller, { log, devLogin: false });
 * await router(req, res, new URL(req.url, 'https://gatehouse'));
 */
export function createRouter(routes: readonly Route[], resolveCaller: CallerResolver, options: { log: Logger; devLogin: boolean }): Router {
  const { log } = options;
  // The sign-in page offers the dev-mode admin only when it exists.
  const unauthenticatedDetail = options.devLogin ? { devLogin: true } : {};
  const compiled: Compiled[] = routes.map((r) => {
    const names: string[] = [];
    const source = r.path
      .split('/')
      .map((segment) => {
        if (!segment.startsWith(':')) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        names.push(segment.slice(1));
        return '([^/]+)';
      })
      .join('/');
    return { route: r, pattern: new RegExp(`^${source}$`), names };
  });

  const run = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<Reply | undefined> => {
    let allowed: string[] = [];
    for (const { route: r, pattern, names } of compiled) {
      const match = pattern.exec(url.pathname);
      if (match === null) continue;
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      if (r.method !== method) {
        allowed.push(r.method);
        continue;
      }
      const params: Record<string, string> = {};
      names.forEach((name, i) => (params[name] = decodeSegment(match[i + 1] ?? '')));
      const base: PublicContext = { req, res, url, params };
      if (r.access === 'public') {
        checkCsrf(req);
        return r.handle(base);
      }
      const caller = await resolveCaller(req);
      if (caller === undefined) {
        throw new ConsoleError('unauthenticated', 'sign in first: send a bearer token the gateway accepts, or sign in at /gatehouse/v1/auth/login', {
          detail: unauthenticatedDetail,
        });
      }
      if (caller.cookie) checkCsrf(req);
      if (r.access !== 'signed-in' && !r.access.some((role) => caller.roles.has(role))) {
        const groups = r.access.map((role) => ROLE_NAMES[role]).join(' or ');
        throw new ConsoleError('forbidden', `${caller.subject} may not do this: it needs a member of the console's ${groups} (console.roles)`);
      }
      return r.handle({ ...base, caller });
    }
    allowed = [...new Set(allowed)];
    if (allowed.length > 0) throw new ConsoleError('method-not-allowed', `${req.method ?? ''} is not allowed here; use ${allowed.join(' or ')}`, { headers: { allow: allowed.join(', ') } });
    throw new ConsoleError('not-found', `no console API endpoint at ${url.pathname} (see docs/console-api.md)`);
  };

  return async (req, res, url) => {
    try {
      const answer = await run(req, res, url);
      if (answer !== undefined) sendJson(res, answer.status, answer.body, answer.headers);
    } catch (err) {
      const error = err instanceof ConsoleError ? err : new ConsoleError('internal', 'the console API failed on this request; the gateway log has the details');
      if (!(err instanceof ConsoleError) || error.status >= 500) log.error({ err, path: url.pathname }, 'console API request failed');
      if (res.headersSent) res.destroy();
      else sendError(res, error);
    }
  };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ConsoleError('bad-request', `the path segment ${JSON.stringify(segment)} is not valid percent-encoding`);
  }
}
