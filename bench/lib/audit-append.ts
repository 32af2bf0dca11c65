/**
 * How fast the audit writer appends to a store: bulk throughput, and the
 * latency each caller sees when several append at once. Shared by the
 * `audit` benchmark and test/unit/audit/bench.test.ts.
 */
import type { AuditSigner } from '../../src/audit/checkpoint.js';
import type { AuditEvent } from '../../src/audit/event.js';
import type { AuditRepo } from '../../src/audit/store.js';
import { createAuditWriter } from '../../src/audit/writer.js';

/** Events per second when `events` are queued at once; the writer is closed (everything flushed) before returning. */
export async function appendThroughput(repo: AuditRepo, signer: AuditSigner, events: readonly AuditEvent[], maxBatch: number): Promise<{ eventsPerSecond: number; seconds: number }> {
  const writer = createAuditWriter(repo, { signer, maxBatch, checkpointEvery: 1000 });
  const started = performance.now();
  await Promise.all(events.map((e) => writer.append(e)));
  const seconds = (performance.now() - started) / 1000;
  await writer.close();
  return { eventsPerSecond: events.length / seconds, seconds };
}

/** `callers` concurrent callers, each appending `perCaller` events one after another; ms per append, and events/s overall. */
export async function appendLatency(
  repo: AuditRepo,
  signer: AuditSigner,
  callers: number,
  perCaller: number,
  event: (i: number) => AuditEvent,
): Promise<{ latencies: number[]; eventsPerSecond: number }> {
  const writer = createAuditWriter(repo, { signer, checkpointEvery: 1000 });
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async (_, c) => {
      for (let i = 0; i < perCaller; i++) {
        const e = event(c * perCaller + i);
        const t0 = performance.now();
        await writer.append(e);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const eventsPerSecond = latencies.length / ((performance.now() - started) / 1000);
  await writer.close();
  return { latencies, eventsPerSecond };
}
