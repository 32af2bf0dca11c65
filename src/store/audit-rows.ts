/**
 * What the SQLite and PostgreSQL audit repositories share: the column lists,
 * row mapping, the search query and the plan of an append (link, then maybe
 * seal), so that the two differ only in how they talk to their database.
 *
 * @internal
 */

import { linkEvents } from '../audit/chain.js';
import type { Checkpoint, CheckpointKind } from '../audit/checkpoint.js';
import { EVENT_COLUMN_NAMES, eventColumns } from '../audit/columns.js';
import { PRINCIPAL_SESSION_MS } from '../audit/store.js';
import type { StreamChunk } from '../audit/stream.js';
import type { AppendBatch, AppendResult, AuditFilter, EventColumns, HeadState, SessionFilter, SessionSummaryRow, StoredEventRow } from '../audit/store.js';

const COLUMN_KEYS = Object.keys(EVENT_COLUMN_NAMES) as Array<keyof EventColumns>;

/** The columns an event row is inserted with, in the order of {@link eventRowValues}. */
export const EVENT_INSERT_COLUMNS = ['seq', ...COLUMN_KEYS.map((k) => EVENT_COLUMN_NAMES[k]), 'prev_hash', 'hash', 'event_json'];

export const EVENT_SELECT = `SELECT ${EVENT_INSERT_COLUMNS.join(', ')} FROM audit_events`;
export const CHECKPOINT_SELECT = "SELECT seq, kind, hash, time, key_id, signature FROM audit_checkpoints ORDER BY seq, CASE kind WHEN 'seal' THEN 0 ELSE 1 END";
export const HEAD_SELECT = 'SELECT seq, hash, checkpoint_seq, checkpoint_time_ms FROM audit_chain_head WHERE id = 1';
export const HEAD_UPDATE_COLUMNS = ['seq', 'hash', 'checkpoint_seq', 'checkpoint_time_ms'];
export const CHECKPOINT_INSERT_COLUMNS = ['seq', 'kind', 'hash', 'time', 'key_id', 'signature'];
export const CHUNK_INSERT_COLUMNS = ['session_id', 'seq', 'time', 'channel', 'data', 'hash', 'data_sha256'];
/** A chunk's bytes: its own, or the copy it shares (a missing copy reads as no bytes, which its hash then fails). */
export const CHUNK_SELECT =
  'SELECT c.session_id, c.seq, c.time, c.channel, COALESCE(d.data, c.data) AS data, c.hash FROM audit_stream_chunks c ' +
  'LEFT JOIN audit_chunk_data d ON d.sha256 = c.data_sha256 WHERE c.session_id = ? ORDER BY c.seq';
export const CHUNK_DATA_INSERT_COLUMNS = ['sha256', 'data'];
/** What follows the VALUES of a shared copy's insert: an earlier batch may have stored it already. */
export const CHUNK_DATA_ON_CONFLICT = 'ON CONFLICT (sha256) DO NOTHING';
/** Lets go of the shared copies no chunk refers to any more (after chunks were pruned). */
export const CHUNK_DATA_PRUNE = 'DELETE FROM audit_chunk_data WHERE NOT EXISTS (SELECT 1 FROM audit_stream_chunks c WHERE c.data_sha256 = audit_chunk_data.sha256)';

/** Row values as the drivers return them (PostgreSQL BIGINT comes back as a string). */
type Num = number | string;

export interface DbEventRow extends Record<string, unknown> {
  seq: Num;
  prev_hash: string;
  hash: string;
  event_json: string;
}

export interface DbHeadRow {
  seq: Num;
  hash: string;
  checkpoint_seq: Num;
  checkpoint_time_ms: Num;
}

export interface DbCheckpointRow {
  seq: Num;
  kind: CheckpointKind;
  hash: string;
  time: string;
  key_id: string;
  signature: string;
}

export interface DbChunkRow {
  session_id: string;
  seq: Num;
  time: string;
  channel: string;
  data: Buffer | Uint8Array;
  hash: string;
}

/**
 * What one append transaction writes, decided from the head it read. The
 * stream chunks are not in it: they are not linked to the head, so a store
 * makes their rows ({@link chunkValues}) once per batch, not per attempt.
 */
export interface AppendPlan {
  result: AppendResult;
  eventRows: unknown[][];
  checkpointRow: unknown[] | undefined;
  /** New values for {@link HEAD_UPDATE_COLUMNS}. */
  headRow: unknown[];
}

/** Links the batch after the head read under lock, and asks the seal whether to checkpoint. */
export function planAppend(state: HeadState, batch: AppendBatch): AppendPlan {
  const { events, head } = linkEvents(state, batch.events);
  const checkpoint = batch.seal(head, state);
  const eventRows = events.map((e) => {
    const columns = eventColumns(e.event);
    return [e.seq, ...COLUMN_KEYS.map((k) => columns[k]), e.prevHash, e.hash, e.eventJson];
  });
  const checkpointRow = checkpoint ? checkpointValues(checkpoint) : undefined;
  const headRow = [
    head.seq,
    head.hash,
    checkpoint ? checkpoint.seq : state.checkpointSeq,
    checkpoint ? Date.parse(checkpoint.time.slice(0, 23) + 'Z') : state.checkpointTimeMs,
  ];
  return { result: { head, events, checkpoint }, eventRows, checkpointRow, headRow };
}

const NO_BYTES = Buffer.alloc(0);

/** A chunk's values for {@link CHUNK_INSERT_COLUMNS}: a chunk whose bytes are shared keeps none of its own. */
export function chunkValues(c: StreamChunk): unknown[] {
  return [c.sessionId, c.seq, c.time, c.channel, c.sharedSha256 === undefined ? c.data : NO_BYTES, c.hash, c.sharedSha256 ?? null];
}

/** The values for {@link CHUNK_DATA_INSERT_COLUMNS} of the shared bytes of `chunks`, each once. */
export function chunkDataValues(chunks: readonly StreamChunk[]): unknown[][] {
  const rows = new Map<string, unknown[]>();
  for (const c of chunks) if (c.sharedSha256 !== undefined && !rows.has(c.sharedSha256)) rows.set(c.sharedSha256, [c.sharedSha256, c.data]);
  return [...rows.values()];
}

export function checkpointValues(cp: Checkpoint): unknown[] {
  return [cp.seq, cp.kind, cp.hash, cp.time, cp.keyId, cp.signature];
}

export function headFromDb(row: DbHeadRow | undefined): HeadState {
  if (!row) throw new Error('the audit chain head row is missing: the audit tables were tampered with or not migrated');
  return { seq: Number(row.seq), hash: row.hash, checkpointSeq: Number(row.checkpoint_seq), checkpointTimeMs: Number(row.checkpoint_time_ms) };
}

export function eventFromDb(row: DbEventRow): StoredEventRow {
  const columns = {} as Record<keyof EventColumns, unknown>;
  for (const key of COLUMN_KEYS) columns[key] = row[EVENT_COLUMN_NAMES[key]];
  columns.timeMs = Number(columns.timeMs);
  columns.status = Number(columns.status);
  return { seq: Number(row.seq), prevHash: row.prev_hash, hash: row.hash, eventJson: row.event_json, columns: columns as unknown as EventColumns };
}

export function checkpointFromDb(row: DbCheckpointRow): Checkpoint {
  return { seq: Number(row.seq), kind: row.kind, hash: row.hash, time: row.time, keyId: row.key_id, signature: row.signature };
}

export function chunkFromDb(row: DbChunkRow) {
  return { sessionId: row.session_id, seq: Number(row.seq), time: row.time, channel: row.channel, data: Buffer.from(row.data), hash: row.hash };
}

/**
 * The search query for a filter, with `?` placeholders (PostgreSQL numbers
 * them with {@link numberPlaceholders}).
 */
export function searchQuery(filter: AuditFilter): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (clause: string, ...values: unknown[]) => {
    where.push(clause);
    params.push(...values);
  };
  if (filter.subject !== undefined) add('subject = ?', filter.subject);
  if (filter.verbs !== undefined && filter.verbs.length > 0) add(`verb IN (${filter.verbs.map(() => '?').join(', ')})`, ...filter.verbs);
  if (filter.resource !== undefined) add('resource = ?', filter.resource);
  if (filter.namespace !== undefined) add('namespace = ?', filter.namespace);
  if (filter.decision === 'none') add('decision IS NULL');
  else if (filter.decision !== undefined) add('decision = ?', filter.decision);
  if (filter.kubectlSession === null) add('kubectl_session IS NULL');
  else if (filter.kubectlSession !== undefined) add('kubectl_session = ?', filter.kubectlSession);
  if (filter.streamSession !== undefined) add('stream_session = ?', filter.streamSession);
  // time_ms is whole milliseconds: comparing with the ceiling keeps the meaning for fractions.
  if (filter.sinceMs !== undefined) add('time_ms >= ?', Math.ceil(filter.sinceMs));
  if (filter.untilMs !== undefined) add('time_ms < ?', Math.ceil(filter.untilMs));
  if (filter.afterSeq !== undefined) add(filter.order === 'desc' ? 'seq < ?' : 'seq > ?', filter.afterSeq);
  const order = filter.order === 'desc' ? 'DESC' : 'ASC';
  params.push(filter.limit ?? 100);
  return { sql: `${EVENT_SELECT}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY seq ${order} LIMIT ?`, params };
}

export interface DbSessionRow {
  kubectl_session: string | null;
  subject: string;
  bucket: Num | null;
  first_ms: Num;
  last_ms: Num;
  events: Num;
  denied: Num;
  reviewed: Num;
  masked: Num;
  streams: Num;
  event_json: string;
}

/**
 * The session listing: events grouped by kubectl session and principal, and
 * those without a kubectl session by principal and hour, each joined to its
 * first event. Integer division of the BIGINT time truncates in both SQLite
 * and PostgreSQL.
 */
export function sessionsQuery(filter: SessionFilter): { sql: string; params: unknown[] } {
  const where = ['subject IS NOT NULL'];
  const params: unknown[] = [];
  const add = (clause: string, value: unknown) => {
    where.push(clause);
    params.push(value);
  };
  if (filter.subject !== undefined) add('subject = ?', filter.subject);
  if (filter.kubectlSession === null) where.push('kubectl_session IS NULL');
  else if (filter.kubectlSession !== undefined) add('kubectl_session = ?', filter.kubectlSession);
  if (filter.sinceMs !== undefined) add('time_ms >= ?', Math.ceil(filter.sinceMs));
  if (filter.untilMs !== undefined) add('time_ms < ?', Math.ceil(filter.untilMs));
  params.push(filter.limit ?? 100);
  const bucket = `CASE WHEN kubectl_session IS NULL THEN time_ms / ${PRINCIPAL_SESSION_MS} END`;
  const count = (decision: string) => `SUM(CASE WHEN decision = '${decision}' THEN 1 ELSE 0 END)`;
  const grouped =
    `SELECT kubectl_session, subject, ${bucket} AS bucket, MIN(time_ms) AS first_ms, MAX(time_ms) AS last_ms, COUNT(*) AS events, ` +
    `${count('deny')} AS denied, ${count('review')} AS reviewed, ${count('mask')} AS masked, COUNT(stream_session) AS streams, ` +
    `MIN(seq) AS first_seq, MAX(seq) AS last_seq ` +
    `FROM audit_events WHERE ${where.join(' AND ')} GROUP BY kubectl_session, subject, ${bucket}`;
  const sql =
    `SELECT s.kubectl_session, s.subject, s.bucket, s.first_ms, s.last_ms, s.events, s.denied, s.reviewed, s.masked, s.streams, f.event_json ` +
    `FROM (${grouped}) s JOIN audit_events f ON f.seq = s.first_seq ORDER BY s.last_ms DESC, s.last_seq DESC LIMIT ?`;
  return { sql, params };
}

export function sessionFromDb(row: DbSessionRow): SessionSummaryRow {
  return {
    kubectlSession: row.kubectl_session,
    subject: row.subject,
    bucketMs: row.bucket === null ? null : Number(row.bucket) * PRINCIPAL_SESSION_MS,
    firstMs: Number(row.first_ms),
    lastMs: Number(row.last_ms),
    events: Number(row.events),
    denied: Number(row.denied),
    reviewed: Number(row.reviewed),
    masked: Number(row.masked),
    streams: Number(row.streams),
    firstEventJson: row.event_json,
  };
}

/** Rewrites `?` placeholders as PostgreSQL's `$1, $2…` (the SQL here has no `?` inside literals). */
export function numberPlaceholders(sql: string): string {
  let i = 0;
  return sql.replace(/\?/g, () => `$${++i}`);
}

/** `(?, ?, …), (?, ?, …)` for a multi-row INSERT of `rows` rows of `width` values. */
export function valuesList(rows: number, width: number): string {
  const row = `(${Array.from({ length: width }, () => '?').join(', ')})`;
  return Array.from({ length: rows }, () => row).join(', ');
}
