import { idleAuditWriterStats } from '../../../src/audit/writer.js';
import type { MetricsSources } from '../../../src/metrics/metrics.js';

/** What a gateway that serves nothing reports to its metrics: nothing in flight, no approvals, no agents. */
export function idleMetricsSources(): MetricsSources {
  return {
    inFlight: () => ({ requests: 0, watches: 0 }),
    upgradedSessions: () => 0,
    audit: idleAuditWriterStats,
    unrecordedReads: () => 0,
    pendingApprovals: () => Promise.resolve([]),
    policyRules: () => 0,
    draining: () => false,
    tunnels: () => [],
    upstreamHttp2: () => [],
    sharedWatches: () => [],
    servingCertificateNotAfter: () => undefined,
  };
}
