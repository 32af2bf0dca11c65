import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
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
import { openStore } from './store/open.js';
import { auditWriterOptions, createAuditWriter, loadAuditSigner, trustedKeysFromPem } from './audit/index.js';
import { bearerAuthenticator, createConsoleHandler, resolveConsoleSettings } from './console/index.js';
import type { ConsoleHandler } from './console/index.js';
import { createRecorder } from './record/recorder.js';
import { createMasker } from './masking/index.js';
import { openPolicy } from './policy/config.js';
import { createPolicyStage } from './policy/stage.js';
import { createApprovals } from './approvals/service.js';
import { createApprovalStage } from './approvals/stage.js';
import { createNotifier } from './approvals/notify.js';
import { createDryRunResolver } from './upstream/dry-run.js';
import { createNamespaceLabels } from './upstream/namespace-labels.js';
import { createPipeline } from './pipeline/pipeline.js';
import type { Stage } from './pipeline/context.js';
import { forwardRequest } from './proxy/forward.js';
import { createHealthHandler } from './proxy/health.js';
import { respondWithStatus, respondWithStatusOnSocket } from './proxy/respond.js';
import { forwardUpgrade } from './proxy/upgrade.js';
import { createUpstream } from './upstream/client.js';
import { loadKubeconfig } from './upstream/kubeconfig.js';

export interface Gateway {
  /** https://host:port the gateway listens on. */
  readonly url: string;
  readonly state: DataDirState;
  close(): Promise<void>;
}

/**
 * Builds and starts the gateway from validated config: opens the data
 * directory, resolves the upstream credential, composes the pipeline
 * (identity → classify → impersonation guard → policy → upstream) and listens on HTTPS (HTTP/1.1 only, so
 * upgrades never meet HTTP/2).
 *
 * @example
 * const gw = await startGateway(parseConfig({ upstream: { kubeconfig: '~/.kube/config' } }), log);
 */
export async function startGateway(config: GatehouseConfig, log: Logger): Promise<Gateway> {
  const target = loadKubeconfig(config.upstream.kubeconfig, config.upstream.context);
  const upstream = createUpstream(target);
  const sans = [...config.tls.extraSans];
  if (config.listen.host !== '0.0.0.0' && config.listen.host !== '::') sans.push(config.listen.host);
  const state = await openDataDir({ dir: config.dataDir, certFile: config.tls.certFile, keyFile: config.tls.keyFile, sans });

  const policy = openPolicy(config.policy, { log });
  const store = await openStore(
    config.store.postgres
      ? { postgres: config.store.postgres.url, options: config.store.postgres }
      : { sqlite: resolve(config.dataDir, config.store.sqlite.path) },
  );
  const signer = loadAuditSigner(config.dataDir);
  const writer = createAuditWriter(
    store.audit,
    auditWriterOptions(config.audit, signer, (err) => log.error({ err }, 'audit batch failed')),
  );
  const recorder = createRecorder({ writer, maxBodyBytes: config.audit.maxBodyBytes, maxStreamBytes: config.audit.maxStreamBytes, awaitReads: config.audit.awaitReads, sessions: config.audit.sessions, log });
  const tokens = createTokenService(store, { onBackgroundError: (err) => log.warn({ err }, 'recording token last-used time failed') });
  const masker = createMasker(config.masking);
  const resolveObject = createDryRunResolver(upstream, { timeoutMs: 10_000 });
  // The console's address is known once the listener is up (the port may be picked by the OS).
  let consoleUrl = config.approvals.consoleUrl ?? '';
  const approvals = createApprovals({
    repo: store.approvals,
    config: config.approvals,
    consoleUrl: () => consoleUrl,
    notify: createNotifier(config.approvals.notify.webhooks, (id) => approvals.approvalUrl(id), log),
    log,
  });
  const authenticators = [
    bootstrapTokenAuthenticator(state.bootstrapTokens),
    tokens.authenticator,
    ...(config.identity.oidc.length > 0 ? [createOidcAuthenticator(config.identity.oidc, { log })] : []),
  ];
  const stages: Stage[] = [
    createIdentityStage(authenticators),
    createClassifyStage(config.limits),
    createImpersonationGuard(),
    createPolicyStage({
      policy,
      namespaceLabels: createNamespaceLabels(upstream, { ttlMs: 5_000 }),
      resolveObject,
      masking: true,
      approvals: config.approvals.enabled,
    }),
    ...(config.approvals.enabled ? [createApprovalStage({ approvals, holdMs: config.approvals.holdSeconds * 1000, resolveObject, masker })] : []),
  ];
  const forwarding = { timeouts: config.timeouts, impersonate: config.identity.impersonation.enabled, masker };
  const pipeline = createPipeline(
    stages,
    {
      forward: (ctx, res, completion) => forwardRequest(ctx, res, upstream, forwarding, completion),
      forwardUpgrade: (ctx, socket, head, completion) => forwardUpgrade(ctx, socket, head, upstream, forwarding, completion),
    },
    {
      refuse: (ctx, res, error) => respondWithStatus(res, error, ctx.id),
      refuseUpgrade: (ctx, socket, error) => respondWithStatusOnSocket(socket, error, ctx.id),
    },
    log,
    recorder,
  );
  const health = createHealthHandler(upstream);

  const server = https.createServer({ cert: state.tls.cert, key: state.tls.key });
  // Watches, logs -f and exec sessions live for hours; only idle keep-alive sockets time out.
  server.requestTimeout = 0;
  server.timeout = 0;
  server.keepAliveTimeout = 65_000;
  // Built once the URL is known (the console's links and OIDC redirect use it); until then only Kubernetes paths exist.
  let consoleHandler: ConsoleHandler = () => false;
  server.on('request', (req, res) => {
    if (!health(req, res) && !consoleHandler(req, res)) pipeline.handleRequest(req, res);
  });
  // Upgraded sockets leave the server's books; track them so close() ends exec sessions too.
  const upgraded = new Set<Duplex>();
  server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    pipeline.handleUpgrade(req, socket, head);
  });
  server.on('clientError', (err, socket) => {
    log.debug({ err }, 'client connection error');
    socket.destroy();
  });

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
  const consoleSettings = resolveConsoleSettings(config, url);
  consoleHandler = createConsoleHandler({
    settings: {
      ...consoleSettings,
      approverGroups: () => [...config.approvals.approverGroups, ...policy.current().rules.flatMap((r) => r.review?.approverGroups ?? [])],
    },
    dataDir: config.dataDir,
    authenticate: bearerAuthenticator(authenticators),
    approvals,
    audit: store.audit,
    auditKeys: trustedKeysFromPem(signer.publicKeyPem),
    policy,
    tokens,
    log,
  });
  consoleUrl ||= `${consoleSettings.publicUrl}/ui`;
  log.info({ url, upstream: target.server.origin, context: target.contextName }, 'gateway listening');

  return {
    url,
    state,
    close: async () => {
      await new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
        for (const socket of upgraded) socket.destroy();
        upstream.close();
      });
      policy.close();
      approvals.close();
      await tokens.flush();
      await writer.close();
      await store.close();
    },
  };
}
