import type pg from 'pg';
import type { BudgetsRepo, ChargeResult } from '../budgets/store.js';
import type { WindowCounts } from '../budgets/window.js';
import { numberPlaceholders } from './audit-rows.js';
import { BUDGET_SQL, chargeWindow } from './budgets-rows.js';
import type { CounterRow } from './budgets-rows.js';
import { inTransaction } from './postgres-tx.js';

const READ = numberPlaceholders(BUDGET_SQL.read);
const TAKE = numberPlaceholders(BUDGET_SQL.take);
const PRUNE = numberPlaceholders(BUDGET_SQL.prune);

class NoRoom extends Error {
  constructor(readonly result: ChargeResult) {
    super('no room');
  }
}

/**
 * Budget counters in PostgreSQL, shared by every replica: a charge is one
 * transaction, and each count is a conditional upsert, so two replicas
 * counting the last unit at once cannot both get it.
 */
export function createPostgresBudgetsRepo(pool: pg.Pool): BudgetsRepo {
  return {
    charge: async (charges, now) => {
      try {
        return await inTransaction(pool, async (client): Promise<ChargeResult> => {
          const counts: WindowCounts[] = [];
          for (const [index, c] of charges.entries()) {
            const w = chargeWindow(c, now);
            const before = w.counts((await client.query<CounterRow>(READ, [...w.readArgs])).rows);
            const cap = w.cap(before);
            const row = cap > 0 ? (await client.query<{ count: number }>(TAKE, [...w.takeArgs(cap)])).rows[0] : undefined;
            // Throwing rolls back the charges already taken.
            if (row === undefined) throw new NoRoom({ counted: false, index, counts: before });
            counts.push({ current: Number(row.count), previous: before.previous });
          }
          return { counted: true, counts };
        });
      } catch (err) {
        if (err instanceof NoRoom) return err.result;
        throw err;
      }
    },
    peek: async (c, now) => {
      const w = chargeWindow(c, now);
      return w.counts((await pool.query<CounterRow>(READ, [...w.readArgs])).rows);
    },
    prune: async (now) => (await pool.query(PRUNE, [now])).rowCount ?? 0,
  };
}
