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

import { createHash, randomUUID } from 'node:crypto';
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
}

/**
 * The hash of a chunk linked after `prevHash`: SHA-256 of the canonical
 * encoding of `{ v: 1, sessionId, seq, time, channel, prevHash, dataSha256 }`.
 * The encoding is spelled out (keys sorted), as every chunk of every watch
 * and session goes through here.
 */
export function chunkHash(prevHash: string, chunk: Omit<StreamChunk, 'hash'>): string {
  const dataSha256 = createHash('sha256').update(chunk.data).digest('hex');
  const header =
    `{"channel":${JSON.stringify(chunk.channel)},"dataSha256":"${dataSha256}","prevHash":${JSON.stringify(prevHash)},` +
    `"seq":${chunk.seq},"sessionId":${JSON.stringify(chunk.sessionId)},"time":${JSON.stringify(chunk.time)},"v":1}`;
  return createHash('sha256').update(header).digest('hex');
}

/** Records one stream; built by {@link AuditWriter.openStream}. */
export interface StreamRecorder {
  readonly sessionId: string;
  /**
   * Queues a chunk (copied). The chunk that reaches the byte cap is cut
   * there, followed by a `marker` chunk saying so; later writes are dropped.
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

/**
 * A recorder that hashes chunks as they come and hands them to `enqueue`
 * (the writer's queue); `enqueue`'s promises tell when they are durable.
 */
export function createStreamRecorder(enqueue: (chunk: StreamChunk) => Promise<void>, options: StreamRecorderOptions): StreamRecorder {
  const sessionId = options.sessionId ?? randomUUID();
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  let prevHash = GENESIS_HASH;
  let seq = 0;
  let bytes = 0;
  // Bytes counted against the cap: every chunk but the markers.
  let kept = 0;
  let truncated = false;
  // The writer commits in queue order, so the last chunk's promise settles after every earlier one.
  let last: Promise<void> = Promise.resolve();
  let failure: unknown;

  const push = (channel: string, data: Buffer): void => {
    seq += 1;
    bytes += data.length;
    const chunk = { sessionId, seq, time: rfc3339Micros(nowMicros()), channel, data };
    prevHash = chunkHash(prevHash, chunk);
    last = enqueue({ ...chunk, hash: prevHash }).catch((err: unknown) => {
      if (failure !== undefined) return;
      failure = err;
      options.onError?.(err);
    });
  };

  const mark = (text: string): void => push(MARKER_CHANNEL, Buffer.from(text));

  return {
    sessionId,
    get truncated() {
      return truncated;
    },
    write(channel, input) {
      if (truncated) return;
      const data = Buffer.from(input);
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
      await last;
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
