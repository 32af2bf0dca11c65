import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { migrations as knownMigrations } from './migrations.js';
import type { Migration } from './migrations.js';
import { createSqliteApprovalsRepo } from './sqlite-approvals.js';
import { createSqliteClusterAgentTokensRepo } from './cluster-agent-tokens.js';
import { createSqliteAuditRepo } from './sqlite-audit.js';
import { createSqliteBudgetsRepo } from './sqlite-budgets.js';
import { createSqliteTokensRepo } from './sqlite-tokens.js';
import { createSqliteProposalsRepo } from './sqlite-proposals.js';
import { applyPragmas, CONNECTION_PRAGMAS } from './sqlite-pragmas.js';
import type { Store } from './types.js';

/** The embedded store: one SQLite file in WAL mode. */
export interface SqliteStore extends Store {
  readonly path: string;
  readonly db: Database.Database;
  /** The schema version after the migrations ran. */
  readonly schemaVersion: number;
}

export interface SqliteStoreOptions {
  /** How long a statement waits for another connection's lock before it fails (default 5000). */
  busyTimeoutMs?: number;
  /** The migrations to apply (default: the ones this Gatehouse ships; tests pass others). */
  migrations?: readonly Migration[];
}

/**
 * Opens (creating it 0600 in a 0700 directory when missing) the SQLite
 * store, switches it to WAL with a busy timeout, foreign keys on and
 * synchronous=FULL (sqlite-pragmas.ts), and
 * applies the pending migrations in one transaction. A database written by a
 * newer Gatehouse (a schema version this code does not know) is refused.
 *
 * @example
 * const store = openSqliteStore(join(config.dataDir, config.store.sqlite.path));
 * const tokens = createTokenService(store);
 */
export function openSqliteStore(path: string, options: SqliteStoreOptions = {}): SqliteStore {
  createPrivateFile(path);
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  const db = new Database(path, { timeout: busyTimeoutMs });
  let schemaVersion: number;
  try {
    db.pragma('journal_mode = WAL');
    applyPragmas(db, CONNECTION_PRAGMAS);
    schemaVersion = migrate(db, path, options.migrations ?? knownMigrations);
  } catch (err) {
    db.close();
    throw err;
  }
  const audit = createSqliteAuditRepo(db, { busyTimeoutMs });
  return {
    path,
    db,
    schemaVersion,
    tokens: createSqliteTokensRepo(db),
    audit,
    approvals: createSqliteApprovalsRepo(db),
    budgets: createSqliteBudgetsRepo(db),
    clusterAgentTokens: createSqliteClusterAgentTokensRepo(db),
    proposals: createSqliteProposalsRepo(db),
    async close() {
      await audit.close();
      db.close();
    },
  };
}

function createPrivateFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  closeSync(openSync(path, 'a', 0o600));
  // SQLite gives its -wal and -shm files the database file's mode.
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
}

function migrate(db: Database.Database, path: string, migrations: readonly Migration[]): number {
  const latest = migrations.at(-1)?.version ?? 0;
  const run = db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
    const row = db.prepare('SELECT MAX(version) AS version FROM schema_migrations').get() as { version: number | null };
    const current = row.version ?? 0;
    if (current > latest) {
      throw new Error(
        `the store ${path} has schema version ${current}, newer than the ${latest} this Gatehouse knows: it was written by a newer Gatehouse; upgrade Gatehouse to use it`,
      );
    }
    const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      try {
        db.exec(migration.sql);
      } catch (err) {
        throw new Error(`migration ${migration.version} (${migration.name}) of the store ${path} failed: ${(err as Error).message}`, { cause: err });
      }
      record.run(migration.version, migration.name, Date.now());
    }
    return Math.max(current, latest);
  });
  // IMMEDIATE: two processes opening a fresh store at once take turns instead of both migrating.
  return run.immediate();
}
