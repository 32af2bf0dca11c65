/**
 * The request path built from one config: clusters, authenticators, the
 * stages in order, the pipeline and the health checks. A config reload builds
 * a new one completely and swaps it in whole (src/gateway/slot.ts); what
 * outlives a reload (store, audit writer, approvals, tunnels) is passed in.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Approvals } from '../approvals/service.js';
import { createApprovalStage } from '../approvals/stage.js';
import type { AuditWriterStats } from '../audit/writer.js';
import { createBudgetStage } from '../budgets/stage.js';
import { createClassifyStage } from '../classify/stage.js';
import { configuredClusters } from '../clusters/config.js';
import { createRouteStage } from '../clusters/route.js';
import { createClusterSet } from '../clusters/set.js';
import type { ClusterSet } from '../clusters/set.js';
import type { GatehouseConfig } from '../config/schema.js';
import { createImpersonationGuard } from '../identity/impersonation.js';
import { createOidcAuthenticator } from '../identity/oidc/index.js';
import { createIdentityStage } from '../identity/stage.js';
import type { Authenticator } from '../identity/stage.js';
import { accessLogger } from '../log/access.js';
import { createMaskedWriteGuard, createMasker } from '../masking/index.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import { observedRecorder, requestObserver } from '../metrics/observe.js';
import type { RequestContext, Stage } from '../pipeline/context.js';
import { createPipeline } from '../pipeline/pipeline.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { createPolicyStage } from '../policy/stage.js';
import type { ResolvedObjects } from '../policy/stage.js';
import type { WatchedPolicy } from '../policy/watch.js';
import type { Applications } from '../proposals/apply.js';
import type { Proposals } from '../proposals/service.js';
import { createProposalStage } from '../proposals/stage.js';
import { forwardRequest } from '../proxy/forward.js';
import { auditStoreCheck, createHealthHandler, pingCheck, policyCheck, shutdownCheck, upstreamCheck } from '../proxy/health.js';
import { respondWithStatus, respondWithStatusOnSocket } from '../proxy/respond.js';
import { forwardUpgrade } from '../proxy/upgrade.js';
import type { Recorder } from '../record/recorder.js';
import type { Store } from '../store/types.js';
import { createSelfReviews } from '../reviews/answer.js';
import type { RequestTracer } from '../tracing/index.js';
import type { TunnelRegistry } from '../tunnel/registry.js';
import { createTunnelUpstream } from '../upstream/tunnel.js';

/** What outlives a config reload; every request path built uses the same. */
export interface LongLivedParts {
  readonly log: Logger;
  readonly metrics: GatewayMetrics | undefined;
  readonly tracer: RequestTracer | undefined;
  readonly store: Store;
  readonly recorder: Recorder;
  readonly tunnels: TunnelRegistry;
  /** The bootstrap credential and Gatehouse tokens; OIDC issuers come from the config. */
  readonly authenticators: readonly Authenticator[];
  readonly applications: Applications;
  readonly approvals: Approvals;
  readonly proposals: Proposals;
  /** Aborted on shutdown, so held approval requests stop waiting. */
  readonly stopHolding: AbortSignal;
  readonly draining: () => boolean;
  readonly auditStats: () => AuditWriterStats;
}

/** The loaded policy (and shadow policy) the request path judges by; a reload keeps them when `policy` did not change. */
export interface PolicyParts {
  readonly policy: WatchedPolicy;
  readonly shadow: WatchedPolicy | undefined;
}

/** One complete request path. */
export interface Handling extends PolicyParts {
  /** The config it was built from (restart-only settings as at start). */
  readonly config: GatehouseConfig;
  readonly clusters: ClusterSet;
  /** Every credential the Kubernetes paths, the console and MCP accept (not the one-time proposal credentials). */
  readonly authenticators: readonly Authenticator[];
  readonly pipeline: Pipeline;
  /** `/livez`, `/readyz`; true when it answered. */
  readonly health: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** Releases the upstream connections; called once no request uses this path any more. */
  close(): void;
}

/**
 * Builds the request path for `config`: identity → route → classify →
 * impersonation guard → policy → budget → propose → approval → upstream
 * (or the gateway's own answer to a self review),
 * plus the readiness checks of its clusters. Throws when a part cannot be
 * built (e.g. an unreadable cluster kubeconfig), before anything is in use.
 *
 * @example
 * const handling = buildHandling(config, parts, { policy: openPolicy(config.policy, { log }), shadow: undefined });
 * server.on('request', (req, res) => handling.health(req, res) || handling.pipeline.handleRequest(req, res));
 */
export function buildHandling(config: GatehouseConfig, parts: LongLivedParts, loaded: PolicyParts): Handling {
  const { log, metrics, store, tunnels, applications, approvals, proposals } = parts;
  const { policy, shadow } = loaded;
  const clusterList = configuredClusters(config);
  const clusters = createClusterSet(clusterList.clusters, clusterList.defaultName, {
    agentUpstream: (c) => createTunnelUpstream(c.name, tunnels, { waitMs: (c.agent?.waitSeconds ?? 10) * 1000 }),
    impersonate: config.identity.impersonation.enabled,
    connectMs: config.timeouts.connectMs,
    shareWatches: config.watches.share,
  });
  const authenticators = [...parts.authenticators, ...(config.identity.oidc.length > 0 ? [createOidcAuthenticator(config.identity.oidc, { log })] : [])];
  const masker = createMasker(config.masking);
  const resolveObject = (ctx: RequestContext): Promise<ResolvedObjects> => clusters.of(ctx).resolveObject(ctx);
  const stages: Stage[] = [
    // The one-time credentials of proposal applications are good for the Kubernetes paths only, not the console or MCP.
    createIdentityStage([applications.authenticator, ...authenticators]),
    createRouteStage({ defaultCluster: clusterList.defaultName, known: (name) => clusters.get(name) !== undefined, names: () => clusters.all().map((c) => c.name) }),
    createClassifyStage(config.limits),
    createImpersonationGuard(),
    createMaskedWriteGuard(),
    createPolicyStage({
      policy,
      namespaceLabels: (namespace, ctx) => clusters.of(ctx).namespaceLabels(namespace),
      boundRole: (ref, ctx) => clusters.of(ctx).boundRole(ref),
      resolveObject,
      masking: true,
      approvals: config.approvals.enabled,
      proposals: true,
      shadow,
    }),
    createBudgetStage({
      policy,
      repo: store.budgets,
      resolveObject,
      namespaceLabels: (namespace, ctx) => clusters.of(ctx).namespaceLabels(namespace),
      approvals: config.approvals.enabled,
      onPruneError: (err) => log.warn({ err }, 'pruning expired budget counts failed'),
    }),
    createProposalStage({
      proposals,
      applications,
      resolveObject,
      masker,
      defaults: { approverGroups: config.approvals.approverGroups, sponsorMayApprove: config.approvals.sponsorMayApprove },
    }),
    ...(config.approvals.enabled ? [createApprovalStage({ approvals, holdMs: config.approvals.holdSeconds * 1000, resolveObject, masker, stopHolding: parts.stopHolding })] : []),
  ];
  const observe = requestObserver(metrics, config.log.access ? accessLogger(log) : undefined);
  const forwarding = { timeouts: config.timeouts, impersonate: config.identity.impersonation.enabled, masker };
  // `kubectl auth whoami` and `can-i` are answered for the caller, not for the gateway's credential.
  const selfReviews = createSelfReviews({
    policy,
    namespaceLabels: (namespace, ctx) => clusters.of(ctx).namespaceLabels(namespace),
    impersonate: config.identity.impersonation.enabled,
  });
  const pipeline = createPipeline(
    stages,
    {
      // The request id goes upstream as Audit-ID, which the API server adopts for its own audit log and echoes
      // back: one id leads from the client's response to the gateway's log and record and the cluster's audit log.
      forward: (ctx, res, completion) => {
        ctx.req.headers['audit-id'] = ctx.id;
        res.setHeader('audit-id', ctx.id);
        return selfReviews(ctx, res, completion, () => forwardRequest(ctx, res, clusters.of(ctx).upstream, forwarding, completion));
      },
      forwardUpgrade: (ctx, socket, head, completion) => {
        ctx.req.headers['audit-id'] = ctx.id;
        return forwardUpgrade(ctx, socket, head, clusters.of(ctx).upstream, forwarding, completion);
      },
    },
    {
      refuse: (ctx, res, error) => respondWithStatus(res, error, ctx.id),
      refuseUpgrade: (ctx, socket, error) => respondWithStatusOnSocket(socket, error, ctx.id),
    },
    log,
    observedRecorder(parts.recorder, metrics, observe),
    observe,
    parts.tracer,
  );
  const health = createHealthHandler({
    livez: [pingCheck],
    // Agent-mode clusters stay out of readyz: a gateway taken out of rotation could never be reached by the agent it waits for.
    readyz: [
      pingCheck,
      shutdownCheck(parts.draining),
      policyCheck(policy),
      auditStoreCheck(parts.auditStats),
      ...clusters
        .all()
        .filter((c) => c.mode === 'direct')
        .map((c) => upstreamCheck(c.upstream, c.name === 'default' ? 'upstream' : `upstream:${c.name}`)),
    ],
  });
  return { config, policy, shadow, clusters, authenticators, pipeline, health, close: () => clusters.close() };
}
