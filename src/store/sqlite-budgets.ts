import type Database from 'better-sqlite3';
import type { BudgetsRepo, ChargeResult } from '../budgets/store.js';
import type { WindowCounts } from '../budgets/window.js';
import { BUDGET_SQL, chargeWindow } from './budgets-rows.js';
import type { CounterRow } from './budgets-rows.js';
import { settle } from './sqlite-tokens.js';

class NoRoom extends Error {
  constructor(readonly result: ChargeResult) {
    super('no room');
  }
}

/** Budget counters in the embedded SQLite store; a charge is one IMMEDIATE transaction. */
export function createSqliteBudgetsRepo(db: Database.Database): BudgetsRepo {
  const read = db.prepare<[string, string, number, number], CounterRow>(BUDGET_SQL.read);
  const take = db.prepare<[string, string, number, number, number], { count: number }>(BUDGET_SQL.take);
  const prune = db.prepare<[number]>(BUDGET_SQL.prune);

  const charge = db.transaction((charges: Parameters<BudgetsRepo['charge']>[0], now: number): ChargeResult => {
    const counts: WindowCounts[] = [];
    charges.forEach((c, index) => {
      const w = chargeWindow(c, now);
      const before = w.counts(read.all(...w.readArgs));
      const cap = w.cap(before);
      const row = cap > 0 ? take.get(...w.takeArgs(cap)) : undefined;
      // Throwing rolls back the charges already taken.
      if (row === undefined) throw new NoRoom({ counted: false, index, counts: before });
      counts.push({ current: Number(row.count), previous: before.previous });
    });
    return { counted: true, counts };
  });

  return {
    charge: (charges, now) =>
      settle(() => {
        try {
          return charge.immediate(charges, now);
        } catch (err) {
          if (err instanceof NoRoom) return err.result;
          throw err;
        }
      }),
    peek: (c, now) =>
      settle(() => {
        const w = chargeWindow(c, now);
        return w.counts(read.all(...w.readArgs));
      }),
    prune: (now) => settle(() => prune.run(now).changes),
  };
}
