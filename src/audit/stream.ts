/**
 * Streams (watch, `logs -f`, exec/attach terminals) are recorded as ordered
 * chunks beside the events. The chunks of one stream form their own hash
 * chain:
 *
 *     hash = SHA-256( canonicalJson({ v: 1, sessionId, seq, time, channel, prevHash, dataSha256 }) )
 *
 * (`prevHash` of chunk 1 is the genesis hash, `dataSha256` the hex SHA-256 of
 * the chunk's bytes), and the event written when the stream ends carries the
 * count, the bytes and the last hash in `stream`, so the main chain covers
 * every chunk.
 *
 * @module
 */

import { hash, randomUUID } from 'node:crypto';
import { GENESIS_HASH } from './chain.js';
import { nowMicros, rfc3339Micros } from './event.js';
import type { AuditStreamRef } from './event.js';

/** One recorded piece of a stream. `channel`: stdin, stdout, stderr, resize, watch, log… */
export interface StreamChunk {
  sessionId: string;
  seq: number;
  time: string;
  channel: string;
  data: Buffer;
  hash: string;
  /**
   * Set by the audit writer when other chunks waiting with this one carry the
   * same bytes (the clients of one shared watch): the store keeps those bytes
   * once, under this hex SHA-256 of them, for every chunk that has them.
   */
  sharedSha256?: string;
}

/**
 * The hash of a chunk linked after `prevHash`: SHA-256 of the canonical
 * encoding of `{ v: 1, sessionId, seq, time, channel, prevHash, dataSha256 }`.
 * The encoding is spelled out (keys sorted). Verification hashes stored
 * chunks here; a recorder hashes the chunks it queues with the same header
 * written into a buffer (createChunkHasher below).
 */
export function chunkHash(prevHash: string, chunk: Omit<StreamChunk, 'hash'>): string {
  return headerHash(prevHash, chunk, hash('sha256', chunk.data, 'hex'));
}

/** {@link chunkHash} of a chunk whose data's hex SHA-256 is known. */
function headerHash(prevHash: string, chunk: Omit<StreamChunk, 'hash' | 'data'>, dataSha256: string): string {
  const header =
    `{"channel":${JSON.stringify(chunk.channel)},"dataSha256":"${dataSha256}","prevHash":${JSON.stringify(prevHash)},` +
    `"seq":${chunk.seq},"sessionId":${JSON.stringify(chunk.sessionId)},"time":${JSON.stringify(chunk.time)},"v":1}`;
  return hash('sha256', header, 'hex');
}

// The header of a recorder's chunk is written here and hashed in place: no string is built per chunk. One buffer
// serves every recorder of the thread, as a chunk is hashed from start to end without yielding.
const HEADER_ROOM = 1024;
const header = Buffer.allocUnsafeSlow(HEADER_ROOM);
// header.subarray(0, n) by n, made once each.
const headerViews: Buffer[] = [];
// The bytes of a header besides its session id, channel and time: keys, two hashes, a seq of up to 16 digits.
const HEADER_FIXED_BYTES = 200;
// JSON strings of the channels seen (a handful of names), and their length in UTF-8.
const quotedChannels = new Map<string, { json: string; bytes: number }>();

/**
 * {@link chunkHash} for the chunks of one recorder: the same header bytes,
 * written into a buffer instead of built as a string per chunk. It relies
 * on what the recorder gives it: `prevHash` a hash it computed (hex, so its
 * JSON form is itself in quotes), `seq` a positive integer, `time` from
 * rfc3339Micros (nothing to escape). A session id or channel too long for the
 * buffer goes the string way.
 */
function createChunkHasher(sessionId: string): (prevHash: string, seq: number, time: string, channel: string, dataSha256: string) => string {
  const sessionPart = `,"sessionId":${JSON.stringify(sessionId)},"time":"`;
  const sessionBytes = Buffer.byteLength(sessionPart);
  return (prevHash, seq, time, channel, dataSha256) => {
    let quoted = quotedChannels.get(channel);
    if (quoted === undefined) {
      const json = JSON.stringify(channel);
      quoted = { json, bytes: Buffer.byteLength(json) };
      if (quotedChannels.size < 64) quotedChannels.set(channel, quoted);
    }
    if (HEADER_FIXED_BYTES + sessionBytes + quoted.bytes + time.length > HEADER_ROOM) {
      return headerHash(prevHash, { sessionId, seq, time, channel }, dataSha256);
    }
    let n = header.write('{"channel":', 0, 'latin1');
    n += header.write(quoted.json, n, 'utf8');
    n += header.write(',"dataSha256":"', n, 'latin1');
    n += header.write(dataSha256, n, 'latin1');
    n += header.write('","prevHash":"', n, 'latin1');
    n += header.write(prevHash, n, 'latin1');
    n += header.write('","seq":', n, 'latin1');
    n += header.write(String(seq), n, 'latin1');
    n += header.write(sessionPart, n, 'utf8');
    n += header.write(time, n, 'latin1');
    n += header.write('","v":1}', n, 'latin1');
    return hash('sha256', (headerViews[n] ??= header.subarray(0, n)), 'hex');
  };
}

// The last chunk hashed on this thread and its hash: a watch shared by many clients (upstream/shared-watch.ts) hands
// every client's recorder the same buffer, one after the other, and chunks do not change once written.
let lastData: Buffer | undefined;
let lastDataSha256 = '';

/** The hex SHA-256 of a chunk's bytes, worked out once for a buffer recorded by many streams in a row. */
function dataHash(data: Buffer): string {
  if (data !== lastData) {
    lastDataSha256 = hash('sha256', data, 'hex');
    lastData = data;
  }
  return lastDataSha256;
}

/** Per-stream cap on recorded bytes unless told otherwise (`audit.maxStreamBytes`). */
export const DEFAULT_MAX_STREAM_BYTES = 64 * 1024 * 1024;

/** Records one stream; built by {@link AuditWriter.openStream}. */
export interface StreamRecorder {
  readonly sessionId: string;
  /**
   * Queues a chunk. A buffer is recorded as it is, not copied: its bytes
   * must not change afterwards (a stream's chunks never do). The chunk that
   * reaches the byte cap is cut there, followed by a `marker` chunk saying
   * so; later writes are dropped.
   */
  write(channel: string, data: Uint8Array | string): void;
  /** Queues a `marker` chunk (a note for whoever reads the recording); not counted against the cap. */
  mark(text: string): void;
  /** True once the byte cap was hit. */
  readonly truncated: boolean;
  /** Waits until every chunk is durable and returns the reference for the stream's event. */
  end(): Promise<AuditStreamRef>;
}

export interface StreamRecorderOptions {
  /** What the stream is: watch, logs, exec, attach, portforward. */
  kind: string;
  /** Per-stream cap on recorded bytes (default 64 MiB). */
  maxBytes?: number;
  sessionId?: string;
  /** Told once, when the first chunk could not be stored (`end` rejects with the same error). */
  onError?: (err: unknown) => void;
}

/** The channel of notes the gateway adds to a recording (truncation, undecodable data). */
export const MARKER_CHANNEL = 'marker';

/** Told how each chunk it queued ended: once per chunk, in queue order. */
export interface ChunkOwner {
  /** `err` undefined: the chunk is durable; else why it is not. */
  chunkSettled(err: unknown): void;
}

/**
 * Takes a chunk for the store (the writer's queue) and later tells `owner`
 * how it went; a chunk it cannot take is settled with the error at once.
 * `dataSha256` is the hex SHA-256 of `chunk.data`, which the chunk's hash
 * covers: a queue may keep one buffer for chunks whose bytes are the same.
 */
export type ChunkQueue = (chunk: StreamChunk, owner: ChunkOwner, dataSha256: string) => void;

/**
 * A recorder that hashes chunks as they come and hands them to `queue` (the
 * writer's); the queue tells it when they are durable. Per chunk it makes the
 * chunk object and its time and hash strings, nothing else.
 *
 * @example
 * const chunks: StreamChunk[] = [];
 * const stream = createStreamRecorder((chunk, owner) => (chunks.push(chunk), owner.chunkSettled(undefined)), { kind: 'exec' });
 * stream.write('stdout', 'hi\n');
 * const ref = await stream.end(); // { sessionId, kind: 'exec', chunks: 1, bytes: 3, hash: chunks[0].hash, truncated: false }
 */
export function createStreamRecorder(queue: ChunkQueue, options: StreamRecorderOptions): StreamRecorder {
  const sessionId = options.sessionId ?? randomUUID();
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_STREAM_BYTES;
  const hashChunk = createChunkHasher(sessionId);
  let prevHash = GENESIS_HASH;
  let seq = 0;
  let bytes = 0;
  // Bytes counted against the cap: every chunk but the markers.
  let kept = 0;
  let truncated = false;
  // Chunks queued and not yet settled; `end` waits until there are none.
  let pending = 0;
  let drained: (() => void) | undefined;
  let whenDrained: Promise<void> | undefined;
  let failure: unknown;

  const owner: ChunkOwner = {
    chunkSettled(err) {
      if (err !== undefined && failure === undefined) {
        failure = err;
        // Not from inside write(): the error handler may well write (a marker) or end the session.
        if (options.onError) queueMicrotask(() => options.onError?.(err));
      }
      pending -= 1;
      if (pending === 0 && drained) {
        drained();
        drained = undefined;
        whenDrained = undefined;
      }
    },
  };

  const push = (channel: string, data: Buffer): void => {
    seq += 1;
    bytes += data.length;
    const time = rfc3339Micros(nowMicros());
    const dataSha256 = dataHash(data);
    prevHash = hashChunk(prevHash, seq, time, channel, dataSha256);
    pending += 1;
    queue({ sessionId, seq, time, channel, data, hash: prevHash }, owner, dataSha256);
  };

  const mark = (text: string): void => push(MARKER_CHANNEL, Buffer.from(text));

  return {
    sessionId,
    get truncated() {
      return truncated;
    },
    write(channel, input) {
      if (truncated) return;
      const data = typeof input === 'string' ? Buffer.from(input) : Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
      const room = maxBytes - kept;
      kept += Math.min(data.length, room);
      if (data.length <= room) {
        if (data.length > 0) push(channel, data);
        return;
      }
      truncated = true;
      if (room > 0) push(channel, data.subarray(0, room));
      mark(`recording stopped: the stream reached its cap of ${maxBytes} bytes; what followed was not recorded`);
    },
    mark,
    async end() {
      if (pending > 0) await (whenDrained ??= new Promise<void>((resolve) => (drained = resolve)));
      if (failure !== undefined) throw failure instanceof Error ? failure : new Error('the stream could not be recorded', { cause: failure });
      return { sessionId, kind: options.kind, chunks: seq, bytes, hash: prevHash, truncated };
    },
  };
}

/** Why a stream's chunks are not the ones its event summed up, or undefined when they are. */
export function streamChunksProblem(ref: AuditStreamRef, chunks: readonly StreamChunk[]): { kind: 'deleted' | 'edited'; message: string } | undefined {
  let prev = GENESIS_HASH;
  let bytes = 0;
  for (const [i, chunk] of chunks.entries()) {
    if (chunk.seq !== i + 1) return { kind: 'deleted', message: `stream ${ref.sessionId} is missing chunk ${i + 1}` };
    if (chunkHash(prev, chunk) !== chunk.hash) return { kind: 'edited', message: `chunk ${chunk.seq} of stream ${ref.sessionId} does not match its hash` };
    prev = chunk.hash;
    bytes += chunk.data.length;
  }
  if (chunks.length !== ref.chunks || bytes !== ref.bytes || prev !== ref.hash) {
    return {
      kind: chunks.length < (ref.chunks ?? 0) ? 'deleted' : 'edited',
      message: `stream ${ref.sessionId} has ${chunks.length} chunks (${bytes} bytes), the event recorded ${ref.chunks} (${ref.bytes} bytes)`,
    };
  }
  return undefined;
}
