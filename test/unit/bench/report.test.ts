import { describe, expect, it } from 'vitest';
import { evaluateGoals, fmt, ratioRows, renderSvg, renderText } from '../../../bench/lib/report.js';
import type { Figure, Goal } from '../../../bench/lib/report.js';
import { percentile, spread, summarize } from '../../../bench/lib/stats.js';

const figure = (bench: string, metric: string, side: Figure['side'], values: number[], better: Figure['better'] = 'lower'): Figure => ({
  bench,
  metric,
  side,
  better,
  value: spread(values),
});

describe('percentile (nearest rank)', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  it.each([
    [50, 50],
    [99, 99],
    [100, 100],
    [0, 1],
    [1, 1],
  ])('p%i of 1..100 is %i', (p, expected) => expect(percentile(hundred, p)).toBe(expected));

  it('is NaN for no samples and the value for one', () => {
    expect(percentile([], 50)).toBeNaN();
    expect(percentile([7], 99)).toBe(7);
  });

  it('summarize sorts first; spread reports min, median and p99 over runs', () => {
    expect(summarize([3, 1, 2])).toEqual({ n: 3, p50: 2, p99: 3, max: 3 });
    expect(spread([5, 1, 3, 2, 4])).toEqual({ min: 1, median: 3, p99: 5, runs: 5 });
  });
});

describe('ratios and goals', () => {
  const figures = [
    figure('get', 'GET p50 ms', 'direct', [1, 1, 1]),
    figure('get', 'GET p50 ms', 'proxy', [2]),
    figure('get', 'GET p50 ms', 'node-proxy', [1.2]),
    figure('get', 'GET p50 ms', 'gateway', [1.25, 1.5, 1.5]),
    figure('throughput', 'req/s c=16', 'proxy', [1000], 'higher'),
    figure('throughput', 'req/s c=16', 'gateway', [650], 'higher'),
    figure('watch', 'gateway RSS MB', 'gateway', [120]),
  ];

  it('divides the gateway median by the direct, kubectl proxy and node-proxy medians', () => {
    expect(ratioRows(figures)).toEqual([
      { bench: 'get', metric: 'GET p50 ms', vsDirect: 1.5, vsProxy: 0.75, vsNodeProxy: 1.25 },
      { bench: 'throughput', metric: 'req/s c=16', vsDirect: undefined, vsProxy: 0.65, vsNodeProxy: undefined },
      { bench: 'watch', metric: 'gateway RSS MB', vsDirect: undefined, vsProxy: undefined, vsNodeProxy: undefined },
    ]);
  });

  it('judges ratio goals, absolute goals, and goals nothing measured', () => {
    const goals: Goal[] = [
      { id: 'a', text: 'GET ≤ 1.15× direct', bench: 'get', metric: 'GET p50 ms', side: 'gateway', versus: 'direct', op: '<=', limit: 1.15 },
      { id: 'b', text: 'GET ≤ proxy', bench: 'get', metric: 'GET p50 ms', side: 'gateway', versus: 'proxy', op: '<=', limit: 1 },
      { id: 'c', text: 'rps ≥ 0.7× proxy', bench: 'throughput', metric: 'req/s c=16', side: 'gateway', versus: 'proxy', op: '>=', limit: 0.7 },
      { id: 'd', text: 'RSS ≤ 150', bench: 'watch', metric: 'gateway RSS MB', side: 'gateway', op: '<=', limit: 150 },
      { id: 'e', text: 'not run', bench: 'exec', metric: 'x', side: 'gateway', op: '<=', limit: 1 },
    ];
    expect(evaluateGoals(figures, goals).map((g) => [g.id, g.value, g.pass])).toEqual([
      ['a', 1.5, false],
      ['b', 0.75, true],
      ['c', 0.65, false],
      ['d', 120, true],
      ['e', undefined, undefined],
    ]);
  });

  it('renders a table with the spread, the ratios and a verdict per goal, and an SVG with one bar per ratio', () => {
    const goals = evaluateGoals(figures);
    const text = renderText(figures, goals);
    expect(text).toMatch(/gw÷direct\s+gw÷proxy\s+gw÷node\n/);
    expect(text).toMatch(/get\s+GET p50 ms\s+1\.00 \(1\.00–1\.00\)\s+2\.00\s+1\.20\s+1\.50 \(1\.25–1\.50\)\s+1\.50\s+0\.750\s+1\.25\n/);
    expect(text).toMatch(/MISS {2}GET p50 ≤ 1\.15× direct/);
    expect(text).toMatch(/PASS {2}1 000 watches ≤ 150 MB gateway RSS/);
    expect(text).toMatch(/n\/a {3}policy evaluation p99/);
    const svg = renderSvg(figures, goals, 'test <run>');
    expect(svg.match(/<rect x=/g)).toHaveLength(4);
    expect(svg).toContain('get: GET p50 ms ÷ node-proxy');
    expect(svg).toContain('test &#60;run&#62;');
  });

  it('formats to three significant digits', () => {
    expect([fmt(0.12345), fmt(12.345), fmt(12345.6), fmt(undefined), fmt(NaN)]).toEqual(['0.123', '12.3', '12346', '—', '—']);
  });
});
