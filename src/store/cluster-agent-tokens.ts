/**
 * The join tokens cluster agents dial in with: one SQL text for SQLite and
 * PostgreSQL (`?` placeholders, numbered for PostgreSQL), run through a small
 * query function each store supplies.
 *
 * @module
 */

import type Database from 'better-sqlite3';
import type pg from 'pg';
import { numberPlaceholders } from './audit-rows.js';

/** A cluster agent's join token as stored, without its hash. Times are milliseconds since the epoch. */
export interface ClusterAgentTokenRow {
  id: string;
  cluster: string;
  description: string | null;
  createdBy: string | null;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export interface ClusterAgentTokensRepo {
  insert(row: ClusterAgentTokenRow & { sha256: string }): Promise<void>;
  findByHash(sha256: string): Promise<ClusterAgentTokenRow | undefined>;
  /** Oldest first; revoked ones only when asked for. */
  list(options: { includeRevoked: boolean }): Promise<ClusterAgentTokenRow[]>;
  /** False when it was already revoked or does not exist. */
  revoke(id: string, at: number): Promise<boolean>;
  touch(id: string, at: number): Promise<void>;
}

type Query = (sql: string, params: unknown[]) => Promise<{ rows: DbRow[]; changes: number }>;

interface DbRow {
  id: string;
  cluster: string;
  description: string | null;
  created_by: string | null;
  created_at: number | string;
  last_used_at: number | string | null;
  revoked_at: number | string | null;
}

const COLUMNS = 'id, cluster, description, created_by, created_at, last_used_at, revoked_at';

export const CLUSTER_AGENT_TOKENS_TABLE = `
  CREATE TABLE cluster_agent_tokens (
    id TEXT PRIMARY KEY,
    cluster TEXT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    description TEXT,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
  );
`;

function repo(query: Query): ClusterAgentTokensRepo {
  return {
    insert: async (row) => {
      await query(`INSERT INTO cluster_agent_tokens (${COLUMNS}, sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, [
        row.id,
        row.cluster,
        row.description,
        row.createdBy,
        row.createdAt,
        row.lastUsedAt,
        row.revokedAt,
        row.sha256,
      ]);
    },
    findByHash: async (sha256) => fromDb((await query(`SELECT ${COLUMNS} FROM cluster_agent_tokens WHERE sha256 = ?`, [sha256])).rows[0]),
    list: async ({ includeRevoked }) => {
      const where = includeRevoked ? '' : 'WHERE revoked_at IS NULL ';
      return (await query(`SELECT ${COLUMNS} FROM cluster_agent_tokens ${where}ORDER BY created_at, id`, [])).rows.map((r) => fromDb(r)!);
    },
    revoke: async (id, at) => (await query('UPDATE cluster_agent_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [at, id])).changes > 0,
    touch: async (id, at) => {
      await query('UPDATE cluster_agent_tokens SET last_used_at = ? WHERE id = ?', [at, id]);
    },
  };
}

// PostgreSQL returns BIGINT as a string.
function fromDb(row: DbRow | undefined): ClusterAgentTokenRow | undefined {
  if (row === undefined) return undefined;
  const time = (v: number | string | null): number | null => (v === null ? null : Number(v));
  return {
    id: row.id,
    cluster: row.cluster,
    description: row.description,
    createdBy: row.created_by,
    createdAt: Number(row.created_at),
    lastUsedAt: time(row.last_used_at),
    revokedAt: time(row.revoked_at),
  };
}

export function createSqliteClusterAgentTokensRepo(db: Database.Database): ClusterAgentTokensRepo {
  return repo((sql, params) => {
    const statement = db.prepare(sql);
    if (statement.reader) return Promise.resolve({ rows: statement.all(...params) as DbRow[], changes: 0 });
    return Promise.resolve({ rows: [], changes: statement.run(...params).changes });
  });
}

export function createPostgresClusterAgentTokensRepo(pool: pg.Pool): ClusterAgentTokensRepo {
  return repo(async (sql, params) => {
    const result = await pool.query<DbRow>(numberPlaceholders(sql), params);
    return { rows: result.rows, changes: result.rowCount ?? 0 };
  });
}
