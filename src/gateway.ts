import type { IncomingMessage, ServerResponse } from 'node:http';
import * as http2 from 'node:http2';
import type { ServerHttp2Session } from 'node:http2';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { GatehouseConfig } from './config/schema.js';
import { loadServingTls, openDataDir } from './config/data-dir.js';
import type { DataDirState } from './config/data-dir.js';
import type { ConfigReloadTrigger, ReloadResult } from './config/reload.js';
import { bootstrapTokenAuthenticator } from './identity/bootstrap-token.js';
import { authenticateToken } from './identity/stage.js';
import { createTokenService } from './identity/tokens.js';
import { configuredStoreLocation, openStore } from './store/open.js';
import { auditWriterOptions, createAuditWriter, loadAuditSigner, trustedKeysFromPem } from './audit/index.js';
import { bearerAuthenticator, createConsoleHandler, resolveConsoleSettings } from './console/index.js';
import type { ConsoleHandler } from './console/index.js';
import { createMcpHandler } from './mcp/http.js';
import type { McpHandler } from './mcp/http.js';
import { createRecorder } from './record/recorder.js';
import { openPolicy } from './policy/config.js';
import type { PolicyHandle } from './policy/model.js';
import { openShadowPolicy } from './policy/shadow.js';
import { createApprovals } from './approvals/service.js';
import { createApplications, createSelfSender } from './proposals/apply.js';
import { createProposals } from './proposals/service.js';
import { createNotifier } from './approvals/notify.js';
import { configuredClusters } from './clusters/config.js';
import { createJoinTokens } from './tunnel/join-tokens.js';
import { createTunnelRegistry } from './tunnel/registry.js';
import { createLifecycle } from './proxy/drain.js';
import { metricsEnabled } from './metrics/config.js';
import { createMetrics } from './metrics/metrics.js';
import { listenForMetrics, metricsRoute } from './metrics/serve.js';
import { openTracing } from './tracing/index.js';
import { buildHandling } from './gateway/handling.js';
import type { Handling, LongLivedParts, PolicyParts } from './gateway/handling.js';
import { createReloader } from './gateway/reload.js';
import { notAfter, refreshServingTls } from './gateway/serving-tls.js';
import { createSlot } from './gateway/slot.js';

export interface Gateway {
  /** https://host:port the gateway listens on. */
  readonly url: string;
  readonly state: DataDirState;
  /** http://host:port of the metrics listener, when `metrics.listen` is set. */
  readonly metricsUrl: string | undefined;
  /**
   * Reloads the configuration (and, for a SIGHUP, the policy files) now: the
   * new request path is built whole and swapped in, or the reload is rejected
   * and the previous configuration stays in force (docs/operations.md).
   */
  reload(trigger?: ConfigReloadTrigger): ReloadResult;
  /** Graceful stop: readyz fails, in-flight requests finish (bounded by `shutdown`), streams end, the audit queue is flushed. */
  close(): Promise<void>;
}

export interface GatewayOptions {
  /**
   * Reads and validates the configuration again on reload (the config file
   * with the command-line flags over it); throws with file, path and reason.
   * Without it a reload re-applies the start-up config, i.e. reloads only the policy files.
   */
  readonly reloadConfig?: () => GatehouseConfig;
  /** The file `reloadConfig` reads, shown on the console's gateway page. */
  readonly configFile?: string;
}

/**
 * Builds and starts the gateway from validated config: opens the data
 * directory and the store, starts what lives as long as the process (audit
 * writer, approvals, tunnels, metrics, tracing), builds the request path from
 * the config (src/gateway/handling.ts) and listens on HTTPS: HTTP/2 and
 * HTTP/1.1 by ALPN (`listen.http2`), upgrades on HTTP/1.1 as clients ask for
 * them. A reload swaps the request path whole.
 *
 * @example
 * const gw = await startGateway(parseConfig({ upstream: { kubeconfig: '~/.kube/config' } }), log);
 */
export async function startGateway(config: GatehouseConfig, log: Logger, options: GatewayOptions = {}): Promise<Gateway> {
  const startedAt = new Date().toISOString();
  const sans = [...config.tls.extraSans];
  if (config.listen.host !== '0.0.0.0' && config.listen.host !== '::') sans.push(config.listen.host);
  const tlsSource = { dir: config.dataDir, certFile: config.tls.certFile, keyFile: config.tls.keyFile, sans };
  const state = await openDataDir(tlsSource);

  const lifecycle = createLifecycle();
  const shuttingDown = new AbortController();
  // Agent-mode clusters are fixed at start: the tunnel registry accepts agents for these names (src/config/reload.ts).
  const agentClusters = configuredClusters(config)
    .clusters.filter((c) => c.agent !== undefined)
    .map((c) => c.name);
  // The sources are read only when Prometheus scrapes, after everything below exists.
  const metrics = metricsEnabled(config.metrics)
    ? createMetrics({
        inFlight: () => lifecycle.inFlight(),
        upgradedSessions: () => lifecycle.upgradedSessions(),
        audit: () => writer.stats(),
        unrecordedReads: () => recorder.unrecordedReads(),
        pendingApprovals: () => approvals.list({ state: 'pending', limit: 1000 }),
        policyRules: () => slot.current().policy.current().rules.length,
        draining: () => lifecycle.draining(),
        tunnels: () =>
          agentClusters.map((cluster) => {
            const agents = tunnels.agents(cluster);
            return { cluster, agents: agents.length, openStreams: agents.reduce((n, a) => n + a.openStreams, 0) };
          }),
        upstreamHttp2: () => slot.current().clusters.all().map((c) => ({ cluster: c.name, ...c.upstream.http2Stats() })),
        sharedWatches: () => slot.current().clusters.all().map((c) => ({ cluster: c.name, ...c.upstream.sharedWatches() })),
        servingCertificateNotAfter: () => notAfter(state.tls.cert),
      })
    : undefined;
  const loadPolicy = (c: GatehouseConfig): PolicyParts => {
    const policy = openPolicy(c.policy, { log, onReload: (trigger, ok) => metrics?.policyReload(trigger, ok) });
    try {
      return { policy, shadow: c.policy.shadow && openShadowPolicy(c.policy, c.policy.shadow, { log }) };
    } catch (err) {
      policy.close();
      throw err;
    }
  };
  const startPolicy = loadPolicy(config);
  const store = await openStore(configuredStoreLocation(config));
  const joinTokens = createJoinTokens(store.clusterAgentTokens);
  const tunnels = createTunnelRegistry({
    joinTokens,
    clusters: new Set(agentClusters),
    log,
    onConnect: (cluster, result) => metrics?.tunnelConnect(cluster, result),
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
  // Off: undefined, and nothing of OpenTelemetry is loaded.
  const tracing = await openTracing(config.tracing, log);
  const tracer = tracing?.tracer;
  const parts: LongLivedParts = {
    log,
    metrics,
    tracer,
    store,
    recorder,
    tunnels,
    authenticators: [bootstrapTokenAuthenticator(state.bootstrapTokens), tokens.authenticator],
    applications,
    approvals,
    proposals,
    stopHolding: shuttingDown.signal,
    draining: () => lifecycle.draining(),
    auditStats: () => writer.stats(),
  };
  const slot = createSlot<Handling>(buildHandling(config, parts, startPolicy));
  const reload = createReloader({
    slot,
    load: options.reloadConfig ?? (() => config),
    openPolicy: loadPolicy,
    build: (c, loaded) => buildHandling(c, parts, loaded),
    log,
    metrics,
  });
  const scrape = metrics && config.metrics.token ? metricsRoute(config.metrics.token, metrics.registry) : undefined;
  const ownRoute = (req: IncomingMessage, res: ServerResponse): boolean => slot.current().health(req, res) || (scrape?.(req, res) ?? false);

  const server = listenerFor(config, state);
  // Built once the URL is known (the console's links and OIDC redirect use it); until then only Kubernetes paths exist.
  let consoleHandler: ConsoleHandler = () => false;
  let mcpHandler: McpHandler = () => false;
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    lifecycle.track(res);
    // Taken before the handlers run; the span is opened only for the one that answers (the pipeline traces its own).
    const startTime = tracer ? Date.now() : 0;
    const endpoint = ownRoute(req, res) ? 'health' : consoleHandler(req, res) ? 'console' : mcpHandler(req, res) ? 'mcp' : undefined;
    if (endpoint !== undefined) {
      tracer?.answered(req, res, endpoint, startTime);
      return;
    }
    // The request keeps the request path it started on to its end, even if a reload swaps in another meanwhile.
    const { value, release } = slot.acquire();
    res.once('close', release);
    value.pipeline.handleRequest(req, res);
  });
  server.on('session', (session: ServerHttp2Session) => lifecycle.trackSession(session));
  // Upgraded sockets leave the server's books; track them so close() ends exec sessions too.
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (tunnels.handleUpgrade(req, socket, head)) return;
    lifecycle.trackUpgrade(socket);
    const { value, release } = slot.acquire();
    socket.once('close', release);
    value.pipeline.handleUpgrade(req, socket, head);
  });
  server.on('clientError', (err: Error, socket: Duplex) => {
    // Not the error itself: a parse error carries the raw bytes received (rawPacket), headers and tokens included.
    log.debug({ code: (err as NodeJS.ErrnoException).code, reason: err.message }, 'client connection error');
    socket.destroy();
  });
  // A broken HTTP/2 connection (bad frames, flood protection, a reset socket): Node has already closed it.
  server.on('sessionError', (err: Error) => log.debug({ code: (err as NodeJS.ErrnoException).code, reason: err.message }, 'client HTTP/2 connection error'));

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
  // The console API and the MCP endpoint accept the same credentials as the Kubernetes paths, as configured now.
  const authenticateRequest = bearerAuthenticator([(token) => authenticateToken(slot.current().authenticators, token)]);
  // The console reads whichever policy is in force, also after a reload replaced the handle.
  const policyInForce: PolicyHandle = { current: () => slot.current().policy.current(), close: () => undefined };
  const consoleSettings = resolveConsoleSettings(config, url);
  consoleHandler = createConsoleHandler({
    settings: {
      ...consoleSettings,
      approverGroups: () => [
        ...config.approvals.approverGroups,
        ...[...policyInForce.current().rules, ...policyInForce.current().budgets].flatMap((r) => r.review?.approverGroups ?? []),
      ],
    },
    dataDir: config.dataDir,
    authenticate: authenticateRequest,
    approvals,
    proposals,
    audit: store.audit,
    auditKeys: trustedKeysFromPem(signer.publicKeyPem),
    policy: policyInForce,
    gateway: { startedAt, configFile: options.configFile, reloads: () => reload.status() },
    boundRole: (ref) => slot.current().clusters.defaultCluster.boundRole(ref),
    shadowPolicy: startPolicy.shadow !== undefined,
    tokens,
    clusters: {
      list: () => {
        const { clusters } = slot.current();
        return clusters.all().map((c) => ({
          name: c.name,
          mode: c.mode,
          default: c === clusters.defaultCluster,
          where: c.upstream.where,
          agents: c.mode === 'agent' ? tunnels.agents(c.name) : [],
        }));
      },
      joinTokens,
    },
    log,
  });
  consoleUrl ||= `${consoleSettings.publicUrl}/ui`;
  // What calls the gateway itself trusts: the CA of the certificate it serves, also once a new one replaced it.
  const trustServed = (caPem: string): void => {
    selfTarget = { server: url, ca: caPem };
    mcpHandler = createMcpHandler({ gatewayUrl: url, caPem, authenticate: authenticateRequest, log });
  };
  trustServed(state.tls.caPem);
  const servingTls = refreshServingTls({
    load: () => loadServingTls(tlsSource, { makeCa: false }),
    current: state.tls,
    apply: (tls) => {
      server.setSecureContext({ cert: tls.cert, key: tls.key });
      state.tls = tls;
      trustServed(tls.caPem);
    },
    log,
  });
  const { clusters } = slot.current();
  log.info({ url, clusters: clusters.all().map((c) => `${c.name} (${c.upstream.where})`), defaultCluster: clusters.defaultCluster.name, metrics: metricsListener?.url }, 'gateway listening');

  return {
    url,
    state,
    metricsUrl: metricsListener?.url,
    reload: (trigger = 'signal') => {
      // The certificate files are checked every minute anyway; a SIGHUP or config edit checks them now.
      void servingTls.check();
      return reload(trigger);
    },
    close: async () => {
      shuttingDown.abort();
      servingTls.close();
      // The drain timings in force, which a reload may have changed.
      const { shutdown } = slot.current().config;
      const drained = await lifecycle.drain(server, { delayMs: shutdown.delaySeconds * 1000, drainMs: shutdown.drainSeconds * 1000 });
      log.info(drained, 'stopped serving');
      tunnels.close();
      const { policy, shadow } = slot.current();
      slot.close();
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

/**
 * The main listener. With `listen.http2` (the default) clients choose HTTP/2
 * or HTTP/1.1 by ALPN, as with kube-apiserver: client-go multiplexes its
 * requests and watches on one connection, and asks for HTTP/1.1 where it
 * upgrades (exec, attach, port-forward), which arrives as `upgrade` as before.
 * Node's HTTP/2 compatibility objects stand in for IncomingMessage and
 * ServerResponse in the handlers (src/pipeline/http2-compat.ts lists what differs).
 */
function listenerFor(config: GatehouseConfig, state: DataDirState): https.Server | DualServer {
  const tls = { cert: state.tls.cert, key: state.tls.key };
  const idleMs = config.listen.idleTimeoutSeconds * 1000;
  if (!config.listen.http2) {
    const server = https.createServer(tls);
    http1Timeouts(server, idleMs);
    return server;
  }
  // noDelay: https.Server turns Nagle's algorithm off by default, Node's HTTP/2 server does not. With it on, an
  // answer written in pieces (a LIST relayed as it comes) waits for the client's delayed ACK, 40 ms on Linux.
  const server = http2.createSecureServer({ ...tls, noDelay: true, allowHTTP1: true, settings: { maxConcurrentStreams: HTTP2_MAX_STREAMS } }) as DualServer;
  http1Timeouts(server, idleMs);
  server.on('session', (session) => closeWhenIdle(session, idleMs));
  return server;
}

/** @types/node leaves out what Node's HTTP/2 server shares with https.Server when it serves HTTP/1.1 too. */
type DualServer = http2.Http2SecureServer & Http1Timeouts & { closeIdleConnections(): void };

interface Http1Timeouts {
  requestTimeout: number;
  timeout: number;
  keepAliveTimeout: number;
}

// As many concurrent streams per connection as Go's HTTP/2 server grants (client-go opens another connection beyond).
const HTTP2_MAX_STREAMS = 250;

// Watches, logs -f and exec sessions live for hours; only idle keep-alive sockets time out.
function http1Timeouts(server: Http1Timeouts, idleMs: number): void {
  server.requestTimeout = 0;
  server.timeout = 0;
  server.keepAliveTimeout = idleMs;
}

/**
 * Closes (GOAWAY, then the socket) an HTTP/2 connection that has had no
 * stream open for `idleMs`, as Go's server does with its IdleTimeout: Node's
 * server would otherwise keep an unused connection, and what it holds, for
 * ever. Idleness is counted in streams, not bytes: a watch that sees no
 * event for an hour still keeps its connection.
 */
function closeWhenIdle(session: ServerHttp2Session, idleMs: number): void {
  let open = 0;
  // One timer for the connection's life, restarted when its last stream closes; firing while streams are open, it does nothing.
  const timer = setTimeout(() => {
    if (open === 0) session.close();
  }, idleMs).unref();
  const streamClosed = (): void => {
    open -= 1;
    if (open === 0) timer.refresh();
  };
  session.on('stream', (stream) => {
    open += 1;
    // `on`, not `once`: a stream closes once, and `once` would wrap the listener anew for every request.
    stream.on('close', streamClosed);
  });
  session.once('close', () => clearTimeout(timer));
}
