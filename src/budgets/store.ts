/**
 * Where budget counts live (src/store/*-budgets.ts): one row per budget,
 * key and fixed window, in the gateway store, so every replica on one
 * PostgreSQL database shares the counts and a restart keeps them.
 *
 * @module
 */

import type { WindowCounts } from './window.js';

/** One count to take: a request against one budget for one key. */
export interface BudgetCharge {
  readonly budget: string;
  /** Whose count: the subject, namespace… as the budget's `per` says. */
  readonly key: string;
  readonly limit: number;
  readonly windowMs: number;
}

export type ChargeResult =
  /** Every charge was counted; the counts after counting, one per charge. */
  | { readonly counted: true; readonly counts: readonly WindowCounts[] }
  /** Nothing was counted: charge `index` had no room; its counts as they stand. */
  | { readonly counted: false; readonly index: number; readonly counts: WindowCounts };

export interface BudgetsRepo {
  /**
   * Counts the request against every charge at `now`, all or none, in one
   * transaction: when one budget has no room, none of the others is counted.
   * Atomic across replicas (a conditional upsert on the window's row).
   */
  charge(charges: readonly BudgetCharge[], now: number): Promise<ChargeResult>;
  /** The counts of one budget and key at `now`, without counting. */
  peek(charge: BudgetCharge, now: number): Promise<WindowCounts>;
  /** Deletes the rows of windows that can no longer count at `now`; returns how many. */
  prune(now: number): Promise<number>;
}
