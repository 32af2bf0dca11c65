/**
 * The gateway itself as admins and auditors see it in the console: since
 * when it runs, its log level, and how the last configuration reload went
 * (applied with what changed, or rejected and why) with the settings that
 * still wait for a restart.
 *
 * @module
 */

import type { Logger } from 'pino';
import type { ReloadStatus } from '../gateway/reload.js';
import { reply, route } from './router.js';
import type { Route } from './router.js';

const READERS = ['admin', 'auditor'] as const;

export interface GatewayStatusSource {
  readonly startedAt: string;
  /** The file a reload reads; undefined when the gateway runs from command-line flags alone. */
  readonly configFile: string | undefined;
  reloads(): ReloadStatus;
}

/**
 * @example
 * const routes = gatewayStatusRoutes({ startedAt, configFile: '/etc/gatehouse/gatehouse.yaml', reloads: () => reload.status() }, log);
 * // GET /gatehouse/v1/gateway → {"startedAt":"…","configFile":"…","logLevel":"info","lastReload":{"ok":false,"reason":"…",…},"restartPending":[]}
 */
export function gatewayStatusRoutes(source: GatewayStatusSource, log: Logger): Route[] {
  return [
    route('GET', '/gatehouse/v1/gateway', READERS, () => {
      const { last, restartPending } = source.reloads();
      return reply(200, { startedAt: source.startedAt, configFile: source.configFile ?? null, logLevel: log.level, lastReload: last ?? null, restartPending });
    }),
  ];
}
