/**
 * The audit store: how fast the writer appends to SQLite and PostgreSQL, and
 * what recording to each costs a request (GET latency through a gateway on
 * SQLite, a gateway on PostgreSQL, and straight to the API server).
 */
import { generateKeyPairSync } from 'node:crypto';
import { createAuditSigner } from '../../src/audit/checkpoint.js';
import { postgresFactory, sampleEvent, sqliteFactory } from '../../test/unit/audit/stores.js';
import { appendLatency, appendThroughput } from '../lib/audit-append.js';
import { summarize } from '../lib/stats.js';
import type { Bench } from '../lib/suite.js';
import { latency, withOneObject } from './http.js';

export const auditBench: Bench = {
  name: 'audit',
  description: 'audit append throughput (SQLite, PostgreSQL) and GET latency with each store behind the gateway',
  async run(ctx) {
    const signer = createAuditSigner(generateKeyPairSync('ed25519').privateKey);
    const events = ctx.quick ? 2_000 : 20_000;
    for (const factory of [sqliteFactory(), postgresFactory()]) {
      const side = factory.name === 'sqlite' ? 'sqlite' : 'postgres';
      await factory.setup();
      try {
        const bulk = await factory.open();
        const { eventsPerSecond } = await appendThroughput(bulk.store.audit, signer, Array.from({ length: events }, (_, i) => sampleEvent(i)), 512);
        await bulk.close();
        const one = await factory.open();
        const { latencies } = await appendLatency(one.store.audit, signer, 16, ctx.quick ? 50 : 250, (i) => sampleEvent(i));
        await one.close();
        const s = summarize(latencies);
        ctx.log(`  audit: ${factory.name} ${Math.round(eventsPerSecond)} events/s in bulk; 16 callers p50 ${s.p50.toFixed(2)} ms p99 ${s.p99.toFixed(2)} ms`);
        ctx.add('audit', 'bulk append events/s', side, 'higher', [eventsPerSecond]);
        ctx.add('audit', 'append p50 ms (16 callers)', side, 'lower', [s.p50]);
        ctx.add('audit', 'append p99 ms (16 callers)', side, 'lower', [s.p99]);
      } finally {
        await factory.teardown();
      }
    }
    const targets = [ctx.env.direct, await ctx.env.gateway(), await ctx.env.gatewayPg()];
    await withOneObject(ctx, (path) => latency(ctx, targets, 'audit', 'GET', path, ctx.quick ? 100 : 500, ctx.quick ? 2 : 5));
  },
};
