/** The PostgreSQL store against a real server started here: migrations, and the tokens repository behind the same interface as SQLite's. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTokenService } from '../../../src/identity/tokens.js';
import { startPostgres } from '../../../src/harness/postgres.js';
import type { PostgresServer } from '../../../src/harness/postgres.js';
import { migrations } from '../../../src/store/migrations.js';
import { openPostgresStore, redactUrl } from '../../../src/store/postgres.js';

describe('openPostgresStore', () => {
  let server: PostgresServer;
  let n = 0;
  const database = () => server.createDatabase(`store_${++n}`);

  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(() => server.destroy(), 30_000);

  it('applies the migrations once, also when replicas open it at the same moment', async () => {
    const url = await database();
    const stores = await Promise.all([openPostgresStore(url), openPostgresStore(url), openPostgresStore(url)]);
    try {
      expect(stores.map((s) => s.schemaVersion)).toEqual([migrations.length, migrations.length, migrations.length]);
      const [first] = stores;
      const { rows } = await first.pool.query('SELECT version, name FROM schema_migrations ORDER BY version');
      expect(rows).toEqual(migrations.map((m) => ({ version: m.version, name: m.name })));
      expect((await first.audit.head()).seq).toBe(0);
    } finally {
      for (const s of stores) await s.close();
    }
  });

  it('refuses a database whose schema is newer than this code knows', async () => {
    const url = await database();
    const store = await openPostgresStore(url);
    await store.pool.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, $1, 0)', ['from the future']);
    await store.close();
    await expect(openPostgresStore(url)).rejects.toThrow(`has schema version 99, newer than the ${migrations.length} this Gatehouse knows`);
  });

  it('rolls back a failed migration as a whole', async () => {
    const url = await database();
    const broken = [...migrations, { version: migrations.length + 1, name: 'broken', sql: 'CREATE TABLE half (id TEXT); CREATE TABLE nonsense (' }];
    await expect(openPostgresStore(url, { migrations: broken })).rejects.toThrow(/migration \d+ \(broken\).*failed/);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      expect((await client.query("SELECT to_regclass('half') AS t, to_regclass('tokens') AS tokens")).rows).toEqual([{ t: null, tokens: null }]);
    } finally {
      await client.end();
    }
  });

  it('serves Gatehouse tokens like the SQLite store: create, authenticate, list, revoke', async () => {
    const store = await openPostgresStore(await database());
    try {
      const service = createTokenService(store);
      const { token, record } = await service.create({ name: 'ci-deploy', kind: 'ci', groups: ['deployers'], ttlSeconds: 3600 });
      await expect(service.create({ name: 'ci-deploy', kind: 'ci', groups: [] })).rejects.toThrow(/already/);
      expect(await service.authenticator(token)).toMatchObject({ subject: 'token:ci-deploy', groups: ['deployers'], kind: 'ci', tokenId: record.id });
      const [listed] = await service.list();
      expect(listed).toMatchObject({ name: 'ci-deploy', status: 'active' });
      expect(listed!.expiresAt!.getTime()).toBe(record.expiresAt!.getTime());
      await service.flush();
      expect((await store.tokens.findById(record.id))?.lastUsedAt).toEqual(expect.any(Number));
      expect((await service.revoke('ci-deploy')).alreadyRevoked).toBe(false);
      expect(await service.authenticator(token)).toBeUndefined();
      expect(await service.list()).toEqual([]);
      expect(await service.list({ includeRevoked: true })).toHaveLength(1);
    } finally {
      await store.close();
    }
  });

  it('hides the password in messages', () => {
    expect(redactUrl('postgres://gh:s3cret@db:5432/gatehouse')).toBe('postgres://gh:***@db:5432/gatehouse');
  });
});
