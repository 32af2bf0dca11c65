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
import { canonicalJson } from './canonical.js';
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

/** The hash of a chunk linked after `prevHash`. */
export function chunkHash(prevHash: string, chunk: Omit<StreamChunk, 'hash'>): string {
  const dataSha256 = createHash('sha256').update(chunk.data).digest('hex');
  const header = { v: 1, sessionId: chunk.sessionId, seq: chunk.seq, time: chunk.time, channel: chunk.channel, prevHash, dataSha256 };
  return createHash('sha256').update(canonicalJson(header)).digest('hex');
}

/** Records one stream; built by {@link AuditWriter.openStream}. */
export interface StreamRecorder {
  readonly sessionId: string;
  /** Queues a chunk (copied); past the byte cap nothing more is kept and the stream is marked truncated. */
  write(channel: string, data: Uint8Array | string): void;
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
}

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
  let truncated = false;
  const pending: Promise<void>[] = [];
  let failure: unknown;

  return {
    sessionId,
    get truncated() {
      return truncated;
    },
    write(channel, input) {
      if (truncated) return;
      let data = typeof input === 'string' ? Buffer.from(input) : Buffer.from(input);
      if (bytes + data.length > maxBytes) {
        data = data.subarray(0, maxBytes - bytes);
        truncated = true;
        if (data.length === 0) return;
      }
      seq += 1;
      bytes += data.length;
      const chunk = { sessionId, seq, time: rfc3339Micros(nowMicros()), channel, data };
      prevHash = chunkHash(prevHash, chunk);
      const done = enqueue({ ...chunk, hash: prevHash }).catch((err: unknown) => {
        failure ??= err;
      });
      pending.push(done);
    },
    async end() {
      await Promise.all(pending.splice(0));
      if (failure !== undefined) throw failure instanceof Error ? failure : new Error('the stream could not be recorded', { cause: failure });
      return { sessionId, kind: options.kind, chunks: seq, bytes, hash: prevHash, truncated };
    },
  };
}
