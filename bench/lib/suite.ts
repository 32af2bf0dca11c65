/** The shape every benchmark has, and what it is given to run. */
import type { BenchEnv } from './env.js';
import type { Figure, Side } from './report.js';
import { spread } from './stats.js';
import type { Target } from './targets.js';

/** What an in-process benchmark is given: no control plane. */
export interface LocalContext {
  readonly quick: boolean;
  /** A progress line. */
  log(line: string): void;
  /** Records a figure: one value per run (a single value for one run). */
  add(bench: string, metric: string, side: Side, better: Figure['better'], values: readonly number[]): void;
  /** A remark that belongs in the results (e.g. what a figure does not cover). */
  note(text: string): void;
}

export interface BenchContext extends LocalContext {
  readonly env: BenchEnv;
}

/** A benchmark; `inProcess` ones run without the control plane, which is then not started for them. */
export type Bench =
  | { readonly name: string; readonly description: string; readonly inProcess?: false; run(ctx: BenchContext): Promise<void> }
  | { readonly name: string; readonly description: string; readonly inProcess: true; run(ctx: LocalContext): Promise<void> };

/** Figures gathered run by run under (metric, side), each handed to `ctx.add` with its values of every run by `add()`. */
export function perRun(ctx: LocalContext, bench: string, better: Figure['better']): { keep(metric: string, side: Side, value: number): void; add(): void } {
  const figures = new Map<string, { metric: string; side: Side; values: number[] }>();
  return {
    keep(metric, side, value) {
      const key = `${metric}\u0000${side}`;
      const figure = figures.get(key) ?? { metric, side, values: [] };
      figure.values.push(value);
      figures.set(key, figure);
    },
    add() {
      for (const f of figures.values()) ctx.add(bench, f.metric, f.side, better, f.values);
    },
  };
}

/** Builds the figure list that a {@link BenchContext} appends to. */
export function figureSink(figures: Figure[]): BenchContext['add'] {
  return (bench, metric, side, better, values) => figures.push({ bench, metric, side, better, value: spread(values) });
}

/**
 * The order of sides in run `r`: run after run another permutation, so no side always goes first (warm caches, GC
 * debt) or always follows the same other side (the one before it may leave the API server or the CPU busy).
 */
export function rotated(targets: readonly Target[], r: number): Target[] {
  const orders = permutations(targets);
  return orders[r % orders.length]!;
}

/** Every order of `items`, those starting with each item spread over the list: [a b c], [b c a]… before [a c b]. */
function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  const byFirst = items.map((first, i) => permutations([...items.slice(i + 1), ...items.slice(0, i)]).map((rest) => [first, ...rest]));
  // Interleaved: the first runs already rotate which side goes first, as the benchmark did before.
  return byFirst[0]!.flatMap((_, k) => byFirst.map((list) => list[k]!));
}
