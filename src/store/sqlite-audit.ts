import type Database from 'better-sqlite3';
import type { AppendBatch, AppendResult, AuditRepo } from '../audit/store.js';
import * as q from './audit-rows.js';
import type { DbCheckpointRow, DbChunkRow, DbEventRow, DbHeadRow, DbSessionRow } from './audit-rows.js';
import { settle } from './sqlite-tokens.js';
import { startAppendWorker } from './sqlite-append-worker.js';
import type { AppendRows, AppendStatements } from './sqlite-append-worker.js';

// A plan refused because another connection moved the head is made again on the new head; this many times at most.
const MAX_APPEND_ATTEMPTS = 50;

const INSERT_CHECKPOINT = `INSERT INTO audit_checkpoints (${q.CHECKPOINT_INSERT_COLUMNS.join(', ')}) VALUES ${q.valuesList(1, q.CHECKPOINT_INSERT_COLUMNS.length)}`;

/** The statements the append thread runs. */
export function sqliteAppendStatements(): AppendStatements {
  return {
    head: q.HEAD_SELECT,
    insertEvent: `INSERT INTO audit_events (${q.EVENT_INSERT_COLUMNS.join(', ')}) VALUES ${q.valuesList(1, q.EVENT_INSERT_COLUMNS.length)}`,
    insertChunk: `INSERT INTO audit_stream_chunks (${q.CHUNK_INSERT_COLUMNS.join(', ')}) VALUES ${q.valuesList(1, q.CHUNK_INSERT_COLUMNS.length)}`,
    insertChunkData: `INSERT INTO audit_chunk_data (${q.CHUNK_DATA_INSERT_COLUMNS.join(', ')}) VALUES ${q.valuesList(1, q.CHUNK_DATA_INSERT_COLUMNS.length)} ${q.CHUNK_DATA_ON_CONFLICT}`,
    insertCheckpoint: INSERT_CHECKPOINT,
    updateHead: 'UPDATE audit_chain_head SET seq = ?, hash = ?, checkpoint_seq = ?, checkpoint_time_ms = ? WHERE id = 1',
  };
}

/**
 * The audit tables over better-sqlite3. An append is planned (linked, maybe
 * sealed) here on the last head this repository saw, and committed on the
 * append thread (sqlite-append-worker.ts) in one `BEGIN IMMEDIATE`
 * transaction that first checks the head is still the one planned on: other
 * connections (another gateway process, a CLI prune) take their turn, and a
 * plan overtaken by one is made again on the new head.
 */
export function createSqliteAuditRepo(db: Database.Database, options: { busyTimeoutMs: number }): AuditRepo & { close(): Promise<void> } {
  const head = db.prepare<[], DbHeadRow>(q.HEAD_SELECT);
  const insertCheckpoint = db.prepare(INSERT_CHECKPOINT);
  const worker = startAppendWorker(db.name, options.busyTimeoutMs, sqliteAppendStatements());
  let lastHead: DbHeadRow | undefined;
  const readAfter = db.prepare<[number, number], DbEventRow>(`${q.EVENT_SELECT} WHERE seq > ? ORDER BY seq LIMIT ?`);
  const checkpoints = db.prepare<[], DbCheckpointRow>(q.CHECKPOINT_SELECT);
  const firstAtOrAfter = db.prepare<[number], { seq: number | null }>('SELECT MIN(seq) AS seq FROM audit_events WHERE time_ms >= ?');
  const chunks = db.prepare<[string], DbChunkRow>(q.CHUNK_SELECT);
  const deleteChunks = db.prepare(
    'DELETE FROM audit_stream_chunks WHERE session_id IN (SELECT stream_session FROM audit_events WHERE seq <= ? AND stream_session IS NOT NULL)',
  );
  const deleteChunkData = db.prepare(q.CHUNK_DATA_PRUNE);
  const deleteEvents = db.prepare('DELETE FROM audit_events WHERE seq <= ?');
  const deleteCheckpoints = db.prepare('DELETE FROM audit_checkpoints WHERE seq < ?');

  const append = async (batch: AppendBatch): Promise<AppendResult> => {
    let found = lastHead ?? head.get();
    // The same on every attempt: chunks are not linked to the head.
    const chunkRows = batch.chunks.map(q.chunkValues);
    const chunkDataRows = q.chunkDataValues(batch.chunks);
    for (let attempt = 1; attempt <= MAX_APPEND_ATTEMPTS; attempt++) {
      const state = q.headFromDb(found);
      const plan = q.planAppend(state, batch);
      const rows: AppendRows = {
        expect: [state.seq, state.hash, state.checkpointSeq, state.checkpointTimeMs],
        eventRows: plan.eventRows,
        chunkDataRows,
        chunkRows,
        checkpointRow: plan.checkpointRow,
        headRow: plan.headRow,
      };
      let reply;
      try {
        reply = await worker.write(rows);
      } catch (err) {
        // Committed or not, the head is read again next time.
        lastHead = undefined;
        throw err;
      }
      if (reply.committed) {
        const [seq, hash, checkpointSeq, checkpointTimeMs] = plan.headRow as [number, string, number, number];
        lastHead = { seq, hash, checkpoint_seq: checkpointSeq, checkpoint_time_ms: checkpointTimeMs };
        return plan.result;
      }
      found = reply.head;
    }
    lastHead = undefined;
    throw new Error(`the audit chain head kept moving under ${MAX_APPEND_ATTEMPTS} attempts to append; other writers are too busy`);
  };
  const prune = db.transaction((seal: Parameters<AuditRepo['prune']>[0]) => {
    insertCheckpoint.run(q.checkpointValues(seal));
    deleteChunks.run(seal.seq);
    deleteChunkData.run();
    const deleted = deleteEvents.run(seal.seq).changes;
    deleteCheckpoints.run(seal.seq);
    return deleted;
  });

  return {
    append,
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
    close: () => worker.close(),
  };
}
