import pg from 'pg';
import { migrations as knownMigrations } from './migrations.js';
import type { Migration } from './migrations.js';
import { createPostgresApprovalsRepo } from './postgres-approvals.js';
import { createPostgresAuditRepo } from './postgres-audit.js';
import { createPostgresBudgetsRepo } from './postgres-budgets.js';
import { createPostgresTokensRepo } from './postgres-tokens.js';
import { createPostgresClusterAgentTokensRepo } from './cluster-agent-tokens.js';
import { inTransaction } from './postgres-tx.js';
import { createPostgresProposalsRepo } from './postgres-proposals.js';
import type { Store } from './types.js';

/** The shared store for several gateway replicas: one PostgreSQL database. */
export interface PostgresStore extends Store {
  readonly pool: pg.Pool;
  readonly schemaVersion: number;
}

export interface PostgresStoreOptions {
  /** Connections in the pool (default 4). */
  maxConnections?: number;
  /** How long to wait for a connection or a statement before failing (default 10 000 ms), so an outage fails fast instead of hanging requests. */
  timeoutMs?: number;
  /** Told about errors on idle connections (the server went away); the next query reconnects. */
  onIdleError?: (err: Error) => void;
  migrations?: readonly Migration[];
}

// Any constant: the key of the advisory lock that serialises migrations across replicas.
const MIGRATION_LOCK = 0x6761_7465;

/**
 * Connects to PostgreSQL (a `postgres://user@host:port/db` URL) and applies
 * the pending migrations in one transaction under an advisory lock, so
 * replicas starting together migrate once. A database written by a newer
 * Gatehouse is refused.
 *
 * @example
 * const store = await openPostgresStore('postgres://gatehouse@db:5432/gatehouse');
 * const writer = createAuditWriter(store.audit, { signer });
 */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const pool = new pg.Pool({
    connectionString: url,
    max: options.maxConnections ?? 4,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    idleTimeoutMillis: 30_000,
  });
  // Without a listener an idle connection's error (server restart) would crash the process.
  pool.on('error', (err) => options.onIdleError?.(err));
  let schemaVersion: number;
  try {
    schemaVersion = await migrate(pool, url, options.migrations ?? knownMigrations);
  } catch (err) {
    await pool.end();
    throw err;
  }
  let closed: Promise<void> | undefined;
  const approvals = createPostgresApprovalsRepo(pool, { onListenError: options.onIdleError });
  return {
    pool,
    schemaVersion,
    tokens: createPostgresTokensRepo(pool),
    clusterAgentTokens: createPostgresClusterAgentTokensRepo(pool),
    proposals: createPostgresProposalsRepo(pool),
    audit: createPostgresAuditRepo(pool),
    approvals,
    budgets: createPostgresBudgetsRepo(pool),
    close: () => (closed ??= approvals.close().then(() => pool.end())),
  };
}

function migrate(pool: pg.Pool, url: string, migrations: readonly Migration[]): Promise<number> {
  const where = redactUrl(url);
  const latest = migrations.at(-1)?.version ?? 0;
  return inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
    const { rows } = await client.query<{ version: number | null }>('SELECT MAX(version) AS version FROM schema_migrations');
    const current = rows[0]?.version ?? 0;
    if (current > latest) {
      throw new Error(
        `the store ${where} has schema version ${current}, newer than the ${latest} this Gatehouse knows: it was written by a newer Gatehouse; upgrade Gatehouse to use it`,
      );
    }
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      try {
        await client.query(migration.postgres ?? migration.sql);
      } catch (err) {
        throw new Error(`migration ${migration.version} (${migration.name}) of the store ${where} failed: ${(err as Error).message}`, { cause: err });
      }
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [migration.version, migration.name, Date.now()]);
    }
    return Math.max(current, latest);
  });
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable PostgreSQL URL)';
  }
}
