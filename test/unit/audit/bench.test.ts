/**
 * Append throughput and latency of both stores (run with GATEHOUSE_BENCH=1;
 * skipped otherwise). Prints a table; asserts only that every append landed
 * and the chain verifies.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditSigner, trustedKeysFromPem } from '../../../src/audit/checkpoint.js';
import { verifyAuditStore } from '../../../src/audit/verify.js';
import { createAuditWriter } from '../../../src/audit/writer.js';
import { postgresFactory, sampleEvent, sqliteFactory } from './stores.js';

const signer = createAuditSigner(generateKeyPairSync('ed25519').privateKey);
const run = process.env.GATEHOUSE_BENCH === '1';

describe.runIf(run).each([sqliteFactory(), postgresFactory()])('audit append benchmark: $name', (factory) => {
  beforeAll(() => factory.setup(), 60_000);
  afterAll(() => factory.teardown(), 30_000);

  const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

  it.each([64, 256, 1024])('throughput: 20 000 events queued at once, maxBatch %i', async (maxBatch) => {
    const opened = await factory.open();
    const writer = createAuditWriter(opened.store.audit, { signer, maxBatch, checkpointEvery: 1000 });
    const events = Array.from({ length: 20_000 }, (_, i) => sampleEvent(i));
    const started = performance.now();
    await Promise.all(events.map((e) => writer.append(e)));
    const seconds = (performance.now() - started) / 1000;
    console.log(`[bench] ${factory.name} maxBatch=${maxBatch}: ${Math.round(events.length / seconds)} events/s (${events.length} in ${seconds.toFixed(2)} s)`);
    await writer.close();
    const report = await verifyAuditStore(opened.store.audit, trustedKeysFromPem(signer.publicKeyPem));
    expect(report).toMatchObject({ ok: true, events: 20_000 });
    await opened.close();
  }, 300_000);

  it.each([1, 16, 128])('latency of append with %i concurrent callers', async (callers) => {
    const opened = await factory.open();
    const writer = createAuditWriter(opened.store.audit, { signer, checkpointEvery: 1000 });
    const latencies: number[] = [];
    const perCaller = Math.max(50, Math.floor(4000 / callers));
    const started = performance.now();
    await Promise.all(
      Array.from({ length: callers }, async (_, c) => {
        for (let i = 0; i < perCaller; i++) {
          const event = sampleEvent(c * perCaller + i);
          const t0 = performance.now();
          await writer.append(event);
          latencies.push(performance.now() - t0);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    console.log(
      `[bench] ${factory.name} ${callers} caller(s): p50 ${percentile(latencies, 50).toFixed(3)} ms, p99 ${percentile(latencies, 99).toFixed(3)} ms, ` +
        `${Math.round(latencies.length / seconds)} events/s`,
    );
    expect(latencies).toHaveLength(callers * perCaller);
    await writer.close();
    await opened.close();
  }, 300_000);
});
