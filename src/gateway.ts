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
import { auditWriterOptions, createAuditWriter, loadAuditSigner } from './audit/index.js';
import { createRecorder } from './record/recorder.js';
import { createMasker } from './masking/index.js';
import { openPolicy } from './policy/config.js';
import { createPolicyStage } from './policy/stage.js';
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
  const writer = createAuditWriter(
    store.audit,
    auditWriterOptions(config.audit, loadAuditSigner(config.dataDir), (err) => log.error({ err }, 'audit batch failed')),
  );
  const recorder = createRecorder({ writer, maxBodyBytes: config.audit.maxBodyBytes, awaitReads: config.audit.awaitReads, log });
  const tokens = createTokenService(store, { onBackgroundError: (err) => log.warn({ err }, 'recording token last-used time failed') });
  const stages: Stage[] = [
    createIdentityStage([
      bootstrapTokenAuthenticator(state.bootstrapTokens),
      tokens.authenticator,
      ...(config.identity.oidc.length > 0 ? [createOidcAuthenticator(config.identity.oidc, { log })] : []),
    ]),
    createClassifyStage(config.limits),
    createImpersonationGuard(),
    createPolicyStage({
      policy,
      namespaceLabels: createNamespaceLabels(upstream, { ttlMs: 5_000 }),
      resolveObject: createDryRunResolver(upstream, { timeoutMs: 10_000 }),
      masking: true,
    }),
  ];
  const forwarding = { timeouts: config.timeouts, impersonate: config.identity.impersonation.enabled, masker: createMasker(config.masking) };
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
  server.on('request', (req, res) => {
    if (!health(req, res)) pipeline.handleRequest(req, res);
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
      await tokens.flush();
      await writer.close();
      await store.close();
    },
  };
}
