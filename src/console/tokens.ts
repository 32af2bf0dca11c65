/**
 * Machine tokens for admins: list (never secrets), create (the secret is in
 * that one answer), revoke. The token service does the work and its checks.
 *
 * @module
 */

import { z } from 'zod';
import { TokenServiceError } from '../identity/tokens.js';
import type { TokenService } from '../identity/tokens.js';
import { parseTtl } from '../identity/tokens-ttl.js';
import { ConsoleError } from './errors.js';
import type { ConsoleErrorCode } from './errors.js';
import { parseQuery, readJson } from './http.js';
import { reply, route } from './router.js';
import type { Route } from './router.js';

const SERVICE_ERRORS: Readonly<Record<TokenServiceError['code'], ConsoleErrorCode>> = { invalid: 'bad-request', 'name-taken': 'conflict', 'not-found': 'not-found' };

const createBody = z
  .object({
    name: z.string(),
    kind: z.enum(['agent', 'ci', 'human']),
    groups: z.array(z.string().min(1)).default([]),
    /** e.g. 30d, 12h; without it the token never expires. */
    ttl: z.string().optional(),
    /** Default: the admin creating it. */
    sponsor: z.string().min(1).optional(),
    description: z.string().optional(),
  })
  .strict();

const listQuery = z.object({ all: z.enum(['true', 'false']).default('false') }).strict();

const ADMINS = ['admin'] as const;

/** The service's refusals as console errors; anything else propagates. */
async function refusalsAsErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof TokenServiceError) throw new ConsoleError(SERVICE_ERRORS[err.code], err.message);
    if (err instanceof RangeError) throw new ConsoleError('bad-request', err.message);
    throw err;
  }
}

/**
 * @example
 * const routes = tokenRoutes(createTokenService(store));
 */
export function tokenRoutes(tokens: TokenService): Route[] {
  return [
    route('GET', '/gatehouse/v1/tokens', ADMINS, async ({ url }) => {
      const { all } = parseQuery(listQuery, url.searchParams);
      return reply(200, { items: await tokens.list({ includeRevoked: all === 'true' }) });
    }),
    route('POST', '/gatehouse/v1/tokens', ADMINS, async ({ req, caller }) => {
      const body = await readJson(req, createBody);
      const { token, record } = await refusalsAsErrors(() =>
        tokens.create({ ...body, ttlSeconds: body.ttl === undefined ? undefined : parseTtl(body.ttl), sponsor: body.sponsor ?? caller.subject }),
      );
      return reply(201, { token: record, secret: token });
    }),
    route('DELETE', '/gatehouse/v1/tokens/:id', ADMINS, async ({ params }) => {
      const { record, alreadyRevoked } = await refusalsAsErrors(() => tokens.revoke(params['id']!));
      return reply(200, { token: record, alreadyRevoked });
    }),
  ];
}
