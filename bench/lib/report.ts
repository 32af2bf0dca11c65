/**
 * The benchmark report: every measured figure, the gateway's ratios against
 * the API server, `kubectl proxy` and the bare Node.js proxy (node-proxy.ts),
 * and the goals of issue 12 with
 * PASS/MISS; rendered as a text table, JSON and an SVG chart.
 */
import type { Spread } from './stats.js';

/** Who a figure was measured on. */
export type Side = 'direct' | 'gateway' | 'proxy' | 'node-proxy' | 'gateway-pg' | 'sqlite' | 'postgres' | 'engine';

export interface Figure {
  /** Benchmark name (what `--only` selects). */
  readonly bench: string;
  /** What was measured, with its unit, e.g. `p50 ms` or `req/s c=16`. */
  readonly metric: string;
  readonly side: Side;
  readonly better: 'lower' | 'higher';
  readonly value: Spread;
}

export interface RatioRow {
  readonly bench: string;
  readonly metric: string;
  /** Gateway median ÷ API server median. */
  readonly vsDirect: number | undefined;
  /** Gateway median ÷ kubectl proxy median. */
  readonly vsProxy: number | undefined;
  /** Gateway median ÷ the bare Node.js proxy's: what the gateway's own work costs over any Node.js hop. */
  readonly vsNodeProxy: number | undefined;
}

export interface Goal {
  readonly id: string;
  readonly text: string;
  readonly bench: string;
  readonly metric: string;
  readonly side: Side;
  /** Compared as a ratio of medians to this side; absent: the median itself. */
  readonly versus?: Side;
  readonly op: '<=' | '>=';
  readonly limit: number;
}

export interface GoalResult extends Goal {
  readonly value: number | undefined;
  /** undefined: not measured in this run (e.g. `--only`). */
  readonly pass: boolean | undefined;
}

/** The goals of issue 12 (2 cores, loopback, same run). */
export const GOALS: readonly Goal[] = [
  { id: 'get-p50-direct', text: 'GET p50 ≤ 1.15× direct', bench: 'get', metric: 'GET p50 ms', side: 'gateway', versus: 'direct', op: '<=', limit: 1.15 },
  { id: 'get-p50-proxy', text: 'GET p50 no slower than kubectl proxy', bench: 'get', metric: 'GET p50 ms', side: 'gateway', versus: 'proxy', op: '<=', limit: 1 },
  ...[1, 16, 64].map(
    (c): Goal => ({ id: `rps-c${c}`, text: `small-GET throughput c=${c} ≥ 0.7× kubectl proxy`, bench: 'throughput', metric: `req/s c=${c}`, side: 'gateway', versus: 'proxy', op: '>=', limit: 0.7 }),
  ),
  { id: 'secrets-time', text: 'masked 5 000-Secret LIST ≤ 1.5× direct unmasked', bench: 'secrets', metric: 'LIST ms', side: 'gateway', versus: 'direct', op: '<=', limit: 1.5 },
  {
    id: 'secrets-memory',
    text: 'masked LIST streams: gateway RSS growth ≤ 1× the response size',
    bench: 'secrets',
    metric: 'RSS growth ÷ body size',
    side: 'gateway',
    op: '<=',
    limit: 1,
  },
  { id: 'watch-rss', text: '1 000 watches ≤ 150 MB gateway RSS', bench: 'watch', metric: 'gateway RSS MB', side: 'gateway', op: '<=', limit: 150 },
  // CPU time: on a shared machine the wall-clock tail measures the scheduler (both are reported).
  { id: 'policy-p99', text: 'policy evaluation p99 ≤ 50 µs (CPU, pod create)', bench: 'policy', metric: 'create pod CPU p99 µs', side: 'engine', op: '<=', limit: 50 },
];

function median(figures: readonly Figure[], bench: string, metric: string, side: Side): number | undefined {
  return figures.find((f) => f.bench === bench && f.metric === metric && f.side === side)?.value.median;
}

/** One row per metric the gateway was measured on. */
export function ratioRows(figures: readonly Figure[]): RatioRow[] {
  const ratio = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined || b === undefined || b === 0 ? undefined : a / b);
  return figures
    .filter((f) => f.side === 'gateway')
    .map((f) => ({
      bench: f.bench,
      metric: f.metric,
      vsDirect: ratio(f.value.median, median(figures, f.bench, f.metric, 'direct')),
      vsProxy: ratio(f.value.median, median(figures, f.bench, f.metric, 'proxy')),
      vsNodeProxy: ratio(f.value.median, median(figures, f.bench, f.metric, 'node-proxy')),
    }));
}

export function evaluateGoals(figures: readonly Figure[], goals: readonly Goal[] = GOALS): GoalResult[] {
  return goals.map((goal) => {
    const own = median(figures, goal.bench, goal.metric, goal.side);
    const base = goal.versus === undefined ? 1 : median(figures, goal.bench, goal.metric, goal.versus);
    const value = own === undefined || base === undefined ? undefined : own / base;
    const pass = value === undefined ? undefined : goal.op === '<=' ? value <= goal.limit : value >= goal.limit;
    return { ...goal, value, pass };
  });
}

/** A number with three significant digits, or `—`. */
export function fmt(n: number | undefined): string {
  if (n === undefined || Number.isNaN(n)) return '—';
  if (Math.abs(n) >= 1000) return Math.round(n).toString();
  return n.toPrecision(3);
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 || c === 1 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

const SIDES: readonly Side[] = ['direct', 'proxy', 'node-proxy', 'gateway', 'gateway-pg', 'sqlite', 'postgres', 'engine'];

/** The text report: figures (median, min–p99 over runs), ratios, goals. */
export function renderText(figures: readonly Figure[], goals: readonly GoalResult[]): string {
  const sides = SIDES.filter((s) => figures.some((f) => f.side === s));
  const keys = [...new Set(figures.map((f) => `${f.bench}\u0000${f.metric}`))];
  const ratios = new Map(ratioRows(figures).map((r) => [`${r.bench}\u0000${r.metric}`, r]));
  const cell = (f: Figure | undefined): string =>
    f === undefined ? '' : f.value.runs > 1 ? `${fmt(f.value.median)} (${fmt(f.value.min)}–${fmt(f.value.p99)})` : fmt(f.value.median);
  const rows = keys.map((key) => {
    const [bench = '', metric = ''] = key.split('\u0000');
    const r = ratios.get(key);
    return [bench, metric, ...sides.map((s) => cell(figures.find((f) => f.bench === bench && f.metric === metric && f.side === s))), fmt(r?.vsDirect), fmt(r?.vsProxy), fmt(r?.vsNodeProxy)];
  });
  const head = ['bench', 'metric', ...sides, 'gw÷direct', 'gw÷proxy', 'gw÷node'];
  const goalLines = goals.map((g) => {
    const verdict = g.pass === undefined ? 'n/a ' : g.pass ? 'PASS' : 'MISS';
    return `  ${verdict}  ${g.text.padEnd(62)} ${g.versus ? 'ratio' : 'value'} ${fmt(g.value)} (goal ${g.op} ${g.limit})`;
  });
  return `${table([head, ...rows])}\n\nmedian (min–p99) over runs\n\nGoals:\n${goalLines.join('\n')}\n`;
}

const escapeXml = (s: string): string => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * A horizontal bar chart of the ratios (gateway ÷ direct, ÷ kubectl proxy,
 * ÷ node-proxy) with a line at 1×, and the goals with their verdicts underneath.
 */
export function renderSvg(figures: readonly Figure[], goals: readonly GoalResult[], subtitle: string): string {
  const bars = ratioRows(figures).flatMap((r) => [
    ...(r.vsDirect === undefined ? [] : [{ label: `${r.bench}: ${r.metric} ÷ direct`, value: r.vsDirect, color: '#3b6ea5' }]),
    ...(r.vsProxy === undefined ? [] : [{ label: `${r.bench}: ${r.metric} ÷ proxy`, value: r.vsProxy, color: '#d08c2b' }]),
    ...(r.vsNodeProxy === undefined ? [] : [{ label: `${r.bench}: ${r.metric} ÷ node-proxy`, value: r.vsNodeProxy, color: '#6a9a4a' }]),
  ]);
  const left = 300;
  const scale = 200; // px per 1×
  const maxRatio = Math.max(2, ...bars.map((b) => Math.min(b.value, 4)));
  const width = left + Math.ceil(maxRatio * scale) + 80;
  const barsTop = 60;
  const goalsTop = barsTop + bars.length * 22 + 30;
  const height = goalsTop + goals.length * 18 + 20;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="22" font-size="16" font-weight="bold">Gatehouse overhead (ratio of medians; lower is better except req/s)</text>`,
    `<text x="10" y="42" fill="#555">${escapeXml(subtitle)}</text>`,
    ...bars.flatMap((b, i) => {
      const y = barsTop + i * 22;
      const w = Math.min(b.value, maxRatio) * scale;
      return [
        `<text x="${left - 8}" y="${y + 13}" text-anchor="end">${escapeXml(b.label)}</text>`,
        `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="16" fill="${b.color}"/>`,
        `<text x="${(left + w + 4).toFixed(1)}" y="${y + 13}">${fmt(b.value)}×</text>`,
      ];
    }),
    `<line x1="${left + scale}" y1="${barsTop - 6}" x2="${left + scale}" y2="${barsTop + bars.length * 22}" stroke="#000" stroke-dasharray="4 3"/>`,
    `<text x="${left + scale}" y="${barsTop - 10}" text-anchor="middle">1×</text>`,
    ...goals.map((g, i) => {
      const verdict = g.pass === undefined ? 'n/a' : g.pass ? 'PASS' : 'MISS';
      const color = g.pass === undefined ? '#888' : g.pass ? '#2a7d2a' : '#b22';
      return `<text x="10" y="${goalsTop + i * 18}" fill="${color}">${verdict}  ${escapeXml(g.text)}: ${fmt(g.value)}</text>`;
    }),
    '</svg>',
  ];
  return `${parts.join('\n')}\n`;
}
