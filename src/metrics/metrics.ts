/**
 * The gateway's Prometheus metrics (docs/operations.md lists them). Request
 * metrics are updated by one pipeline observer; everything that has a current
 * value elsewhere (audit queue, pending approvals, open watches) is read when
 * Prometheus scrapes, so it costs nothing between scrapes.
 *
 * @module
 */

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Approval } from '../approvals/types.js';
import type { AuditWriterStats } from '../audit/writer.js';
import type { RequestContext } from '../pipeline/context.js';
import type { ReloadTrigger } from '../policy/watch.js';
import type { ConfigReloadTrigger } from '../config/reload.js';
import { decisionLabel, isLongRunning, resourceLabel, subresourceLabel, verbLabel } from './labels.js';

/** Where the scrape-time values come from. */
export interface MetricsSources {
  /** Requests in flight on the main listener, and how many of them are watches. */
  inFlight(): { requests: number; watches: number };
  upgradedSessions(): number;
  audit(): AuditWriterStats;
  /** Reads passed without an audit event while the store was down (audit.whenStoreDown). */
  unrecordedReads(): number;
  pendingApprovals(): Promise<readonly Approval[]>;
  policyRules(): number;
  /** True from the moment shutdown began. */
  draining(): boolean;
  /** Connected cluster agents and their open tunnel streams, per agent-mode cluster. */
  tunnels(): readonly { cluster: string; agents: number; openStreams: number }[];
  /** HTTP/2 sessions to each cluster's API server and the long-lived requests riding them. */
  upstreamHttp2(): readonly { cluster: string; sessions: number; streams: number }[];
  /** Upstream watches shared by identical client watches (watches.share), and the client watches they serve, per cluster. */
  sharedWatches(): readonly { cluster: string; upstreams: number; clients: number }[];
  /** When the serving certificate the listener uses now ends (epoch ms; undefined when it cannot be read). */
  servingCertificateNotAfter(): number | undefined;
}

/** Which part of the store failed, for gatehouse_store_errors_total. */
export type StoreComponent = 'audit' | 'approvals' | 'tokens';

export interface GatewayMetrics {
  readonly registry: Registry;
  /** Counts one finished request and observes its latencies (the pipeline's observer). */
  observeRequest(ctx: RequestContext, status: number): void;
  /** Time from sending the request upstream until its response was complete. */
  observeUpstream(ctx: RequestContext, latencyMs: number): void;
  storeError(component: StoreComponent): void;
  policyReload(trigger: ReloadTrigger, ok: boolean): void;
  /** A config reload was tried; `pendingRestart` is how many changed settings wait for a restart. */
  configReload(trigger: ConfigReloadTrigger, ok: boolean, pendingRestart: number): void;
  /** A cluster agent tried to connect; `result` is `connected` or why it was refused. */
  tunnelConnect(cluster: string, result: string): void;
}

// Stage timings run from microseconds (classify) to the approval hold (a minute and more).
const STAGE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/**
 * Creates the metrics on a registry of their own (several gateways may share
 * a process in tests), with the prom-client process and Node.js defaults.
 *
 * @example
 * const metrics = createMetrics({ inFlight, upgradedSessions, audit: () => writer.stats(), unrecordedReads: () => recorder.unrecordedReads(), pendingApprovals, policyRules, draining });
 * const text = await metrics.registry.metrics();
 */
export function createMetrics(sources: MetricsSources): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const requests = new Counter({
    name: 'gatehouse_requests_total',
    help: 'Requests answered, by cluster, verb, resource, subresource, policy decision and HTTP status code.',
    labelNames: ['cluster', 'verb', 'resource', 'subresource', 'decision', 'code'] as const,
    registers,
  });
  const requestDuration = new Histogram({
    name: 'gatehouse_request_duration_seconds',
    help: 'Time from arrival to the end of the response, by verb (watches, log follows and upgraded sessions excluded).',
    labelNames: ['verb'] as const,
    buckets: REQUEST_BUCKETS,
    registers,
  });
  const stageDuration = new Histogram({
    name: 'gatehouse_stage_duration_seconds',
    help: 'Time spent in each pipeline stage (approval: the wait for a decision).',
    labelNames: ['stage'] as const,
    buckets: STAGE_BUCKETS,
    registers,
  });
  const upstreamDuration = new Histogram({
    name: 'gatehouse_upstream_duration_seconds',
    help: 'Time from sending a request to the API server until its response was complete (long-running requests excluded).',
    buckets: REQUEST_BUCKETS,
    registers,
  });
  const storeErrors = new Counter({
    name: 'gatehouse_store_errors_total',
    help: 'Failed store operations, by component (audit batches, approvals, token bookkeeping).',
    labelNames: ['component'] as const,
    registers,
  });
  const reloads = new Counter({
    name: 'gatehouse_policy_reloads_total',
    help: 'Policy reload attempts, by trigger (file change or SIGHUP) and result.',
    labelNames: ['trigger', 'result'] as const,
    registers,
  });
  const configReloads = new Counter({
    name: 'gatehouse_config_reloads_total',
    help: 'Config reload attempts, by trigger (file change or SIGHUP) and result (failure: rejected, the previous config stays).',
    labelNames: ['trigger', 'result'] as const,
    registers,
  });
  const lastConfigReloadOk = new Gauge({
    name: 'gatehouse_config_last_reload_successful',
    help: 'Whether the last config reload was applied (1) or rejected (0); 1 before any reload.',
    registers,
  });
  lastConfigReloadOk.set(1);
  const pendingRestart = new Gauge({
    name: 'gatehouse_config_restart_pending',
    help: 'Settings changed in the config file that take effect only after a restart (listen, tls, store…); 0 when none.',
    registers,
  });
  const shadowDecisions = new Counter({
    name: 'gatehouse_shadow_decisions_total',
    help: 'Requests judged by the shadow policy (policy.shadow), by enforced and shadow action (undetermined when its inputs were not gathered).',
    labelNames: ['enforced', 'shadow'] as const,
    registers,
  });
  const tunnelConnects = new Counter({
    name: 'gatehouse_tunnel_connections_total',
    help: 'Cluster agent connection attempts, by cluster and result (connected, unauthenticated, unknown-cluster, bad-hello…).',
    labelNames: ['cluster', 'result'] as const,
    registers,
  });
  clusterGauge('gatehouse_tunnel_agents', 'Cluster agents connected, by cluster (agent-mode clusters only).', () =>
    sources.tunnels().map((t) => [t.cluster, t.agents]),
  );
  clusterGauge('gatehouse_tunnel_open_streams', 'Requests and sessions riding cluster agent tunnels, by cluster.', () =>
    sources.tunnels().map((t) => [t.cluster, t.openStreams]),
  );
  clusterGauge('gatehouse_upstream_http2_sessions', 'HTTP/2 connections to the API server carrying watches and logs -f, by cluster.', () =>
    sources.upstreamHttp2().map((u) => [u.cluster, u.sessions]),
  );
  clusterGauge('gatehouse_upstream_http2_streams', 'Watches and logs -f riding HTTP/2 connections to the API server, by cluster.', () =>
    sources.upstreamHttp2().map((u) => [u.cluster, u.streams]),
  );
  clusterGauge('gatehouse_upstream_shared_watches', 'Watches to the API server that serve identical client watches (watches.share), by cluster.', () =>
    sources.sharedWatches().map((w) => [w.cluster, w.upstreams]),
  );
  clusterGauge('gatehouse_upstream_shared_watch_clients', 'Client watches served by a shared watch to the API server, by cluster.', () =>
    sources.sharedWatches().map((w) => [w.cluster, w.clients]),
  );
  const lastReload = new Gauge({
    name: 'gatehouse_policy_last_reload_success_timestamp_seconds',
    help: 'When the policy in force was loaded (Unix time).',
    registers,
  });
  lastReload.setToCurrentTime();
  scrapeGauge('gatehouse_policy_rules', 'Rules in the policy in force.', () => sources.policyRules());
  scrapeGauge('gatehouse_requests_in_flight', 'Requests being handled on the main listener (watches included, upgraded sessions not).', () => sources.inFlight().requests);
  scrapeGauge('gatehouse_open_watches', 'Watch requests currently streaming.', () => sources.inFlight().watches);
  scrapeGauge('gatehouse_upgraded_sessions', 'Open upgraded connections (exec, attach, port-forward).', () => sources.upgradedSessions());
  scrapeGauge('gatehouse_draining', '1 while the gateway shuts down (readyz fails), else 0.', () => (sources.draining() ? 1 : 0));
  scrapeGauge('gatehouse_serving_certificate_expiry_timestamp_seconds', 'When the serving certificate in use ends (Unix time); NaN when it cannot be read.', () => (sources.servingCertificateNotAfter() ?? Number.NaN) / 1000);

  // Approvals are read from the store only when scraped, once for both gauges (a scrape collects them concurrently).
  let reading: Promise<{ count: number; oldestSeconds: number } | undefined> | undefined;
  const readApprovals = (): Promise<{ count: number; oldestSeconds: number } | undefined> =>
    (reading ??= sources
      .pendingApprovals()
      .then(
        (list) => {
          const oldest = list.reduce((min, a) => Math.min(min, Date.parse(a.createdAt)), Infinity);
          return { count: list.length, oldestSeconds: list.length === 0 ? 0 : Math.max(0, (Date.now() - oldest) / 1000) };
        },
        () => {
          storeErrors.inc({ component: 'approvals' });
          return undefined;
        },
      )
      .finally(() => (reading = undefined)));
  approvalsGauge('gatehouse_approvals_pending', 'Approvals waiting for a decision.', 'count');
  approvalsGauge('gatehouse_approvals_oldest_pending_age_seconds', 'Age of the oldest approval waiting for a decision (0 when none).', 'oldestSeconds');

  scrapeGauge('gatehouse_audit_queue_depth', 'Audit records (events and stream chunks) not yet committed.', () => sources.audit().queueDepth);
  scrapeGauge('gatehouse_audit_lag_seconds', 'Age of the oldest audit record not yet committed (0 when none).', () => sources.audit().lagMs / 1000);
  scrapeGauge('gatehouse_audit_healthy', '1 when the last audit batch committed, 0 after a failed one (requests are then refused).', () => (sources.audit().healthy ? 1 : 0));
  scrapeGauge('gatehouse_audit_last_batch_seconds', 'Duration of the last committed audit batch.', () => sources.audit().lastBatchMs / 1000);
  // The writer keeps the totals; these counters mirror them at scrape time.
  mirrorCounter('gatehouse_audit_events_total', 'Audit events committed.', () => sources.audit().appended);
  mirrorCounter('gatehouse_audit_batch_failures_total', 'Audit batches that failed to commit.', () => sources.audit().failedBatches);
  mirrorCounter('gatehouse_audit_unrecorded_reads_total', 'Reads let through without an audit event while the store was down (audit.whenStoreDown.reads: allow-unrecorded).', () => sources.unrecordedReads());

  /** A gauge whose value is read from `read` when Prometheus scrapes. */
  function scrapeGauge(name: string, help: string, read: () => number): void {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  }

  /** A per-cluster gauge read at scrape time, as [cluster, value] pairs. */
  function clusterGauge(name: string, help: string, read: () => readonly (readonly [string, number])[]): void {
    new Gauge({
      name,
      help,
      labelNames: ['cluster'] as const,
      registers,
      collect() {
        this.reset();
        for (const [cluster, value] of read()) this.set({ cluster }, value);
      },
    });
  }

  /** A gauge over the shared approvals read; left unchanged when the store failed. */
  function approvalsGauge(name: string, help: string, field: 'count' | 'oldestSeconds'): void {
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        const read = await readApprovals();
        if (read) this.set(read[field]);
      },
    });
  }

  function mirrorCounter(name: string, help: string, read: () => number): void {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  }

  // Children are looked up once per label combination, not built per request.
  const requestChildren = new Map<string, Counter.Internal>();
  const durationChildren = new Map<string, Histogram.Internal<string>>();
  const stageChildren = new Map<string, Histogram.Internal<string>>();
  const shadowChildren = new Map<string, Counter.Internal>();
  const child = <T>(cache: Map<string, T>, key: string, make: () => T): T => {
    let found = cache.get(key);
    if (found === undefined) cache.set(key, (found = make()));
    return found;
  };

  return {
    registry,
    observeRequest(ctx, status) {
      const verb = verbLabel(ctx);
      const resource = resourceLabel(ctx);
      const subresource = subresourceLabel(ctx);
      const decision = decisionLabel(ctx);
      const cluster = ctx.cluster ?? '';
      const key = `${cluster}|${verb}|${resource}|${subresource}|${decision}|${status}`;
      child(requestChildren, key, () => requests.labels(cluster, verb, resource, subresource, decision, String(status))).inc();
      const shadow = ctx.shadowDecision;
      if (shadow !== undefined) child(shadowChildren, `${decision}|${shadow.action}`, () => shadowDecisions.labels(decision, shadow.action)).inc();
      for (const stage in ctx.timings) {
        child(stageChildren, stage, () => stageDuration.labels(stage)).observe(ctx.timings[stage]! / 1e6);
      }
      if (!isLongRunning(ctx)) {
        child(durationChildren, verb, () => requestDuration.labels(verb)).observe(Number(process.hrtime.bigint() - ctx.startedAt) / 1e9);
      }
    },
    observeUpstream(ctx, latencyMs) {
      if (!isLongRunning(ctx)) upstreamDuration.observe(latencyMs / 1000);
    },
    storeError(component) {
      storeErrors.inc({ component });
    },
    tunnelConnect(cluster, result) {
      tunnelConnects.inc({ cluster, result });
    },
    policyReload(trigger, ok) {
      reloads.inc({ trigger, result: ok ? 'success' : 'failure' });
      if (ok) lastReload.setToCurrentTime();
    },
    configReload(trigger, ok, pending) {
      configReloads.inc({ trigger, result: ok ? 'success' : 'failure' });
      lastConfigReloadOk.set(ok ? 1 : 0);
      pendingRestart.set(pending);
    },
  };
}
