import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { idleMetricsSources } from './idle-sources.js';

// docs/grafana-dashboard.json must keep working as metrics change: every
// metric a query names is one the gateway registers.

interface Target {
  refId: string;
  expr: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  title: string;
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string | { query: string } }[] };
}

const dashboard = JSON.parse(readFileSync(new URL('../../../docs/grafana-dashboard.json', import.meta.url), 'utf8')) as Dashboard;
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);

/** Every PromQL expression in the dashboard: panel targets and query variables. */
const expressions: string[] = [
  ...panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
  ...dashboard.templating.list.filter((v) => v.type === 'query').map((v) => (typeof v.query === 'string' ? v.query : v.query!.query)),
];

// PromQL functions, aggregations and keywords: identifiers that are not metric names.
const PROMQL_WORDS = new Set([
  'sum', 'min', 'max', 'avg', 'count', 'topk', 'bottomk', 'quantile', 'stddev', 'stdvar', 'group', 'count_values',
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'offset', 'bool',
  'rate', 'irate', 'increase', 'delta', 'idelta', 'deriv', 'histogram_quantile', 'clamp_min', 'clamp_max', 'abs',
  'time', 'vector', 'scalar', 'label_values', 'max_over_time', 'min_over_time', 'avg_over_time', 'absent',
]);

/**
 * The metric names an expression selects: what is left after removing string
 * literals, label matchers, ranges, grouping clauses, Grafana variables,
 * numbers and PromQL's own words.
 */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    // label_values(metric, label): the label is not a metric.
    .replace(/label_values\(\s*([a-zA-Z_:][\w:]*)\s*,\s*\w+\s*\)/g, ' $1 ')
    .replace(/\$\w+/g, ' ')
    .replace(/\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b/g, ' ');
  return (stripped.match(/[a-zA-Z_:][\w:]*/g) ?? []).filter((word) => !PROMQL_WORDS.has(word));
}

/** Every series name the gateway's registry exposes (histograms with their _bucket, _sum and _count). */
async function registered(): Promise<Set<string>> {
  const metrics = createMetrics(idleMetricsSources());
  const names = new Set<string>();
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${m.name}${suffix}`);
  }
  return names;
}

describe('docs/grafana-dashboard.json', () => {
  it('queries only metrics the gateway registers', async () => {
    const names = await registered();
    expect(expressions.length).toBeGreaterThan(20);
    for (const expr of expressions) {
      const used = metricNames(expr);
      expect(used.length, `no metric found in ${expr}`).toBeGreaterThan(0);
      for (const name of used) expect(names.has(name), `${name} (in ${expr}) is not registered by createMetrics`).toBe(true);
    }
  });

  it('covers what an operator watches', () => {
    const used = new Set(expressions.flatMap(metricNames));
    for (const name of [
      'gatehouse_requests_total',
      'gatehouse_stage_duration_seconds_bucket',
      'gatehouse_upstream_duration_seconds_bucket',
      'gatehouse_approvals_pending',
      'gatehouse_approvals_oldest_pending_age_seconds',
      'gatehouse_audit_lag_seconds',
      'gatehouse_audit_queue_depth',
      'gatehouse_audit_healthy',
      'gatehouse_tunnel_agents',
      'gatehouse_policy_reloads_total',
    ]) {
      expect(used.has(name), name).toBe(true);
    }
    const all = expressions.join('\n');
    expect(all).toContain('sum by (decision) (rate(gatehouse_requests_total');
    expect(all).toContain('sum by (code) (rate(gatehouse_requests_total');
    expect(all).toContain('sum by (cluster) (rate(gatehouse_requests_total');
    expect(all).toMatch(/histogram_quantile\(0\.5, sum by \(le, stage\)/);
    expect(all).toMatch(/histogram_quantile\(0\.99, sum by \(le, stage\)/);
  });

  it('is a well-formed Grafana dashboard', () => {
    expect(dashboard).toMatchObject({ title: 'Gatehouse', uid: 'gatehouse-overview' });
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      if (p.type === 'row') continue;
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      const refIds = p.targets!.map((t) => t.refId);
      expect(new Set(refIds).size, p.title).toBe(refIds.length);
    }
    // Panels never overlap.
    const cells = new Set<string>();
    for (const p of panels) {
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps another panel`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'cluster']);
  });

  it('finds metric names the way PromQL reads them', () => {
    expect(metricNames('sum by (le, stage) (rate(gatehouse_stage_duration_seconds_bucket{stage="policy"}[5m]))')).toEqual(['gatehouse_stage_duration_seconds_bucket']);
    expect(metricNames('time() - max(gatehouse_policy_last_reload_success_timestamp_seconds)')).toEqual(['gatehouse_policy_last_reload_success_timestamp_seconds']);
    expect(metricNames('label_values(gatehouse_requests_total, cluster)')).toEqual(['gatehouse_requests_total']);
    expect(metricNames('a_total / clamp_min(b_total, 1e-9)')).toEqual(['a_total', 'b_total']);
  });
});
