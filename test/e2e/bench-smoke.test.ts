import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, inject, it } from 'vitest';
import { runBench } from '../../bench/run.js';
import type { BenchResults } from '../../bench/run.js';

// Keeps `npm run bench` working: a short GET benchmark against the shared
// cluster. The shape of the results is checked, never the numbers.
const cluster = inject('cluster');
const out = mkdtempSync(join(tmpdir(), 'gatehouse-bench-smoke-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it('runs `--quick --only get` and writes results with figures for every side, ratios and goals', async () => {
  const lines: string[] = [];
  const { file, text } = await runBench({ quick: true, only: ['get'], outDir: out, cluster, log: (line) => lines.push(line) });
  const results = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BenchResults;
  expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(results);
  expect(results).toMatchObject({ version: 1, quick: true, benches: ['get'] });
  expect(results.machine.cpus).toBeGreaterThan(0);

  const sides = (metric: string): string[] => results.figures.filter((f) => f.metric === metric).map((f) => f.side).sort();
  // kubectl proxy, and the bare Node.js proxy (bench/lib/node-proxy.ts) as the least any Node.js hop costs.
  expect(sides('GET p50 ms')).toEqual(['direct', 'gateway', 'node-proxy', 'proxy']);
  expect(sides('GET p99 ms')).toEqual(['direct', 'gateway', 'node-proxy', 'proxy']);
  // The same GET with an AI agent's token (masked reads), against direct.
  expect(sides('GET as an agent (masked) p50 ms')).toEqual(['direct', 'gateway']);
  // What each GET cost in CPU: the side in between, and (the harness names their process groups) kube-apiserver + etcd.
  expect(sides('GET CPU µs per request, the side itself')).toEqual(['gateway', 'node-proxy', 'proxy']);
  expect(sides('GET CPU µs per request, kube-apiserver + etcd')).toEqual(['direct', 'gateway', 'node-proxy', 'proxy']);
  expect(sides('GET CPU µs per request, whole chain')).toEqual(['direct', 'gateway', 'node-proxy', 'proxy']);
  for (const f of results.figures) {
    expect(f).toMatchObject({ bench: 'get', better: 'lower', value: { runs: 2 } });
    expect(f.value.min).toBeGreaterThan(0);
  }
  const cpu = ['the side itself', 'kube-apiserver + etcd', 'whole chain'];
  expect(results.ratios.map((r) => r.metric)).toEqual([
    'GET p50 ms',
    'GET p99 ms',
    ...cpu.map((part) => `GET CPU µs per request, ${part}`),
    'GET as an agent (masked) p50 ms',
    'GET as an agent (masked) p99 ms',
    ...cpu.map((part) => `GET as an agent (masked) CPU µs per request, ${part}`),
  ]);
  for (const r of results.ratios) {
    // The side itself has no direct counterpart; the agent's GET no proxy one.
    if (!r.metric.endsWith('the side itself')) expect(r.vsDirect).toBeGreaterThan(0);
    if (!r.metric.includes('agent')) {
      expect(r.vsProxy).toBeGreaterThan(0);
      expect(r.vsNodeProxy).toBeGreaterThan(0);
    }
  }
  const judged = results.goals.filter((g) => g.pass !== undefined).map((g) => g.id);
  expect(judged).toEqual(['get-p50-direct', 'get-p50-proxy']);

  expect(readFileSync(join(out, 'latest.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
  expect(text).toContain('Goals:');
  expect(lines.some((l) => l.includes('get: run 2/2'))).toBe(true);
});
