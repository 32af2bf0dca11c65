/**
 * The budget counters' SQL, written once with `?` placeholders: SQLite runs
 * it as is, PostgreSQL after {@link numberPlaceholders}. A row is one
 * budget, key and fixed window; it expires two windows after its start,
 * when it can no longer weigh in (src/budgets/window.ts).
 *
 * @internal
 */

import type { BudgetCharge } from '../budgets/store.js';
import { currentCap, windowStart } from '../budgets/window.js';
import type { WindowCounts } from '../budgets/window.js';

export const BUDGET_SQL = {
  /** Arguments: budget, key, current window start, previous window start. */
  read: 'SELECT window_start, count FROM budget_counters WHERE budget = ? AND counter_key = ? AND window_start IN (?, ?)',
  /** Counts one more unless the window already holds `cap`. Arguments: budget, key, window start, expires at, cap. No row back: no room. */
  take: `INSERT INTO budget_counters (budget, counter_key, window_start, count, expires_at) VALUES (?, ?, ?, 1, ?)
         ON CONFLICT (budget, counter_key, window_start) DO UPDATE SET count = budget_counters.count + 1 WHERE budget_counters.count < ?
         RETURNING count`,
  prune: 'DELETE FROM budget_counters WHERE expires_at <= ?',
} as const;

export interface CounterRow {
  window_start: number | string;
  count: number | string;
}

/** Where one charge stands at `now`: its window, the arguments of the read, and the room left once the counts are known. */
export function chargeWindow(charge: BudgetCharge, now: number) {
  const start = windowStart(now, charge.windowMs);
  return {
    readArgs: [charge.budget, charge.key, start, start - charge.windowMs] as [string, string, number, number],
    counts: (rows: readonly CounterRow[]): WindowCounts => {
      let current = 0;
      let previous = 0;
      for (const r of rows) {
        if (Number(r.window_start) === start) current = Number(r.count);
        else previous = Number(r.count);
      }
      return { current, previous };
    },
    /** The most the current window may hold; 0 or less: no room whatever it holds. */
    cap: (counts: WindowCounts): number => currentCap(charge.limit, charge.windowMs, counts.previous, now - start),
    takeArgs: (cap: number): [string, string, number, number, number] => [charge.budget, charge.key, start, start + 2 * charge.windowMs, cap],
  };
}
