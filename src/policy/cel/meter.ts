/**
 * Runtime cost meter for CEL evaluation.
 *
 * CEL has no loops, but comprehensions (`all`, `exists`, `map`, …) over input
 * lists nest, and strings/lists can be large, so a policy could still keep the
 * gateway busy for seconds. Every evaluation gets a budget of cost units:
 *
 * - on entering a comprehension (`all`, `exists`, `map`, …), 1 unit per
 *   item × (1 + the number of AST nodes in its body): the most nodes the
 *   iterations can evaluate. Charged before iterating, so nested
 *   comprehensions are charged as the product of their sizes, and a
 *   comprehension that stops early (`exists` finding a match) is charged
 *   as if it had not — the bound is on the worst case, like Kubernetes'
 *   estimated cost. Everything outside comprehensions runs at most once
 *   per enclosing iteration, so this bounds the number of nodes evaluated;
 * - for operators and function calls, units proportional to the size of
 *   their operands: 1 per list element, 1 per {@link CHARS_PER_UNIT}
 *   characters of a string or bytes, and the deep size of both sides for
 *   `==`, `!=` and `in` on lists and maps;
 * - functions implemented here (regex, strings, lists, quantity) charge for
 *   the work they are about to do *before* doing it.
 *
 * When the budget runs out, the meter throws one preallocated error; every
 * later charge in the same evaluation throws it again, so loops that absorb
 * errors (`exists`, `||`) unwind in O(remaining items) with no new
 * allocations. The evaluator reports the evaluation as over budget even if
 * CEL's error absorption would otherwise produce a value (fail closed).
 *
 * Evaluation is synchronous and single-threaded, so one module-level meter
 * is enough; {@link startMeter} resets it for each evaluation.
 */

/** Characters (UTF-16 units) of string input that cost one unit. */
export const CHARS_PER_UNIT = 16;

/** Default per-evaluation budget (see README for how it was chosen). */
export const DEFAULT_COST_LIMIT = 100_000;

/** Thrown (always the same instance) once the budget is exhausted. */
export class CelCostLimitError extends Error {
  constructor() {
    super('CEL cost limit exceeded');
    this.name = 'CelCostLimitError';
  }
}

const EXHAUSTED = new CelCostLimitError();

let remaining = Number.POSITIVE_INFINITY;
let limit = Number.POSITIVE_INFINITY;
let exhausted = false;

/** Resets the meter for a new evaluation with `costLimit` units; `deepSizes` keeps deep sizes for the request (activation.ts). */
export function startMeter(costLimit: number, deepSizes?: Map<object, number>): void {
  remaining = costLimit;
  limit = costLimit;
  exhausted = false;
  deepCache = deepSizes;
}

let lastUsed = 0;

/** Units consumed by the last finished evaluation (capped at its limit when it ran over). */
export function lastCost(): number {
  return lastUsed;
}

/** True once the current evaluation ran over budget. */
export function meterExhausted(): boolean {
  return exhausted;
}

/** Stops metering (used after an evaluation so stray calls cost nothing). */
export function stopMeter(): void {
  lastUsed = Math.min(limit, limit - remaining);
  remaining = Number.POSITIVE_INFINITY;
  limit = Number.POSITIVE_INFINITY;
  deepCache = undefined;
}

/** Units left in the current evaluation (to measure what a part of it cost). */
export function remainingUnits(): number {
  return remaining;
}

/** Charges `units`; throws the shared {@link CelCostLimitError} when over budget. */
export function charge(units: number): void {
  remaining -= units;
  if (remaining < 0) {
    exhausted = true;
    throw EXHAUSTED;
  }
}

/** Cost units of scanning a string of `length` UTF-16 units. */
export function stringUnits(length: number): number {
  return Math.ceil(length / CHARS_PER_UNIT);
}

/**
 * Shallow size of a value in cost units: list length, string/bytes length
 * in {@link CHARS_PER_UNIT} chunks, 0 for scalars and maps (map operations
 * other than equality are O(1)).
 */
export function shallowUnits(v: unknown): number {
  if (typeof v === 'string') return v.length < CHARS_PER_UNIT ? 0 : stringUnits(v.length);
  if (Array.isArray(v)) return v.length;
  if (v instanceof Uint8Array) return stringUnits(v.length);
  return 0;
}

let deepCache: Map<object, number> | undefined;

/** Deep sizes below this are computed again rather than kept (literal lists are new on every evaluation). */
const DEEP_CACHE_MIN = 64;

/**
 * Deep size in cost units (1 per list element or map entry, plus string
 * sizes). Large ones are kept for the request: activation values are
 * immutable and shared by every rule of a policy, so those are computed at
 * most once per request.
 */
export function deepUnits(v: unknown, depth = 0): number {
  if (typeof v === 'string') return stringUnits(v.length);
  if (v === null || typeof v !== 'object') return 1;
  const cached = deepCache?.get(v);
  if (cached !== undefined) return cached;
  if (depth > 200) return 1_000_000_000;
  let n = 1;
  if (Array.isArray(v)) {
    for (const x of v as unknown[]) n += deepUnits(x, depth + 1);
  } else if (v instanceof Uint8Array) {
    n += stringUnits(v.length);
  } else if (v instanceof Map) {
    for (const [k, x] of v as Map<unknown, unknown>) n += deepUnits(k, depth + 1) + deepUnits(x, depth + 1);
  } else {
    // An undefined value is a missing field (the conversion drops it; compiled code reads objects unconverted).
    for (const k in v) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) n += 1 + deepUnits(x, depth + 1);
    }
  }
  if (n >= DEEP_CACHE_MIN) deepCache?.set(v, n);
  return n;
}
