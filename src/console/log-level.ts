/**
 * The gateway's log level, read and changed at runtime by admins
 * (`gatehouse log-level`), e.g. debug for a few minutes while chasing a
 * problem, without a restart.
 *
 * @module
 */

import type { Logger } from 'pino';
import { z } from 'zod';
import { LOG_LEVELS, setLogLevel } from '../log/level.js';
import { readJson } from './http.js';
import { reply, route } from './router.js';
import type { Route } from './router.js';

const ADMINS = ['admin'] as const;

const putBody = z.object({ level: z.enum(LOG_LEVELS) }).strict();

/**
 * @example
 * const routes = logLevelRoutes(log);
 * // PUT /gatehouse/v1/log-level {"level":"debug"} → {"level":"debug","previous":"info"}
 */
export function logLevelRoutes(log: Logger): Route[] {
  return [
    route('GET', '/gatehouse/v1/log-level', ADMINS, () => reply(200, { level: log.level })),
    route('PUT', '/gatehouse/v1/log-level', ADMINS, async ({ req, caller }) => {
      const { level } = await readJson(req, putBody);
      return reply(200, setLogLevel(log, level, caller.subject));
    }),
  ];
}
