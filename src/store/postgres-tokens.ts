import type pg from 'pg';
import type { TokensRepo } from './types.js';
import { TOKEN_ACTIVE_AT, TOKEN_COLUMNS, tokenFromDb } from './sqlite-tokens.js';
import type { DbTokenRow } from './sqlite-tokens.js';
import { inTransaction } from './postgres-tx.js';

/** The tokens table over PostgreSQL: the same statements as SQLite's, with numbered parameters. */
export function createPostgresTokensRepo(pool: pg.Pool): TokensRepo {
  const one = async (sql: string, params: unknown[]) => tokenFromDb((await pool.query<DbTokenRow>(sql, params)).rows[0]);
  const active = TOKEN_ACTIVE_AT.replace('?', '$2');
  return {
    insertIfNameFree: (row, now) =>
      inTransaction(pool, async (client) => {
        // Serialises name checks across replicas; readers are not blocked.
        await client.query('LOCK TABLE tokens IN SHARE ROW EXCLUSIVE MODE');
        const taken = await client.query(`SELECT 1 FROM tokens WHERE name = $1 AND ${active} LIMIT 1`, [row.name, now]);
        if (taken.rowCount !== 0) return false;
        await client.query(
          `INSERT INTO tokens (id, name, kind, groups_json, sha256, sponsor, description, created_at, expires_at, last_used_at, revoked_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
          [row.id, row.name, row.kind, JSON.stringify(row.groups), row.sha256, row.sponsor, row.description, row.createdAt, row.expiresAt, row.lastUsedAt, row.revokedAt],
        );
        return true;
      }),
    findByHash: (sha256) => one(`SELECT ${TOKEN_COLUMNS} FROM tokens WHERE sha256 = $1`, [sha256]),
    findById: (id) => one(`SELECT ${TOKEN_COLUMNS} FROM tokens WHERE id = $1`, [id]),
    findActiveByName: (name, now) => one(`SELECT ${TOKEN_COLUMNS} FROM tokens WHERE name = $1 AND ${active} LIMIT 1`, [name, now]),
    list: async ({ includeRevoked }) => {
      const where = includeRevoked ? '' : 'WHERE revoked_at IS NULL ';
      const { rows } = await pool.query<DbTokenRow>(`SELECT ${TOKEN_COLUMNS} FROM tokens ${where}ORDER BY created_at, name`);
      return rows.map((r) => tokenFromDb(r));
    },
    revoke: async (id, at) => ((await pool.query('UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [at, id])).rowCount ?? 0) > 0,
    touch: (uses) =>
      inTransaction(pool, async (client) => {
        for (const use of uses) {
          await client.query('UPDATE tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)', [use.at, use.id]);
        }
      }),
  };
}
