/** Proposals in the real stores (SQLite and PostgreSQL): insert, find the pending one an identical write rejoins, list, transactional changes; migration 7. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrations } from '../../../src/store/migrations.js';
import { postgresFactory, sqliteFactory } from '../audit/stores.js';
import { stored } from './fixtures.js';

describe.each([sqliteFactory(), postgresFactory()])('proposals on $name', (factory) => {
  beforeAll(() => factory.setup(), 60_000);
  afterAll(() => factory.teardown(), 30_000);

  it('is migration 7', () => {
    expect(migrations.find((m) => m.version === 7)).toMatchObject({ name: 'proposals' });
  });

  it('stores a proposal whole and finds the pending one of the same requester, fingerprint and cluster', async () => {
    const opened = await factory.open();
    try {
      const repo = opened.store.proposals;
      const a = stored('prp_a', '2026-11-25T10:00:00.000Z');
      await repo.insert(a);
      expect(await repo.get('prp_a')).toEqual(a);
      expect(await repo.get('prp_nope')).toBeUndefined();
      expect(await repo.findPending('default', 'token:bot', 'fp-1')).toEqual(a);
      expect(await repo.findPending('other', 'token:bot', 'fp-1')).toBeUndefined();
      expect(await repo.findPending('default', 'token:someone', 'fp-1')).toBeUndefined();
      expect(await repo.findPending('default', 'token:bot', 'fp-2')).toBeUndefined();
      // Once decided, the identical write makes a new proposal.
      await repo.update('prp_a', (p) => ({ next: { ...p, state: 'rejected' }, result: null }));
      expect(await repo.findPending('default', 'token:bot', 'fp-1')).toBeUndefined();
    } finally {
      await opened.close();
    }
  });

  it('lists newest first, by state, bounded', async () => {
    const opened = await factory.open();
    try {
      const repo = opened.store.proposals;
      await repo.insert(stored('prp_1', '2026-11-25T10:00:00.000Z'));
      await repo.insert(stored('prp_2', '2026-11-25T11:00:00.000Z', { state: 'applied' }));
      await repo.insert(stored('prp_3', '2026-11-25T12:00:00.000Z'));
      expect((await repo.list({ limit: 10 })).map((p) => p.id)).toEqual(['prp_3', 'prp_2', 'prp_1']);
      expect((await repo.list({ state: 'pending', limit: 10 })).map((p) => p.id)).toEqual(['prp_3', 'prp_1']);
      expect((await repo.list({ state: 'applied', limit: 10 })).map((p) => p.id)).toEqual(['prp_2']);
      expect((await repo.list({ limit: 1 })).map((p) => p.id)).toEqual(['prp_3']);
    } finally {
      await opened.close();
    }
  });

  it('changes a proposal in one transaction: of two concurrent decisions, one wins', async () => {
    const opened = await factory.open();
    const other = await opened.openAnother();
    try {
      await opened.store.proposals.insert(stored('prp_x', '2026-11-25T10:00:00.000Z'));
      const decide = (repo: typeof other.proposals, by: string) =>
        repo.update('prp_x', (p) => (p.state !== 'pending' ? { result: false } : { next: { ...p, state: 'applied', decidedBy: by }, result: true }));
      const results = await Promise.all([decide(opened.store.proposals, 'alice'), decide(other.proposals, 'carol')]);
      expect(results.map((r) => r?.result).sort()).toEqual([false, true]);
      expect((await opened.store.proposals.get('prp_x'))?.state).toBe('applied');
      expect(await opened.store.proposals.update('prp_unknown', () => ({ result: 1 }))).toBeUndefined();
    } finally {
      await other.close();
      await opened.close();
    }
  });
});
