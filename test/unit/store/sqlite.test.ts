import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrations } from '../../../src/store/migrations.js';
import type { Migration } from '../../../src/store/migrations.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import { startAppendWorker } from '../../../src/store/sqlite-append-worker.js';
import { sqliteAppendStatements } from '../../../src/store/sqlite-audit.js';
import { APPEND_CONNECTION_PRAGMAS, applyPragmas, CONNECTION_PRAGMAS } from '../../../src/store/sqlite-pragmas.js';
import type { SqliteStore } from '../../../src/store/sqlite.js';

describe('openSqliteStore', () => {
  let dir: string;
  let path: string;
  const open: SqliteStore[] = [];
  const openStore = (...args: Parameters<typeof openSqliteStore>): SqliteStore => {
    const store = openSqliteStore(...args);
    open.push(store);
    return store;
  };
  const applied = (store: SqliteStore): unknown[] => store.db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-store-'));
    path = join(dir, 'nested', 'gatehouse.db');
  });
  afterEach(async () => {
    for (const store of open.splice(0)) if (store.db.open) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('numbers its migrations 1, 2, 3… with no gaps', () => {
    expect(migrations.map((m) => m.version)).toEqual(migrations.map((_, i) => i + 1));
  });

  it('creates the file 0600 in a 0700 directory, in WAL mode with a busy timeout and foreign keys', () => {
    const store = openStore(path, { busyTimeoutMs: 1234 });
    store.db.prepare('SELECT COUNT(*) FROM tokens').get();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(`${path}-wal`).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'nested')).mode & 0o777).toBe(0o700);
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('busy_timeout', { simple: true })).toBe(1234);
    expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
  });

  it('commits with an fsync on every connection: synchronous=FULL, also when the file is already in WAL mode', async () => {
    await openStore(path).close();
    // What a plain connection to a WAL file gets from this build of SQLite: commits without an fsync.
    const plain = new Database(path);
    expect(plain.pragma('synchronous', { simple: true })).toBe(1);
    plain.close();
    expect(openStore(path).db.pragma('synchronous', { simple: true })).toBe(2);
  });

  it('refuses to go on with a connection setting SQLite did not take', () => {
    const db = new Database(':memory:');
    expect(() => applyPragmas(db, [{ name: 'synchronous', value: 'FULL', reads: 3 }])).toThrow(/did not take "PRAGMA synchronous = FULL" \(it reports 2\)/);
    db.close();
  });

  it('sets the same connection pragmas on the audit append thread, and a small page cache', async () => {
    // Durability is the same on both connections; only the append thread's cache is smaller (4 MiB, not 16 MB).
    expect(APPEND_CONNECTION_PRAGMAS).toEqual(expect.arrayContaining([...CONNECTION_PRAGMAS]));
    expect(APPEND_CONNECTION_PRAGMAS.find((p) => p.name === 'cache_size')?.reads).toBe(-4096);
    const store = openStore(path);
    const marker = { name: 'user_version', value: '77', reads: 77 };
    // The thread refuses to start when a pragma does not read back, so an answer means all of them took.
    const worker = startAppendWorker(path, 1000, sqliteAppendStatements(), [...APPEND_CONNECTION_PRAGMAS, marker]);
    try {
      // A plan on a head that is not there: nothing is written, the thread only starts and answers.
      const reply = await worker.write({ expect: [99, 'no-such-head', 0, 0], eventRows: [], chunkDataRows: [], chunkRows: [], checkpointRow: undefined, headRow: [] });
      expect(reply.committed).toBe(false);
      expect(store.db.pragma('user_version', { simple: true })).toBe(77);
    } finally {
      await worker.close();
    }
  });

  it('tightens a store file that others can read', async () => {
    await openStore(path).close();
    chmodSync(path, 0o644);
    openStore(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('applies the migrations once; reopening is idempotent', async () => {
    const first = openStore(path);
    expect(first.schemaVersion).toBe(migrations.length);
    expect(applied(first)).toEqual(migrations.map((m) => ({ version: m.version, name: m.name })));
    await first.close();
    const second = openStore(path);
    expect(second.schemaVersion).toBe(migrations.length);
    expect(applied(second)).toHaveLength(migrations.length);
  });

  it('applies only the new migrations of a newer Gatehouse, and none of a failed one', async () => {
    await openStore(path).close();
    const next: Migration = { version: migrations.length + 1, name: 'extra', sql: 'CREATE TABLE extra (id TEXT PRIMARY KEY)' };
    const upgraded = openStore(path, { migrations: [...migrations, next] });
    expect(upgraded.schemaVersion).toBe(next.version);
    expect(applied(upgraded).at(-1)).toEqual({ version: next.version, name: 'extra' });
    await upgraded.close();

    const broken: Migration = { version: next.version + 1, name: 'broken', sql: 'CREATE TABLE half (id TEXT); CREATE TABLE nonsense (' };
    expect(() => openSqliteStore(path, { migrations: [...migrations, next, broken] })).toThrow(/migration \d+ \(broken\).*failed/);
    const after = openStore(path, { migrations: [...migrations, next] });
    expect(applied(after)).toHaveLength(next.version);
    expect(after.db.prepare("SELECT name FROM sqlite_master WHERE name = 'half'").get()).toBeUndefined();
  });

  it('refuses a store whose schema is newer than this code knows', async () => {
    const store = openStore(path);
    store.db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(99, 'from the future', Date.now());
    await store.close();
    expect(() => openSqliteStore(path)).toThrow(`has schema version 99, newer than the ${migrations.length} this Gatehouse knows`);
  });

  it('shares the file with other connections; a second open finds it migrated', () => {
    openStore(path);
    const other = new Database(path);
    try {
      expect(other.prepare('SELECT MAX(version) AS v FROM schema_migrations').get()).toEqual({ v: migrations.length });
    } finally {
      other.close();
    }
    expect(openStore(path).schemaVersion).toBe(migrations.length);
  });
});
