/**
 * Append throughput and latency of both stores (run with GATEHOUSE_BENCH=1;
 * skipped otherwise). Prints a table; asserts only that every append landed
 * and the chain verifies.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditSigner, trustedKeysFromPem } from '../../../src/audit/checkpoint.js';
import { verifyAuditStore } from '../../../src/audit/verify.js';
import { appendLatency, appendThroughput } from '../../../bench/lib/audit-append.js';
import { percentile } from '../../../bench/lib/stats.js';
import { postgresFactory, sampleEvent, sqliteFactory } from './stores.js';

const signer = createAuditSigner(generateKeyPairSync('ed25519').privateKey);
const run = process.env.GATEHOUSE_BENCH === '1';

describe.runIf(run).each([sqliteFactory(), postgresFactory()])('audit append benchmark: $name', (factory) => {
  beforeAll(() => factory.setup(), 60_000);
  afterAll(() => factory.teardown(), 30_000);

  it.each([64, 256, 1024])('throughput: 20 000 events queued at once, maxBatch %i', async (maxBatch) => {
    const opened = await factory.open();
    const events = Array.from({ length: 20_000 }, (_, i) => sampleEvent(i));
    const { eventsPerSecond, seconds } = await appendThroughput(opened.store.audit, signer, events, maxBatch);
    console.log(`[bench] ${factory.name} maxBatch=${maxBatch}: ${Math.round(eventsPerSecond)} events/s (${events.length} in ${seconds.toFixed(2)} s)`);
    const report = await verifyAuditStore(opened.store.audit, trustedKeysFromPem(signer.publicKeyPem));
    expect(report).toMatchObject({ ok: true, events: 20_000 });
    await opened.close();
  }, 300_000);

  it.each([1, 16, 128])('latency of append with %i concurrent callers', async (callers) => {
    const opened = await factory.open();
    const perCaller = Math.max(50, Math.floor(4000 / callers));
    const { latencies, eventsPerSecond } = await appendLatency(opened.store.audit, signer, callers, perCaller, (i) => sampleEvent(i));
    latencies.sort((a, b) => a - b);
    console.log(
      `[bench] ${factory.name} ${callers} caller(s): p50 ${percentile(latencies, 50).toFixed(3)} ms, p99 ${percentile(latencies, 99).toFixed(3)} ms, ` +
        `${Math.round(eventsPerSecond)} events/s`,
    );
    expect(latencies).toHaveLength(callers * perCaller);
    await opened.close();
  }, 300_000);
});
