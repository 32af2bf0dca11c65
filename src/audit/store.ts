/**
 * What the audit code needs from a store. Two implementations share one
 * test suite: SQLite (src/store/sqlite-audit.ts, the embedded default) and
 * PostgreSQL (src/store/postgres-audit.ts, for several gateway replicas).
 *
 * The chain head lives in the store, not in a process: {@link AuditRepo.append}
 * reads it under the store's write lock (SQLite `BEGIN IMMEDIATE`, PostgreSQL
 * `SELECT … FOR UPDATE` on the one head row) in the same transaction that
 * writes the batch, so any number of writers keep one linear chain.
 *
 * @module
 */

import type { ChainedEvent, ChainHead, EncodedEvent } from './chain.js';
import type { Checkpoint } from './checkpoint.js';
import type { StreamChunk } from './stream.js';

/** The chain head row: where the chain ends and where the last checkpoint was. */
export interface HeadState extends ChainHead {
  checkpointSeq: number;
  /** Milliseconds since the epoch of the last checkpoint (0: none yet). */
  checkpointTimeMs: number;
}

/**
 * Decides, inside the append transaction, whether to write a checkpoint for
 * the new head (and signs it). Returning undefined writes none.
 */
export type SealFn = (head: ChainHead, state: HeadState) => Checkpoint | undefined;

export interface AppendBatch {
  events: readonly EncodedEvent[];
  chunks: readonly StreamChunk[];
  seal: SealFn;
}

export interface AppendResult {
  /** The chain head after the batch. */
  head: ChainHead;
  /** The linked events, in order. */
  events: ChainedEvent[];
  checkpoint: Checkpoint | undefined;
}

/** The indexed columns of an event row: derived from the event (columns.ts), checked by verify. */
export interface EventColumns {
  id: string;
  timeMs: number;
  requestId: string;
  subject: string | null;
  verb: string;
  apiGroup: string;
  resource: string;
  namespace: string;
  name: string;
  decision: string | null;
  status: number;
  kubectlSession: string | null;
  streamSession: string | null;
}

/** An event row as read back, untrusted: verify recomputes everything from `eventJson`. */
export interface StoredEventRow {
  seq: number;
  prevHash: string;
  hash: string;
  eventJson: string;
  columns: EventColumns;
}

export interface AuditFilter {
  /** Exact principal subject. */
  subject?: string | undefined;
  verbs?: readonly string[] | undefined;
  resource?: string | undefined;
  namespace?: string | undefined;
  /** Decision action: allow, deny, mask, review; `none` for events without a decision. */
  decision?: string | undefined;
  /** kubectl session id (the `Kubectl-Session` header); null for events without one. */
  kubectlSession?: string | null | undefined;
  /** The stream id of an exec / attach / watch recording (`stream.sessionId`): the event that closed it. */
  streamSession?: string | undefined;
  /** Milliseconds since the epoch, inclusive. */
  sinceMs?: number | undefined;
  /** Milliseconds since the epoch, exclusive. */
  untilMs?: number | undefined;
  /** Only events with a seq greater than this (paging). */
  afterSeq?: number | undefined;
  /** At most this many (default 100). */
  limit?: number | undefined;
  /** By seq; default ascending. */
  order?: 'asc' | 'desc' | undefined;
}

/** Which sessions {@link AuditRepo.sessions} lists. */
export interface SessionFilter {
  subject?: string | undefined;
  /** One kubectl session; null: only principal sessions (events without one). */
  kubectlSession?: string | null | undefined;
  /** Milliseconds since the epoch: sessions with an event at or after this. */
  sinceMs?: number | undefined;
  /** Milliseconds since the epoch: only events before this are counted. */
  untilMs?: number | undefined;
  /** At most this many (default 100), the most recently active first. */
  limit?: number | undefined;
}

/** Events without a kubectl session are grouped per principal and per hour of this length. */
export const PRINCIPAL_SESSION_MS = 3_600_000;

/**
 * A session: the events of one kubectl invocation (Kubectl-Session) by one
 * principal, or, for clients that send no session id, one principal's
 * events within one hour ({@link PRINCIPAL_SESSION_MS}).
 */
export interface SessionSummaryRow {
  kubectlSession: string | null;
  subject: string;
  /** For a principal session: the hour's start, in milliseconds since the epoch; null for a kubectl session. */
  bucketMs: number | null;
  firstMs: number;
  lastMs: number;
  events: number;
  /** Events by decision action. */
  denied: number;
  reviewed: number;
  masked: number;
  /** Events that recorded a stream (exec, attach, watch, logs). */
  streams: number;
  /** The session's first event (canonical JSON), for who and which command. */
  firstEventJson: string;
}

export interface AuditRepo {
  /** Links and writes a batch (events, stream chunks, maybe a checkpoint) in one transaction. */
  append(batch: AppendBatch): Promise<AppendResult>;
  /** The head row. */
  head(): Promise<HeadState>;
  /** Events with seq > `afterSeq`, ascending by seq, at most `limit`. */
  readAfter(afterSeq: number, limit: number): Promise<StoredEventRow[]>;
  /** Every checkpoint, ascending by seq (a seal before a periodic one at the same seq). */
  checkpoints(): Promise<Checkpoint[]>;
  search(filter: AuditFilter): Promise<StoredEventRow[]>;
  /** Sessions of identified principals, the most recently active first. */
  sessions(filter: SessionFilter): Promise<SessionSummaryRow[]>;
  /** The smallest seq whose event time is at or after `timeMs`, if any. */
  firstSeqAtOrAfter(timeMs: number): Promise<number | undefined>;
  /** A stream's chunks, ascending by seq. */
  chunks(sessionId: string): Promise<StreamChunk[]>;
  /**
   * Retention: writes `seal` (a checkpoint of kind `seal` at seq K), then
   * deletes events with seq ≤ K, checkpoints before K and the chunks of
   * streams whose events were deleted, in one transaction. Returns how many
   * events went.
   */
  prune(seal: Checkpoint): Promise<number>;
}
