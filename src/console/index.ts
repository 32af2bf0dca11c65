/**
 * The web console's server side: the JSON API under `/gatehouse/v1/`
 * (docs/console-api.md), its server-sent events, and the built single-page
 * app under `/ui/`. The gateway calls the handler before the Kubernetes
 * pipeline; it answers only the paths it owns.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ApprovalService } from '../approvals/types.js';
import type { TrustedKeys } from '../audit/checkpoint.js';
import type { AuditRepo } from '../audit/store.js';
import type { TokenService } from '../identity/tokens.js';
import type { RoleLookup } from '../policy/explain.js';
import type { PolicyHandle } from '../policy/model.js';
import { approvalRoutes } from './approvals.js';
import { auditRoutes } from './audit.js';
import { backtestRoutes } from './backtest.js';
import { createCallerResolver } from './auth.js';
import type { RequestAuthenticator } from './auth.js';
import { ConsoleError } from './errors.js';
import { eventRoute } from './events.js';
import { logLevelRoutes } from './log-level.js';
import { gatewayStatusRoutes } from './gateway-status.js';
import type { GatewayStatusSource } from './gateway-status.js';
import { sendError } from './http.js';
import { policyRoutes } from './policy.js';
import { proposalRoutes } from './proposals.js';
import type { Proposals } from '../proposals/service.js';
import { reasonRoutes } from './reasons.js';
import { createRouter } from './router.js';
import { sessionRoutes } from './sessions.js';
import { streamRoute } from './streams.js';
import { createSessionCodec, loadSessionKey } from './session.js';
import { signInRoutes } from './signin.js';
import { createStaticHandler, DEFAULT_WEB_ROOT } from './static.js';
import { tokenRoutes } from './tokens.js';
import { clusterRoutes } from './clusters.js';
import type { ClusterSource } from './clusters.js';
import type { ConsoleSettings } from './settings.js';

export { bearerAuthenticator, type RequestAuthenticator } from './auth.js';
export { consoleConfigSchema, type ConsoleConfig } from './config.js';
export { resolveConsoleSettings, type ConsoleSettings } from './settings.js';

export interface ConsoleDeps {
  /** `resolveConsoleSettings(config, gatewayUrl)`. */
  settings: ConsoleSettings;
  /** The gateway's data directory: the session signing key lives there. */
  dataDir: string;
  /** Checks `Authorization: Bearer` with the gateway's authenticators (see {@link bearerAuthenticator}). */
  authenticate: RequestAuthenticator;
  approvals: ApprovalService;
  /** Proposals of propose-only mode; without it the proposal endpoints do not exist. */
  proposals?: Proposals | undefined;
  audit: AuditRepo;
  /** The public key(s) the audit checkpoints are checked with. */
  auditKeys: TrustedKeys;
  policy: PolicyHandle;
  /** Start time, config file and reload status for the gateway page; without it GET /gatehouse/v1/gateway does not exist. */
  gateway?: GatewayStatusSource | undefined;
  /** The role a binding refers to, from the default cluster, for policy explain's `boundRole` (as the policy stage looks it up). */
  boundRole?: RoleLookup | undefined;
  /** Whether a shadow policy is recorded beside the enforced one (`policy.shadow`). */
  shadowPolicy?: boolean;
  tokens: TokenService;
  /** The clusters served and their agents; join tokens for agents. */
  clusters: ClusterSource;
  log: Logger;
  /** The built web app; default `dist/web` of this package. */
  webRoot?: string;
  /** Between SSE keepalive comments; default 15 000. */
  keepaliveMs?: number;
}

/** Answers a request it owns and returns true; returns false, untouched, for any other path. */
export type ConsoleHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

const API_PREFIX = '/gatehouse/v1';
const UI_PREFIX = '/ui';

const under = (path: string, prefix: string): boolean => path === prefix || path.startsWith(`${prefix}/`);

/**
 * @example
 * const consoleHandler = createConsoleHandler({
 *   settings: resolveConsoleSettings(config, url), dataDir: config.dataDir,
 *   authenticate: bearerAuthenticator(authenticators), approvals, audit: store.audit,
 *   auditKeys: trustedKeysFromPem(signer.publicKeyPem), policy, tokens, log,
 * });
 * server.on('request', (req, res) => {
 *   if (!health(req, res) && !consoleHandler(req, res)) pipeline.handleRequest(req, res);
 * });
 */
export function createConsoleHandler(deps: ConsoleDeps): ConsoleHandler {
  const { settings, log } = deps;
  const codec = createSessionCodec(loadSessionKey(deps.dataDir));
  if (settings.devLogin) log.warn('console.devLogin is on: anyone who reaches the gateway can sign in to the console as an admin. Development only.');
  const router = createRouter(
    [
      ...signInRoutes(settings, codec, deps.authenticate, log),
      ...approvalRoutes(deps.approvals),
      ...reasonRoutes(deps.approvals),
      ...(deps.proposals ? proposalRoutes(deps.proposals, deps.authenticate) : []),
      eventRoute(deps.approvals, { keepaliveMs: deps.keepaliveMs }),
      ...auditRoutes(deps.audit, deps.auditKeys),
      ...sessionRoutes(deps.audit),
      streamRoute(deps.audit),
      ...policyRoutes(deps.policy, { boundRole: deps.boundRole }),
      ...backtestRoutes(deps.audit, { shadow: deps.shadowPolicy ?? false }),
      ...tokenRoutes(deps.tokens),
      ...clusterRoutes(deps.clusters),
      ...logLevelRoutes(log),
      ...(deps.gateway ? gatewayStatusRoutes(deps.gateway, log) : []),
    ],
    createCallerResolver(deps.authenticate, codec, settings),
    { log, devLogin: settings.devLogin },
  );
  const serveUi = createStaticHandler(deps.webRoot ?? DEFAULT_WEB_ROOT);

  return (req, res) => {
    const raw = (req.url ?? '').split('?', 1)[0] ?? '';
    const api = under(raw, API_PREFIX);
    if (!api && !under(raw, UI_PREFIX)) return false;
    const url = new URL(req.url ?? '/', settings.publicUrl);
    // Dot segments would make the path mean something else once normalised: refuse rather than guess.
    if (url.pathname !== raw) {
      sendError(res, new ConsoleError('bad-request', 'the request path is not in normal form (no "." or ".." segments)'));
      return true;
    }
    const done = api ? router(req, res, url) : serveUi(req, res, url);
    done.catch((err: unknown) => {
      log.error({ err, path: raw }, 'console request failed');
      res.destroy();
    });
    return true;
  };
}
