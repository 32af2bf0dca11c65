import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { AuditWriterStats } from '../../../src/audit/writer.js';
import type { KubeRequest } from '../../../src/classify/kube-request.js';
import { decisionLabel, isLongRunning, resourceLabel, subresourceLabel, verbLabel } from '../../../src/metrics/labels.js';
import { createMetrics } from '../../../src/metrics/metrics.js';
import type { MetricsSources } from '../../../src/metrics/metrics.js';
import type { RequestContext } from '../../../src/pipeline/context.js';
import type { Decision } from '../../../src/policy/engine.js';
import type { Approval } from '../../../src/approvals/types.js';

function ctx(request?: Partial<KubeRequest>, extra: Partial<RequestContext> = {}): RequestContext {
  return {
    id: 'req-1',
    req: { method: 'GET', url: '/' } as IncomingMessage,
    upgrade: false,
    startedAt: process.hrtime.bigint(),
    arrivedMicros: 0,
    timings: {},
    request: request && ({ verb: 'get', resource: '', subresource: '', query: '', ...request } as KubeRequest),
    ...extra,
  };
}

const audit: AuditWriterStats = {
  queueDepth: 3,
  lagMs: 1500,
  appended: 42,
  failedBatches: 1,
  lastBatchMs: 4,
  lastBatchSize: 2,
  healthy: true,
  unhealthySinceMs: undefined,
  head: undefined,
  lastCheckpoint: undefined,
};

function sources(over: Partial<MetricsSources> = {}): MetricsSources {
  return {
    inFlight: () => ({ requests: 2, watches: 1 }),
    upgradedSessions: () => 1,
    audit: () => audit,
    unrecordedReads: () => 0,
    pendingApprovals: () => Promise.resolve([{ createdAt: new Date(Date.now() - 90_000).toISOString() } as Approval, { createdAt: new Date().toISOString() } as Approval]),
    policyRules: () => 7,
    draining: () => false,
    tunnels: () => [{ cluster: 'prod', agents: 2, openStreams: 3 }],
    upstreamHttp2: () => [{ cluster: 'default', sessions: 2, streams: 150 }],
    sharedWatches: () => [{ cluster: 'default', upstreams: 3, clients: 40 }],
    servingCertificateNotAfter: () => Date.UTC(2027, 0, 31, 12),
    ...over,
  };
}

describe('label values', () => {
  it.each([
    ['list pods', { verb: 'list', resource: 'pods' }, ['list', 'pods', '']],
    ['exec', { verb: 'create', resource: 'pods', subresource: 'exec' }, ['create', 'pods', 'exec']],
    ['custom resource', { verb: 'get', resource: 'widgets', subresource: 'frobnicate' }, ['get', 'other', 'other']],
    ['invented verb', { verb: 'escalate', resource: 'roles' }, ['other', 'roles', '']],
    ['non-resource', { verb: 'get', resource: '' }, ['get', '', '']],
  ] as const)('%s', (_name, request, [verb, resource, sub]) => {
    const c = ctx(request);
    expect([verbLabel(c), resourceLabel(c), subresourceLabel(c)]).toEqual([verb, resource, sub]);
  });

  it('uses "" for a request refused before it was classified, and "none" before policy decided', () => {
    const c = ctx();
    expect([verbLabel(c), resourceLabel(c), decisionLabel(c)]).toEqual(['', '', 'none']);
    expect(decisionLabel(ctx({}, { decision: { action: 'review' } as Decision }))).toBe('review');
  });

  it('keeps watches, log follows and upgrades out of the latency histograms', () => {
    expect(isLongRunning(ctx({ verb: 'watch', resource: 'pods' }))).toBe(true);
    expect(isLongRunning(ctx({ verb: 'get', resource: 'pods', subresource: 'log', query: 'container=a&follow=true' }))).toBe(true);
    expect(isLongRunning(ctx({ verb: 'get', resource: 'pods', subresource: 'log', query: 'follow=false' }))).toBe(false);
    expect(isLongRunning(ctx({ verb: 'create', resource: 'pods', subresource: 'exec' }, { upgrade: true }))).toBe(true);
    expect(isLongRunning(ctx({ verb: 'list', resource: 'pods' }))).toBe(false);
  });
});

describe('metrics', () => {
  it('counts requests with bounded labels and observes stage and total latency', async () => {
    const metrics = createMetrics(sources());
    const listed = ctx({ verb: 'list', resource: 'pods' }, { timings: { identity: 120, policy: 2500 }, decision: { action: 'allow' } as Decision });
    metrics.observeRequest(listed, 200);
    metrics.observeRequest(listed, 200);
    metrics.observeRequest(ctx({ verb: 'get', resource: 'widgets' }), 403);
    metrics.observeRequest(ctx({ verb: 'delete', resource: 'pods' }, { decision: { action: 'allow' } as Decision, shadowDecision: { action: 'deny' } as Decision }), 200);
    metrics.observeUpstream(listed, 12);
    const text = await metrics.registry.metrics();
    expect(text).toContain('gatehouse_requests_total{cluster="",verb="list",resource="pods",subresource="",decision="allow",code="200"} 2');
    expect(text).toContain('gatehouse_requests_total{cluster="",verb="get",resource="other",subresource="",decision="none",code="403"} 1');
    expect(text).toContain('gatehouse_stage_duration_seconds_count{stage="identity"} 2');
    expect(text).toContain('gatehouse_shadow_decisions_total{enforced="allow",shadow="deny"} 1');
    expect(text).not.toContain('gatehouse_shadow_decisions_total{enforced="none"');
    expect(text).toContain('gatehouse_stage_duration_seconds_bucket{le="0.005",stage="policy"} 2');
    expect(text).toContain('gatehouse_request_duration_seconds_count{verb="list"} 2');
    expect(text).toContain('gatehouse_upstream_duration_seconds_bucket{le="0.025"} 1');
  });

  it('reads gauges from their sources when scraped', async () => {
    const text = await createMetrics(sources()).registry.metrics();
    expect(text).toContain('gatehouse_open_watches 1');
    expect(text).toContain('gatehouse_requests_in_flight 2');
    expect(text).toContain('gatehouse_upgraded_sessions 1');
    expect(text).toContain('gatehouse_approvals_pending 2');
    expect(text).toMatch(/gatehouse_approvals_oldest_pending_age_seconds 9\d(\.\d+)?\n/);
    expect(text).toContain('gatehouse_audit_queue_depth 3');
    expect(text).toContain('gatehouse_audit_lag_seconds 1.5');
    expect(text).toContain('gatehouse_audit_events_total 42');
    expect(text).toContain('gatehouse_audit_batch_failures_total 1');
    expect(text).toContain('gatehouse_audit_healthy 1');
    expect(text).toContain('gatehouse_policy_rules 7');
    expect(text).toContain('gatehouse_draining 0');
    expect(text).toContain(`gatehouse_serving_certificate_expiry_timestamp_seconds ${Date.UTC(2027, 0, 31, 12) / 1000}`);
    expect(text).toContain('gatehouse_tunnel_agents{cluster="prod"} 2');
    expect(text).toContain('gatehouse_tunnel_open_streams{cluster="prod"} 3');
    expect(text).toContain('gatehouse_upstream_http2_sessions{cluster="default"} 2');
    expect(text).toContain('gatehouse_upstream_http2_streams{cluster="default"} 150');
    expect(text).toContain('gatehouse_upstream_shared_watches{cluster="default"} 3');
    expect(text).toContain('gatehouse_upstream_shared_watch_clients{cluster="default"} 40');
    expect(text).toContain('process_cpu_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
  });

  it('counts policy reloads and store errors, including an approvals store that cannot be read', async () => {
    const metrics = createMetrics(sources({ pendingApprovals: () => Promise.reject(new Error('database is locked')) }));
    metrics.policyReload('signal', true);
    metrics.policyReload('file', false);
    metrics.storeError('audit');
    metrics.tunnelConnect('prod', 'connected');
    metrics.tunnelConnect('prod', 'unauthenticated');
    metrics.tunnelConnect('prod', 'unauthenticated');
    // A store error met while scraping shows from the next scrape on.
    await metrics.registry.metrics();
    const text = await metrics.registry.metrics();
    expect(text).toContain('gatehouse_policy_reloads_total{trigger="signal",result="success"} 1');
    expect(text).toContain('gatehouse_policy_reloads_total{trigger="file",result="failure"} 1');
    expect(text).toContain('gatehouse_store_errors_total{component="audit"} 1');
    expect(text).toContain('gatehouse_tunnel_connections_total{cluster="prod",result="connected"} 1');
    expect(text).toContain('gatehouse_tunnel_connections_total{cluster="prod",result="unauthenticated"} 2');
    expect(text).toContain('gatehouse_store_errors_total{component="approvals"} 1');
  });

  it('names every metric gatehouse_* with a unit suffix where it has one, and documents each', async () => {
    const metrics = createMetrics(sources());
    const ours = (await metrics.registry.getMetricsAsJSON()).filter((m) => m.name.startsWith('gatehouse_'));
    const { readFileSync } = await import('node:fs');
    const doc = readFileSync(new URL('../../../docs/operations.md', import.meta.url), 'utf8');
    for (const m of ours) {
      expect(m.name).toMatch(/^gatehouse_[a-z][a-z0-9_]*$/);
      if (String(m.type) === 'counter') expect(m.name).toMatch(/_total$/);
      if (String(m.type) === 'histogram') expect(m.name).toMatch(/_seconds$/);
      expect(doc, `${m.name} in docs/operations.md`).toContain(`\`${m.name}\``);
    }
  });
});
