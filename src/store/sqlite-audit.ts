import type Database from 'better-sqlite3';
import type { AuditRepo } from '../audit/store.js';
import * as q from './audit-rows.js';
import type { DbCheckpointRow, DbChunkRow, DbEventRow, DbHeadRow, DbSessionRow } from './audit-rows.js';
import { settle } from './sqlite-tokens.js';

/**
 * The audit tables over better-sqlite3. An append is one `BEGIN IMMEDIATE`
 * transaction: it takes SQLite's write lock before reading the chain head,
 * so other connections (another gateway process, a CLI prune) wait their turn.
 */
export function createSqliteAuditRepo(db: Database.Database): AuditRepo {
  const head = db.prepare<[], DbHeadRow>(q.HEAD_SELECT);
  const insertEvent = db.prepare(`INSERT INTO audit_events (${q.EVENT_INSERT_COLUMNS.join(', ')}) VALUES ${q.valuesList(1, q.EVENT_INSERT_COLUMNS.length)}`);
  const insertCheckpoint = db.prepare(
    `INSERT INTO audit_checkpoints (${q.CHECKPOINT_INSERT_COLUMNS.join(', ')}) VALUES ${q.valuesList(1, q.CHECKPOINT_INSERT_COLUMNS.length)}`,
  );
  const insertChunk = db.prepare(`INSERT INTO audit_stream_chunks (${q.CHUNK_INSERT_COLUMNS.join(', ')}) VALUES ${q.valuesList(1, q.CHUNK_INSERT_COLUMNS.length)}`);
  const updateHead = db.prepare('UPDATE audit_chain_head SET seq = ?, hash = ?, checkpoint_seq = ?, checkpoint_time_ms = ? WHERE id = 1');
  const readAfter = db.prepare<[number, number], DbEventRow>(`${q.EVENT_SELECT} WHERE seq > ? ORDER BY seq LIMIT ?`);
  const checkpoints = db.prepare<[], DbCheckpointRow>(q.CHECKPOINT_SELECT);
  const firstAtOrAfter = db.prepare<[number], { seq: number | null }>('SELECT MIN(seq) AS seq FROM audit_events WHERE time_ms >= ?');
  const chunks = db.prepare<[string], DbChunkRow>(q.CHUNK_SELECT);
  const deleteChunks = db.prepare(
    'DELETE FROM audit_stream_chunks WHERE session_id IN (SELECT stream_session FROM audit_events WHERE seq <= ? AND stream_session IS NOT NULL)',
  );
  const deleteEvents = db.prepare('DELETE FROM audit_events WHERE seq <= ?');
  const deleteCheckpoints = db.prepare('DELETE FROM audit_checkpoints WHERE seq < ?');

  const append = db.transaction((batch: Parameters<AuditRepo['append']>[0]) => {
    const plan = q.planAppend(q.headFromDb(head.get()), batch);
    for (const row of plan.eventRows) insertEvent.run(row);
    for (const row of plan.chunkRows) insertChunk.run(row);
    if (plan.checkpointRow) insertCheckpoint.run(plan.checkpointRow);
    updateHead.run(plan.headRow);
    return plan.result;
  });
  const prune = db.transaction((seal: Parameters<AuditRepo['prune']>[0]) => {
    insertCheckpoint.run(q.checkpointValues(seal));
    deleteChunks.run(seal.seq);
    const deleted = deleteEvents.run(seal.seq).changes;
    deleteCheckpoints.run(seal.seq);
    return deleted;
  });

  return {
    append: (batch) => settle(() => append.immediate(batch)),
    head: () => settle(() => q.headFromDb(head.get())),
    readAfter: (afterSeq, limit) => settle(() => readAfter.all(afterSeq, limit).map(q.eventFromDb)),
    checkpoints: () => settle(() => checkpoints.all().map(q.checkpointFromDb)),
    search: (filter) =>
      settle(() => {
        const { sql, params } = q.searchQuery(filter);
        return db.prepare<unknown[], DbEventRow>(sql).all(...params).map(q.eventFromDb);
      }),
    sessions: (filter) =>
      settle(() => {
        const { sql, params } = q.sessionsQuery(filter);
        return db.prepare<unknown[], DbSessionRow>(sql).all(...params).map(q.sessionFromDb);
      }),
    firstSeqAtOrAfter: (timeMs) => settle(() => firstAtOrAfter.get(timeMs)?.seq ?? undefined),
    chunks: (sessionId) => settle(() => chunks.all(sessionId).map(q.chunkFromDb)),
    prune: (seal) => settle(() => prune.immediate(seal)),
  };
}
