import type pg from 'pg';
import type { AuditRepo } from '../audit/store.js';
import * as q from './audit-rows.js';
import type { DbCheckpointRow, DbChunkRow, DbEventRow, DbHeadRow, DbSessionRow } from './audit-rows.js';
import { inTransaction } from './postgres-tx.js';

/** PostgreSQL allows 65 535 parameters per statement; rows are inserted in slices that stay below. */
const MAX_PARAMS = 60_000;

/**
 * The audit tables over PostgreSQL. An append is one transaction that first
 * locks the single chain head row (`SELECT … FOR UPDATE`): the gateway
 * replicas sharing the database take turns, so the chain stays linear.
 */
export function createPostgresAuditRepo(pool: pg.Pool): AuditRepo {
  const all = async <R extends pg.QueryResultRow>(sql: string, params: unknown[] = []) => (await pool.query<R>(q.numberPlaceholders(sql), params)).rows;

  return {
    append: (batch) =>
      inTransaction(pool, async (client) => {
        const locked = await client.query<DbHeadRow>(`${q.HEAD_SELECT} FOR UPDATE`);
        const plan = q.planAppend(q.headFromDb(locked.rows[0]), batch);
        await insertRows(client, 'audit_events', q.EVENT_INSERT_COLUMNS, plan.eventRows);
        await insertRows(client, 'audit_chunk_data', q.CHUNK_DATA_INSERT_COLUMNS, q.chunkDataValues(batch.chunks), q.CHUNK_DATA_ON_CONFLICT);
        await insertRows(client, 'audit_stream_chunks', q.CHUNK_INSERT_COLUMNS, batch.chunks.map(q.chunkValues));
        if (plan.checkpointRow) await insertRows(client, 'audit_checkpoints', q.CHECKPOINT_INSERT_COLUMNS, [plan.checkpointRow]);
        await client.query('UPDATE audit_chain_head SET seq = $1, hash = $2, checkpoint_seq = $3, checkpoint_time_ms = $4 WHERE id = 1', plan.headRow);
        return plan.result;
      }),
    head: async () => q.headFromDb((await all<DbHeadRow>(q.HEAD_SELECT))[0]),
    readAfter: async (afterSeq, limit) => (await all<DbEventRow>(`${q.EVENT_SELECT} WHERE seq > ? ORDER BY seq LIMIT ?`, [afterSeq, limit])).map(q.eventFromDb),
    checkpoints: async () => (await all<DbCheckpointRow>(q.CHECKPOINT_SELECT)).map(q.checkpointFromDb),
    search: async (filter) => {
      const { sql, params } = q.searchQuery(filter);
      return (await all<DbEventRow>(sql, params)).map(q.eventFromDb);
    },
    sessions: async (filter) => {
      const { sql, params } = q.sessionsQuery(filter);
      return (await all<DbSessionRow>(sql, params)).map(q.sessionFromDb);
    },
    firstSeqAtOrAfter: async (timeMs) => {
      const [row] = await all<{ seq: string | null }>('SELECT MIN(seq) AS seq FROM audit_events WHERE time_ms >= ?', [timeMs]);
      return row?.seq == null ? undefined : Number(row.seq);
    },
    chunks: async (sessionId) => (await all<DbChunkRow>(q.CHUNK_SELECT, [sessionId])).map(q.chunkFromDb),
    prune: (seal) =>
      inTransaction(pool, async (client) => {
        // Appends take the head row first; so does a prune, or one could let go of a shared copy (below) that an
        // append not yet committed refers to.
        await client.query(`${q.HEAD_SELECT} FOR UPDATE`);
        await insertRows(client, 'audit_checkpoints', q.CHECKPOINT_INSERT_COLUMNS, [q.checkpointValues(seal)]);
        await client.query(
          'DELETE FROM audit_stream_chunks WHERE session_id IN (SELECT stream_session FROM audit_events WHERE seq <= $1 AND stream_session IS NOT NULL)',
          [seal.seq],
        );
        await client.query(q.CHUNK_DATA_PRUNE);
        const deleted = await client.query('DELETE FROM audit_events WHERE seq <= $1', [seal.seq]);
        await client.query('DELETE FROM audit_checkpoints WHERE seq < $1', [seal.seq]);
        return deleted.rowCount ?? 0;
      }),
  };
}

/** Inserts `rows` in slices below the parameter limit; `suffix` follows each statement's VALUES (an ON CONFLICT clause). */
async function insertRows(client: pg.PoolClient, table: string, columns: readonly string[], rows: readonly unknown[][], suffix = ''): Promise<void> {
  const perStatement = Math.floor(MAX_PARAMS / columns.length);
  for (let i = 0; i < rows.length; i += perStatement) {
    const slice = rows.slice(i, i + perStatement);
    const sql = `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${q.valuesList(slice.length, columns.length)} ${suffix}`.trimEnd();
    await client.query(q.numberPlaceholders(sql), slice.flat());
  }
}
