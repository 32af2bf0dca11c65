/** Budget counts in the real stores (SQLite and PostgreSQL): atomic, all-or-none, shared by replicas, kept across a restart. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BudgetCharge } from '../../../src/budgets/store.js';
import { postgresFactory, sqliteFactory } from '../audit/stores.js';

const W = 60_000;
const T = Date.UTC(2026, 0, 1, 12, 0, 0); // a window start
const charge = (budget: string, key: string, limit: number): BudgetCharge => ({ budget, key, limit, windowMs: W });

describe.each([sqliteFactory(), postgresFactory()])('budget counts on $name', (factory) => {
  beforeAll(() => factory.setup(), 60_000);
  afterAll(() => factory.teardown(), 30_000);

  it('counts up to the limit, then refuses without counting', async () => {
    const opened = await factory.open();
    try {
      const repo = opened.store.budgets;
      const c = charge('deletes', 'agent', 3);
      for (let i = 1; i <= 3; i++) expect(await repo.charge([c], T + i)).toEqual({ counted: true, counts: [{ current: i, previous: 0 }] });
      expect(await repo.charge([c], T + 4)).toEqual({ counted: false, index: 0, counts: { current: 3, previous: 0 } });
      expect(await repo.peek(c, T + 5)).toEqual({ current: 3, previous: 0 });
      // Another key and another budget have their own counts.
      expect((await repo.charge([charge('deletes', 'other', 3)], T + 6)).counted).toBe(true);
      expect((await repo.charge([charge('writes', 'agent', 3)], T + 6)).counted).toBe(true);
    } finally {
      await opened.close();
    }
  });

  it('counts all charges of a request or none of them', async () => {
    const opened = await factory.open();
    try {
      const repo = opened.store.budgets;
      const roomy = charge('per-agent', 'agent', 10);
      const tight = charge('per-namespace', 'prod', 1);
      expect((await repo.charge([roomy, tight], T)).counted).toBe(true);
      expect(await repo.charge([roomy, tight], T + 1)).toEqual({ counted: false, index: 1, counts: { current: 1, previous: 0 } });
      // The roomy budget was not charged for the refused request.
      expect(await repo.peek(roomy, T + 2)).toEqual({ current: 1, previous: 0 });
    } finally {
      await opened.close();
    }
  });

  it('weighs the previous window: a burst at the end of one window counts at the start of the next', async () => {
    const opened = await factory.open();
    try {
      const repo = opened.store.budgets;
      const c = charge('burst', 'agent', 4);
      for (let i = 0; i < 4; i++) expect((await repo.charge([c], T + W - 100)).counted).toBe(true);
      // 15s into the next window, 4 × 0.75 = 3 still count: one more fits, not two.
      expect(await repo.charge([c], T + W + 15_000)).toEqual({ counted: true, counts: [{ current: 1, previous: 4 }] });
      expect((await repo.charge([c], T + W + 15_000)).counted).toBe(false);
      // Two windows later the burst no longer counts.
      expect(await repo.charge([c], T + 2 * W + 1)).toEqual({ counted: true, counts: [{ current: 1, previous: 1 }] });
    } finally {
      await opened.close();
    }
  });

  it('shares the count between replicas racing for the last units', async () => {
    const opened = await factory.open();
    try {
      const other = await opened.openAnother();
      const c = charge('race', 'agent', 5);
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? opened.store : other).budgets.charge([c], T + 10)));
      expect(results.filter((r) => r.counted)).toHaveLength(5);
      expect(await other.budgets.peek(c, T + 11)).toEqual({ current: 5, previous: 0 });
    } finally {
      await opened.close();
    }
  });

  it('keeps the count across a restart (a new connection to the same store)', async () => {
    const opened = await factory.open();
    try {
      const c = charge('restart', 'agent', 2);
      await opened.store.budgets.charge([c], T);
      await opened.store.budgets.charge([c], T + 1);
      const restarted = await opened.openAnother();
      expect((await restarted.budgets.charge([c], T + 2)).counted).toBe(false);
    } finally {
      await opened.close();
    }
  });

  it('prunes the windows that can no longer count', async () => {
    const opened = await factory.open();
    try {
      const repo = opened.store.budgets;
      const c = charge('prune', 'agent', 5);
      await repo.charge([c], T);
      await repo.charge([c], T + W);
      expect(await repo.prune(T + 2 * W - 1)).toBe(0);
      expect(await repo.prune(T + 2 * W)).toBe(1); // the first window, two windows on
      expect(await repo.peek(c, T + 2 * W)).toEqual({ current: 0, previous: 1 });
    } finally {
      await opened.close();
    }
  });

  it('fails (so the stage refuses the request) when the store is unavailable', async () => {
    const opened = await factory.open();
    try {
      await opened.outage();
      await expect(opened.store.budgets.charge([charge('down', 'agent', 5)], T)).rejects.toThrow();
    } finally {
      await opened.restore();
      await opened.close();
    }
  }, 30_000);
});
