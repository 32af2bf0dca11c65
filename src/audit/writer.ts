/**
 * The audit writer: group commit in front of an {@link AuditRepo}.
 *
 * `append(event)` queues the event and resolves once the transaction that
 * holds it has committed. One batch is written at a time; every event that
 * arrives while a batch is being written joins the next one, so under load a
 * single commit (one fsync) carries many events, and when idle an event is
 * written on the next tick. Records nobody waits for (reads recorded after
 * their answer, stream chunks) wait a little for others first: at one
 * request at a time, a transaction per read cost the store's thread about
 * a third of what the gateway spent on the read itself. A failed batch
 * rejects exactly its own events (with `GH_AUDIT_UNAVAILABLE`); the writer
 * keeps going, and the next batch retries the store, so it recovers by
 * itself when the store comes back.
 *
 * Durability (docs/audit.md): `append` resolves only after COMMIT returned,
 * i.e. SQLite (WAL, synchronous=FULL) or PostgreSQL (synchronous_commit on)
 * has flushed the write-ahead log. An event whose `append` resolved survives
 * a `kill -9` of the gateway (and, on honest disks, a power cut).
 *
 * @module
 */

import { GatehouseError } from '../errors/codes.js';
import type { ChainHead } from './chain.js';
import { encodeEvent } from './chain.js';
import type { EncodedEvent } from './chain.js';
import type { AuditSigner, Checkpoint } from './checkpoint.js';
import type { AuditEvent } from './event.js';
import { rfc3339Micros } from './event.js';
import type { AuditRepo, HeadState, SealFn } from './store.js';
import { createStreamRecorder } from './stream.js';
import type { ChunkOwner, ChunkQueue, StreamChunk, StreamRecorder, StreamRecorderOptions } from './stream.js';

/** The writer's defaults; the `audit:` section of gatehouse.yaml (config.ts) states the same. */
export const AUDIT_WRITER_DEFAULTS = {
  checkpointEvery: 1000,
  checkpointIntervalMs: 60_000,
  maxBatch: 512,
  maxBatchBytes: 8 * 1024 * 1024,
  batchWindowMs: 0,
  /**
   * How long records nobody waits for gather before their batch starts. Each
   * batch is a transaction with an fsync and a page write per index touched:
   * at one request at a time, 50 ms instead of 20 took the gateway's CPU per
   * small GET from ~517 to ~449 µs (all threads; session 11), at the price of
   * up to 50 ms of answered reads a crash can lose (docs/audit.md).
   */
  backgroundWindowMs: 50,
  maxQueue: 50_000,
} as const;

export interface AuditWriterOptions {
  signer: AuditSigner;
  /** A checkpoint at least every this many events (default 1000). */
  checkpointEvery?: number;
  /** …and at least this often while events arrive (default 60 000 ms). */
  checkpointIntervalMs?: number;
  /** Most items (events + stream chunks) in one transaction (default 512). */
  maxBatch?: number;
  /** Most stream bytes in one transaction (default 8 MiB). */
  maxBatchBytes?: number;
  /** Wait this long after the first queued item before writing, to gather more (default 0: the next tick). */
  batchWindowMs?: number;
  /**
   * Records nobody waits for (reads recorded after their answer, stream
   * chunks) wait up to this long for company before a batch starts (default
   * `AUDIT_WRITER_DEFAULTS.backgroundWindowMs`); a record a caller waits for starts
   * it at once and takes them along.
   */
  backgroundWindowMs?: number;
  /** Queued items beyond which `append` rejects at once instead of queueing (default 50 000). */
  maxQueue?: number;
  /** Told about each failed batch (the callers' promises reject too). */
  onError?: (err: unknown) => void;
  /** The clock in milliseconds (default Date.now); tests move it. */
  now?: () => number;
}

/** Where an appended event landed in the chain. */
export interface AppendedEvent {
  seq: number;
  hash: string;
}

export interface AuditWriterStats {
  /** Items waiting for a batch, plus those in the batch being written. */
  queueDepth: number;
  /** Age in ms of the oldest item not yet committed (0 when none). */
  lagMs: number;
  /** Events committed by this writer. */
  appended: number;
  failedBatches: number;
  /** Duration of the last committed batch, ms. */
  lastBatchMs: number;
  lastBatchSize: number;
  /** False after a failed batch, true again after the next good one. */
  healthy: boolean;
  /** While not healthy: when the first batch of this run of failures failed (the outage's start), ms since the epoch. */
  unhealthySinceMs: number | undefined;
  head: ChainHead | undefined;
  lastCheckpoint: Checkpoint | undefined;
}

export interface AuditWriter {
  /**
   * Resolves when the event is committed; rejects with GH_AUDIT_UNAVAILABLE
   * when it could not be. `background`: no caller waits for it, so it may
   * wait for company (see backgroundWindowMs).
   */
  append(event: AuditEvent, options?: { background?: boolean }): Promise<AppendedEvent>;
  /** Records a stream's chunks through the same queue. */
  openStream(options: StreamRecorderOptions): StreamRecorder;
  /** Writes a checkpoint of the current head now (if it moved since the last one). */
  checkpoint(): Promise<Checkpoint | undefined>;
  /** Resolves when everything queued so far is written (or failed). */
  flush(): Promise<void>;
  stats(): AuditWriterStats;
  /** Flushes, writes a last checkpoint, stops the timer; later appends reject. */
  close(): Promise<void>;
}

/** The stats of a writer that has written nothing yet (also a base for fakes in tests). */
export function idleAuditWriterStats(): AuditWriterStats {
  return {
    queueDepth: 0,
    lagMs: 0,
    appended: 0,
    failedBatches: 0,
    lastBatchMs: 0,
    lastBatchSize: 0,
    healthy: true,
    unhealthySinceMs: undefined,
    head: undefined,
    lastCheckpoint: undefined,
  };
}

/**
 * A queued record: an event and its caller's promise, or a stream chunk and
 * the recorder to tell (a chunk has no promise of its own: a watch queues
 * one per event it relays).
 */
type Item =
  | { event: EncodedEvent; background: boolean; enqueuedAt: number; resolve(value: AppendedEvent): void; reject(err: unknown): void }
  | { chunk: StreamChunk; enqueuedAt: number; owner: ChunkOwner; dataSha256: string };

/** The buffer waiting chunks with the same bytes share, how many of them wait, and whether more than one ever did. */
interface SharedData {
  data: Buffer;
  chunks: number;
  shared: boolean;
}

/**
 * Chunks this long or longer whose bytes other waiting chunks share are
 * stored by reference to one copy; below, a row of their own costs the store
 * less than the reference and the copy's key (a keystroke, a resize).
 */
export const MIN_SHARED_CHUNK_BYTES = 256;

/**
 * @example
 * const writer = createAuditWriter(store.audit, { signer: loadAuditSigner(config.dataDir) });
 * await writer.append(buildAuditEvent({ ...fromTheRequest }));   // durable from here on
 * metrics.auditQueue.set(writer.stats().queueDepth);
 */
export function createAuditWriter(repo: AuditRepo, options: AuditWriterOptions): AuditWriter {
  const every = options.checkpointEvery ?? AUDIT_WRITER_DEFAULTS.checkpointEvery;
  const intervalMs = options.checkpointIntervalMs ?? AUDIT_WRITER_DEFAULTS.checkpointIntervalMs;
  const maxBatch = options.maxBatch ?? AUDIT_WRITER_DEFAULTS.maxBatch;
  const maxBatchBytes = options.maxBatchBytes ?? AUDIT_WRITER_DEFAULTS.maxBatchBytes;
  const maxQueue = options.maxQueue ?? AUDIT_WRITER_DEFAULTS.maxQueue;
  const window = options.batchWindowMs ?? AUDIT_WRITER_DEFAULTS.batchWindowMs;
  const backgroundWindow = options.backgroundWindowMs ?? AUDIT_WRITER_DEFAULTS.backgroundWindowMs;
  const now = options.now ?? Date.now;

  const queue: Item[] = [];
  let inFlight: Item[] = [];
  // By SHA-256: the bytes of the chunks waiting, each kept once. A thousand watches of one resource are sent the same
  // events, each copy read from its own upstream stream; without this the queue held every copy until it was written.
  const waitingData = new Map<string, SharedData>();
  let running: Promise<void> | undefined;
  let scheduled = false;
  // Set while only background records wait: the batch starts when it fires, or earlier for one a caller waits for.
  let gathering: NodeJS.Timeout | undefined;
  let closed = false;
  // Queued events whose callers wait for them (not background): while there are none, the queue may gather.
  let awaited = 0;
  let checkpointWaiters: Array<(cp: Checkpoint | undefined, err?: Error) => void> = [];
  const stats = idleAuditWriterStats();

  const sealWith =
    (force: boolean): SealFn =>
    (head: ChainHead, state: HeadState) => {
      if (head.seq === 0 || head.seq === state.checkpointSeq) return undefined;
      const at = now();
      if (!force && head.seq - state.checkpointSeq < every && at - state.checkpointTimeMs < intervalMs) return undefined;
      return options.signer.sign({ seq: head.seq, hash: head.hash, time: rfc3339Micros(at * 1000), kind: 'periodic' });
    };

  const takeBatch = (): Item[] => {
    let bytes = 0;
    let count = 0;
    while (count < queue.length && count < maxBatch) {
      const item = queue[count]!;
      if ('chunk' in item) bytes += item.chunk.data.length;
      if (count > 0 && bytes > maxBatchBytes) break;
      if ('event' in item && !item.background) awaited -= 1;
      count += 1;
    }
    return queue.splice(0, count);
  };

  const writeBatch = async (): Promise<void> => {
    const waiters = checkpointWaiters;
    checkpointWaiters = [];
    const items = (inFlight = takeBatch());
    const started = now();
    const events: EncodedEvent[] = [];
    const chunks: StreamChunk[] = [];
    for (const item of items) {
      if ('chunk' in item) {
        if (waitingData.get(item.dataSha256)!.shared && item.chunk.data.length >= MIN_SHARED_CHUNK_BYTES) item.chunk.sharedSha256 = item.dataSha256;
        chunks.push(item.chunk);
      } else events.push(item.event);
    }
    try {
      const result = await repo.append({ events, chunks, seal: sealWith(waiters.length > 0) });
      let next = 0;
      for (const item of items) {
        if ('chunk' in item) item.owner.chunkSettled(undefined);
        else {
          const linked = result.events[next++]!;
          item.resolve({ seq: linked.seq, hash: linked.hash });
        }
      }
      stats.appended += events.length;
      stats.lastBatchMs = now() - started;
      stats.lastBatchSize = items.length;
      stats.healthy = true;
      stats.unhealthySinceMs = undefined;
      stats.head = result.head;
      if (result.checkpoint) stats.lastCheckpoint = result.checkpoint;
      for (const w of waiters) w(result.checkpoint);
    } catch (err) {
      stats.failedBatches += 1;
      if (stats.healthy) stats.unhealthySinceMs = started;
      stats.healthy = false;
      options.onError?.(err);
      const refusal = unavailable(err);
      for (const item of items) {
        if ('chunk' in item) item.owner.chunkSettled(refusal);
        else item.reject(refusal);
      }
      for (const w of waiters) w(undefined, refusal);
    } finally {
      inFlight = [];
      for (const item of items) if ('chunk' in item) release(item.dataSha256);
    }
  };

  /** Whether a caller waits for what is queued (an event, a checkpoint), or the queue fills a batch: no gathering then. */
  const pressing = (): boolean => awaited > 0 || checkpointWaiters.length > 0 || queue.length >= maxBatch;

  const drain = async (): Promise<void> => {
    while (queue.length > 0 || checkpointWaiters.length > 0) {
      await writeBatch();
      // What arrived meanwhile, nobody waits for: it gathers company again. Taken at once, a steady trickle of reads
      // (one caller, one GET after another) was committed one read per transaction, each with its fsync.
      if (!pressing()) break;
    }
  };

  const kick = (): void => {
    if (gathering) {
      clearTimeout(gathering);
      gathering = undefined;
    }
    if (running || scheduled) return;
    scheduled = true;
    const start = () => {
      scheduled = false;
      running = drain().finally(() => {
        running = undefined;
        // Work queued between the loop's last check and now found `running` set and did not kick.
        if (pressing()) kick();
        else if (queue.length > 0) kickLater();
      });
    };
    if (window > 0) setTimeout(start, window);
    else setImmediate(start);
  };

  /** For a record nobody waits for: wait for company, unless a batch is on its way (the drain loop looks again after it). */
  const kickLater = (): void => {
    if (running || scheduled || gathering) return;
    if (backgroundWindow === 0 || queue.length >= maxBatch) return kick();
    gathering = setTimeout(kick, backgroundWindow);
  };

  /** Why nothing more can be queued now, if so. */
  const refusal = (): GatehouseError | undefined => {
    if (closed) return new GatehouseError('GH_AUDIT_UNAVAILABLE', 'the audit writer is closed');
    if (queue.length >= maxQueue) {
      return new GatehouseError('GH_AUDIT_UNAVAILABLE', `the audit queue is full (${maxQueue} records waiting for the store)`, { retryAfterSeconds: 1 });
    }
    return undefined;
  };

  const enqueueEvent = (event: EncodedEvent, background: boolean): Promise<AppendedEvent> => {
    const refused = refusal();
    if (refused) return Promise.reject(refused);
    return new Promise<AppendedEvent>((resolve, reject) => {
      queue.push({ event, background, enqueuedAt: now(), resolve, reject });
      if (background) kickLater();
      else {
        awaited += 1;
        kick();
      }
    });
  };

  const enqueueChunk: ChunkQueue = (chunk, owner, dataSha256) => {
    const refused = refusal();
    if (refused) return owner.chunkSettled(refused);
    const shared = waitingData.get(dataSha256);
    if (shared === undefined) waitingData.set(dataSha256, { data: chunk.data, chunks: 1, shared: false });
    else {
      chunk.data = shared.data;
      shared.chunks += 1;
      shared.shared = true;
    }
    queue.push({ chunk, enqueuedAt: now(), owner, dataSha256 });
    kickLater();
  };

  /** A chunk written (or refused) no longer holds its bytes for later chunks with the same. */
  const release = (dataSha256: string): void => {
    const shared = waitingData.get(dataSha256)!;
    if (--shared.chunks === 0) waitingData.delete(dataSha256);
  };

  const timer = setInterval(() => {
    if (checkpointWaiters.length === 0) checkpointWaiters.push(() => undefined);
    kick();
  }, intervalMs);
  timer.unref();

  const checkpoint = (): Promise<Checkpoint | undefined> =>
    new Promise((resolve, reject) => {
      checkpointWaiters.push((cp, err) => (err === undefined ? resolve(cp) : reject(err)));
      kick();
    });

  const flush = async (): Promise<void> => {
    while (running || scheduled || queue.length > 0) {
      if (!running && !scheduled) kick();
      await (running ?? new Promise((r) => setImmediate(r)));
    }
  };

  return {
    append(event, appendOptions) {
      let encoded: EncodedEvent;
      try {
        encoded = encodeEvent(event);
      } catch (err) {
        return Promise.reject(new GatehouseError('GH_INTERNAL', `the audit event cannot be recorded: ${(err as Error).message}`, { cause: err }));
      }
      return enqueueEvent(encoded, appendOptions?.background === true);
    },
    openStream: (streamOptions) => createStreamRecorder(enqueueChunk, streamOptions),
    checkpoint,
    flush,
    stats() {
      const oldest = inFlight[0] ?? queue[0];
      return { ...stats, queueDepth: queue.length + inFlight.length, lagMs: oldest ? Math.max(0, now() - oldest.enqueuedAt) : 0 };
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await flush();
      await checkpoint().catch(() => undefined);
      await flush();
    },
  };
}

function unavailable(err: unknown): GatehouseError {
  return new GatehouseError('GH_AUDIT_UNAVAILABLE', `the audit store could not record the request: ${(err as Error).message ?? String(err)}`, {
    cause: err,
    retryAfterSeconds: 1,
  });
}
