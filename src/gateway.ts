import type { IncomingMessage, ServerResponse } from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { createClassifyStage } from './classify/stage.js';
import type { GatehouseConfig } from './config/schema.js';
import { openDataDir } from './config/data-dir.js';
import type { DataDirState } from './config/data-dir.js';
import { bootstrapTokenAuthenticator } from './identity/bootstrap-token.js';
import { createIdentityStage } from './identity/stage.js';
import { createImpersonationGuard } from './identity/impersonation.js';
import { createTokenService } from './identity/tokens.js';
import { createOidcAuthenticator } from './identity/oidc/index.js';
import { configuredStoreLocation, openStore } from './store/open.js';
import { auditWriterOptions, createAuditWriter, loadAuditSigner, trustedKeysFromPem } from './audit/index.js';
import { bearerAuthenticator, createConsoleHandler, resolveConsoleSettings } from './console/index.js';
import type { ConsoleHandler } from './console/index.js';
import { createMcpHandler } from './mcp/http.js';
import type { McpHandler } from './mcp/http.js';
import { createRecorder } from './record/recorder.js';
import { createMasker } from './masking/index.js';
import { openPolicy } from './policy/config.js';
import { createPolicyStage } from './policy/stage.js';
import { openShadowPolicy } from './policy/shadow.js';
import { createApprovals } from './approvals/service.js';
import { createApprovalStage } from './approvals/stage.js';
import { createBudgetStage } from './budgets/stage.js';
import { createApplications, createSelfSender } from './proposals/apply.js';
import { createProposals } from './proposals/service.js';
import { createProposalStage } from './proposals/stage.js';
import { createNotifier } from './approvals/notify.js';
import { configuredClusters } from './clusters/config.js';
import { createRouteStage } from './clusters/route.js';
import { createClusterSet } from './clusters/set.js';
import { createJoinTokens } from './tunnel/join-tokens.js';
import { createTunnelRegistry } from './tunnel/registry.js';
import { createTunnelUpstream } from './upstream/tunnel.js';
import type { ResolvedObjects } from './policy/stage.js';
import { createPipeline } from './pipeline/pipeline.js';
import type { RequestContext, Stage } from './pipeline/context.js';
import { forwardRequest } from './proxy/forward.js';
import { auditStoreCheck, createHealthHandler, pingCheck, policyCheck, shutdownCheck, upstreamCheck } from './proxy/health.js';
import { createLifecycle } from './proxy/drain.js';
import { metricsEnabled } from './metrics/config.js';
import { createMetrics } from './metrics/metrics.js';
import { observedRecorder, requestObserver } from './metrics/observe.js';
import { listenForMetrics, metricsRoute } from './metrics/serve.js';
import { accessLogger } from './log/access.js';
import { openTracing } from './tracing/index.js';
import { respondWithStatus, respondWithStatusOnSocket } from './proxy/respond.js';
import { forwardUpgrade } from './proxy/upgrade.js';

export interface Gateway {
  /** https://host:port the gateway listens on. */
  readonly url: string;
  readonly state: DataDirState;
  /** http://host:port of the metrics listener, when `metrics.listen` is set. */
  readonly metricsUrl: string | undefined;
  /** Reloads the policy now (SIGHUP); false when the new one is invalid and the last good one stays. */
  reload(): boolean;
  /** Graceful stop: readyz fails, in-flight requests finish (bounded by `shutdown`), streams end, the audit queue is flushed. */
  close(): Promise<void>;
}

/**
 * Builds and starts the gateway from validated config: opens the data
 * directory, resolves the upstream credential, composes the pipeline
 * (identity → classify → impersonation guard → policy → budget → propose → approval → upstream) and listens on HTTPS (HTTP/1.1 only, so
 * upgrades never meet HTTP/2).
 *
 * @example
 * const gw = await startGateway(parseConfig({ upstream: { kubeconfig: '~/.kube/config' } }), log);
 */
export async function startGateway(config: GatehouseConfig, log: Logger): Promise<Gateway> {
  const sans = [...config.tls.extraSans];
  if (config.listen.host !== '0.0.0.0' && config.listen.host !== '::') sans.push(config.listen.host);
  const state = await openDataDir({ dir: config.dataDir, certFile: config.tls.certFile, keyFile: config.tls.keyFile, sans });

  const lifecycle = createLifecycle();
  const shuttingDown = new AbortController();
  // The sources are read only when Prometheus scrapes, after everything below exists.
  const metrics = metricsEnabled(config.metrics)
    ? createMetrics({
        inFlight: () => lifecycle.inFlight(),
        upgradedSessions: () => lifecycle.upgradedSessions(),
        audit: () => writer.stats(),
        unrecordedReads: () => recorder.unrecordedReads(),
        pendingApprovals: () => approvals.list({ state: 'pending', limit: 1000 }),
        policyRules: () => policy.current().rules.length,
        draining: () => lifecycle.draining(),
        tunnels: () => agentClusters.map((cluster) => ({ cluster, agents: tunnels.agents(cluster).length, openStreams: tunnels.agents(cluster).reduce((n, a) => n + a.openStreams, 0) })),
      })
    : undefined;
  const policy = openPolicy(config.policy, { log, onReload: (trigger, ok) => metrics?.policyReload(trigger, ok) });
  const shadow = config.policy.shadow && openShadowPolicy(config.policy, config.policy.shadow, { log });
  const store = await openStore(configuredStoreLocation(config));
  const clusterList = configuredClusters(config);
  const agentClusters = clusterList.clusters.filter((c) => c.agent !== undefined).map((c) => c.name);
  const joinTokens = createJoinTokens(store.clusterAgentTokens);
  const tunnels = createTunnelRegistry({
    joinTokens,
    clusters: new Set(agentClusters),
    log,
    onConnect: (cluster, result) => metrics?.tunnelConnect(cluster, result),
  });
  const clusters = createClusterSet(clusterList.clusters, clusterList.defaultName, {
    agentUpstream: (c) => createTunnelUpstream(c.name, tunnels, { waitMs: (c.agent?.waitSeconds ?? 10) * 1000 }),
    impersonate: config.identity.impersonation.enabled,
  });
  const signer = loadAuditSigner(config.dataDir);
  const writer = createAuditWriter(
    store.audit,
    auditWriterOptions(config.audit, signer, (err) => {
      metrics?.storeError('audit');
      log.error({ err }, 'audit batch failed');
    }),
  );
  const recorder = createRecorder({ writer, maxBodyBytes: config.audit.maxBodyBytes, maxStreamBytes: config.audit.maxStreamBytes, awaitReads: config.audit.awaitReads, sessions: config.audit.sessions, whenStoreDown: config.audit.whenStoreDown, log });
  const tokens = createTokenService(store, {
    onBackgroundError: (err) => {
      metrics?.storeError('tokens');
      log.warn({ err }, 'recording token last-used time failed');
    },
  });
  const masker = createMasker(config.masking);
  const resolveObject = (ctx: RequestContext): Promise<ResolvedObjects> => clusters.of(ctx).resolveObject(ctx);
  // The console's address is known once the listener is up (the port may be picked by the OS).
  let consoleUrl = config.approvals.consoleUrl ?? '';
  const approvals = createApprovals({
    repo: store.approvals,
    config: config.approvals,
    consoleUrl: () => consoleUrl,
    notify: createNotifier(config.approvals.notify.webhooks, (id) => approvals.approvalUrl(id), log),
    log,
  });
  // Proposals are applied through the gateway itself (its URL is known once it listens), as the person applying.
  let selfTarget = { server: '', ca: state.tls.caPem };
  const applications = createApplications();
  const proposals = createProposals({
    repo: store.proposals,
    applications,
    send: createSelfSender(() => selfTarget),
    consoleUrl: () => consoleUrl,
    log,
  });
  const authenticators = [
    bootstrapTokenAuthenticator(state.bootstrapTokens),
    tokens.authenticator,
    ...(config.identity.oidc.length > 0 ? [createOidcAuthenticator(config.identity.oidc, { log })] : []),
  ];
  const stages: Stage[] = [
    // The one-time credentials of proposal applications are good for the Kubernetes paths only, not the console or MCP.
    createIdentityStage([applications.authenticator, ...authenticators]),
    createRouteStage({ defaultCluster: clusterList.defaultName, known: (name) => clusters.get(name) !== undefined, names: () => clusters.all().map((c) => c.name) }),
    createClassifyStage(config.limits),
    createImpersonationGuard(),
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
    ...(config.approvals.enabled ? [createApprovalStage({ approvals, holdMs: config.approvals.holdSeconds * 1000, resolveObject, masker, stopHolding: shuttingDown.signal })] : []),
  ];
  const observe = requestObserver(metrics, config.log.access ? accessLogger(log) : undefined);
  // Off: undefined, and nothing of OpenTelemetry is loaded.
  const tracing = await openTracing(config.tracing, log);
  const forwarding = { timeouts: config.timeouts, impersonate: config.identity.impersonation.enabled, masker };
  const pipeline = createPipeline(
    stages,
    {
      // The request id goes upstream as Audit-ID, which the API server adopts for its own audit log and echoes
      // back: one id leads from the client's response to the gateway's log and record and the cluster's audit log.
      forward: (ctx, res, completion) => {
        ctx.req.headers['audit-id'] = ctx.id;
        res.setHeader('audit-id', ctx.id);
        return forwardRequest(ctx, res, clusters.of(ctx).upstream, forwarding, completion);
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
    observedRecorder(recorder, metrics, observe),
    observe,
    tracing?.tracer,
  );
  const health = createHealthHandler({
    livez: [pingCheck],
    // Agent-mode clusters stay out of readyz: a gateway taken out of rotation could never be reached by the agent it waits for.
    readyz: [
      pingCheck,
      shutdownCheck(() => lifecycle.draining()),
      policyCheck(policy),
      auditStoreCheck(() => writer.stats()),
      ...clusters
        .all()
        .filter((c) => c.mode === 'direct')
        .map((c) => upstreamCheck(c.upstream, c.name === 'default' ? 'upstream' : `upstream:${c.name}`)),
    ],
  });
  const scrape = metrics && config.metrics.token ? metricsRoute(config.metrics.token, metrics.registry) : undefined;
  const ownRoute = scrape ? (req: IncomingMessage, res: ServerResponse) => health(req, res) || scrape(req, res) : health;

  const server = https.createServer({ cert: state.tls.cert, key: state.tls.key });
  // Watches, logs -f and exec sessions live for hours; only idle keep-alive sockets time out.
  server.requestTimeout = 0;
  server.timeout = 0;
  server.keepAliveTimeout = 65_000;
  // Built once the URL is known (the console's links and OIDC redirect use it); until then only Kubernetes paths exist.
  let consoleHandler: ConsoleHandler = () => false;
  let mcpHandler: McpHandler = () => false;
  server.on('request', (req, res) => {
    lifecycle.track(res);
    if (!ownRoute(req, res) && !consoleHandler(req, res) && !mcpHandler(req, res)) pipeline.handleRequest(req, res);
  });
  // Upgraded sockets leave the server's books; track them so close() ends exec sessions too.
  server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    if (tunnels.handleUpgrade(req, socket, head)) return;
    lifecycle.trackUpgrade(socket);
    pipeline.handleUpgrade(req, socket, head);
  });
  server.on('clientError', (err, socket) => {
    // Not the error itself: a parse error carries the raw bytes received (rawPacket), headers and tokens included.
    log.debug({ code: (err as NodeJS.ErrnoException).code, reason: err.message }, 'client connection error');
    socket.destroy();
  });

  // Before the main listener: a taken metrics port fails the start before anyone is served.
  const metricsListener = metrics && config.metrics.listen ? await listenForMetrics(config.metrics.listen, metrics.registry) : undefined;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `https://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`;
  // The console API and the MCP endpoint accept the same credentials as the Kubernetes paths.
  const authenticateRequest = bearerAuthenticator(authenticators);
  const consoleSettings = resolveConsoleSettings(config, url);
  consoleHandler = createConsoleHandler({
    settings: {
      ...consoleSettings,
      approverGroups: () => [
        ...config.approvals.approverGroups,
        ...[...policy.current().rules, ...policy.current().budgets].flatMap((r) => r.review?.approverGroups ?? []),
      ],
    },
    dataDir: config.dataDir,
    authenticate: authenticateRequest,
    approvals,
    proposals,
    audit: store.audit,
    auditKeys: trustedKeysFromPem(signer.publicKeyPem),
    policy,
    shadowPolicy: shadow !== undefined,
    tokens,
    clusters: {
      list: () =>
        clusters.all().map((c) => ({
          name: c.name,
          mode: c.mode,
          default: c === clusters.defaultCluster,
          where: c.upstream.where,
          agents: c.mode === 'agent' ? tunnels.agents(c.name) : [],
        })),
      joinTokens,
    },
    log,
  });
  consoleUrl ||= `${consoleSettings.publicUrl}/ui`;
  selfTarget = { server: url, ca: state.tls.caPem };
  mcpHandler = createMcpHandler({ gatewayUrl: url, caPem: state.tls.caPem, authenticate: authenticateRequest, log });
  log.info({ url, clusters: clusters.all().map((c) => `${c.name} (${c.upstream.where})`), defaultCluster: clusterList.defaultName, metrics: metricsListener?.url }, 'gateway listening');

  return {
    url,
    state,
    metricsUrl: metricsListener?.url,
    reload: () => policy.reload(),
    close: async () => {
      shuttingDown.abort();
      const drained = await lifecycle.drain(server, { delayMs: config.shutdown.delaySeconds * 1000, drainMs: config.shutdown.drainSeconds * 1000 });
      log.info(drained, 'stopped serving');
      tunnels.close();
      clusters.close();
      await metricsListener?.close();
      policy.close();
      shadow?.close();
      approvals.close();
      recorder.close();
      await tokens.flush();
      // Cut streams queue their last records as they close; let those land before the writer stops taking any.
      await writer.flush();
      await new Promise((resolve) => setImmediate(resolve));
      await writer.close();
      await store.close();
      await tracing?.shutdown().catch((err: unknown) => log.warn({ err }, 'exporting the last traces failed'));
    },
  };
}
