/**
 * `npm run bench`: Gatehouse against the API server, `kubectl proxy` and a
 * bare Node.js proxy, in one run, on the real local control plane. Prints figures, ratios and the
 * goals of issue 12; writes bench/results/<timestamp>.json, latest.json and
 * latest.svg. See docs/benchmarks.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../src/harness/binaries.js';
import { openEnv } from './lib/env.js';
import type { BenchEnv, ClusterInfo } from './lib/env.js';
import { evaluateGoals, ratioRows, renderSvg, renderText } from './lib/report.js';
import type { Figure, GoalResult, RatioRow } from './lib/report.js';
import { figureSink } from './lib/suite.js';
import type { Bench, LocalContext } from './lib/suite.js';
import { auditBench } from './suites/audit.js';
import { backtestBench } from './suites/backtest.js';
import { execBench } from './suites/exec.js';
import { getBench, listBench, throughputBench } from './suites/http.js';
import { policyBench } from './suites/policy.js';
import { secretsBench } from './suites/secrets.js';
import { watchBench } from './suites/watch.js';

/** In the order they run: in-process ones first, the heaviest (many watches) last. */
export const BENCHES: readonly Bench[] = [policyBench, backtestBench, getBench, listBench, throughputBench, secretsBench, execBench, auditBench, watchBench];

export interface BenchOptions {
  quick: boolean;
  /** Benchmark names to run; empty: all. */
  only: readonly string[];
  /** Where results go (default bench/results). */
  outDir?: string;
  /** A control plane that is already running; default: start one. */
  cluster?: ClusterInfo;
  log?: (line: string) => void;
}

export interface BenchResults {
  readonly version: 1;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly quick: boolean;
  readonly benches: readonly string[];
  readonly machine: { cpus: number; cpuModel: string; node: string; kubectl: string; loadBefore: number[]; loadAfter: number[] };
  readonly figures: readonly Figure[];
  readonly ratios: readonly RatioRow[];
  readonly goals: readonly GoalResult[];
  readonly notes: readonly string[];
}

/** Runs the selected benchmarks and writes the results; resolves to them and the file written. */
export async function runBench(options: BenchOptions): Promise<{ results: BenchResults; file: string; text: string }> {
  const log = options.log ?? ((line: string) => process.stderr.write(`[bench] ${line}\n`));
  const unknown = options.only.filter((name) => !BENCHES.some((b) => b.name === name));
  if (unknown.length > 0) throw new Error(`unknown benchmark ${unknown.join(', ')}; there are ${BENCHES.map((b) => b.name).join(', ')}`);
  const selected = BENCHES.filter((b) => options.only.length === 0 || options.only.includes(b.name));
  const startedAt = new Date();
  const loadBefore = loadavg();
  const figures: Figure[] = [];
  const notes: string[] = [];
  // Started on the first benchmark that needs it: in-process ones alone run without a control plane.
  let env: BenchEnv | undefined;
  try {
    const ctx: LocalContext = { quick: options.quick, log, add: figureSink(figures), note: (text) => notes.push(text) };
    for (const [i, bench] of selected.entries()) {
      log(`(${i + 1}/${selected.length}) ${bench.name}: ${bench.description}`);
      const t0 = performance.now();
      if (bench.inProcess) await bench.run(ctx);
      else await bench.run({ ...ctx, env: (env ??= await openEnv(options.cluster, log)) });
      log(`  ${bench.name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  } finally {
    await env?.stop();
  }
  const goals = evaluateGoals(figures);
  // Results before session 21 had the gateway and kubectl proxy present the admin's client certificate upstream.
  if (env !== undefined) notes.push('upstream credential: direct, the gateway and kubectl proxy all present the harness admin bearer token to the API server');
  const loadAfter = loadavg();
  notes.push(`load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')} (other work on the machine skews the figures)`);
  const results: BenchResults = {
    version: 1,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    quick: options.quick,
    benches: selected.map((b) => b.name),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version, kubectl: kubectlVersion(), loadBefore, loadAfter },
    figures,
    ratios: ratioRows(figures),
    goals,
    notes,
  };
  const outDir = options.outDir ?? join(await packageRoot(), 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  const json = `${JSON.stringify(results, null, 2)}\n`;
  writeFileSync(file, json);
  writeFileSync(join(outDir, 'latest.json'), json);
  const subtitle = `${results.machine.cpus} × ${results.machine.cpuModel}, ${startedAt.toISOString()}${options.quick ? ', --quick' : ''}`;
  writeFileSync(join(outDir, 'latest.svg'), renderSvg(figures, goals, subtitle));
  const text = `${renderText(figures, goals)}\n${notes.map((n) => `note: ${n}`).join('\n')}\n`;
  return { results, file, text };
}

function kubectlVersion(): string {
  try {
    const out = JSON.parse(execFileSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8' })) as { clientVersion?: { gitVersion?: string } };
    return out.clientVersion?.gitVersion ?? 'unknown';
  } catch {
    return 'not found';
  }
}

const HELP = `Usage: npm run bench -- [--quick] [--only <name>[,<name>…]] [--out <dir>]

Starts the local control plane (harness), a gateway with the guardrail pack,
the permissive baseline and audit in SQLite, kubectl proxy, and a bare Node.js
proxy (node-proxy: the least any Node.js hop costs), and measures them side by
side. Results: bench/results/<timestamp>.json, latest.json,
latest.svg; the table and the goals of issue 12 are printed.

  --quick        short runs (CI: keeps the benchmark working; numbers are rough)
  --only <name>  run only these benchmarks (repeat or comma-separate)
  --out <dir>    write results here instead of bench/results
  --help         this text

Benchmarks:
${BENCHES.map((b) => `  ${b.name.padEnd(11)} ${b.description}`).join('\n')}
`;

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string', multiple: true, default: [] },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const { file, text } = await runBench({ quick: values.quick, only: values.only.flatMap((o) => o.split(',')), outDir: values.out });
  process.stdout.write(`\n${text}\nwritten: ${file}\n`);
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`[bench] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
