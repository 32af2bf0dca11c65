import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAuditSigner } from '../../../src/audit/checkpoint.js';
import type { AuditRepo } from '../../../src/audit/store.js';
import type { StreamChunk } from '../../../src/audit/stream.js';
import { createAuditWriter } from '../../../src/audit/writer.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import type { SqliteStore } from '../../../src/store/sqlite.js';
import { sampleEvent } from './stores.js';

const signer = createAuditSigner(generateKeyPairSync('ed25519').privateKey);

describe('createAuditWriter', () => {
  let dir: string;
  let store: SqliteStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-writer-'));
    store = openSqliteStore(join(dir, 'g.db'));
  });
  afterEach(async () => {
    if (store.db.open) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('resolves append only after the commit: the event is readable from another connection by then', async () => {
    const writer = createAuditWriter(store.audit, { signer });
    const other = openSqliteStore(store.path);
    try {
      const { seq } = await writer.append(sampleEvent(0));
      expect((await other.audit.readAfter(seq - 1, 1))[0]?.seq).toBe(seq);
    } finally {
      await other.close();
      await writer.close();
    }
  });

  it('rejects an event that has no canonical form alone; the rest of the batch is written', async () => {
    const writer = createAuditWriter(store.audit, { signer });
    const bad = { ...sampleEvent(1), upstream: { status: 200, latencyMs: Number.NaN, bytesIn: 0, bytesOut: 0 } };
    const results = await Promise.allSettled([writer.append(sampleEvent(0)), writer.append(bad), writer.append(sampleEvent(2))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'GH_INTERNAL' });
    expect((await store.audit.head()).seq).toBe(2);
    await writer.close();
  });

  it('keeps one buffer for waiting chunks with the same bytes; each is stored whole, and a later one keeps its own', async () => {
    const batches: StreamChunk[][] = [];
    const spy: AuditRepo = { ...store.audit, append: (batch) => (batches.push([...batch.chunks]), store.audit.append(batch)) };
    const writer = createAuditWriter(spy, { signer });
    // Two watches of one resource are sent the same event, each in a buffer of its own.
    const event = '{"type":"ADDED","object":{"kind":"ConfigMap","metadata":{"name":"one"}}}\n';
    const a = writer.openStream({ kind: 'watch' });
    const b = writer.openStream({ kind: 'watch' });
    a.write('watch', Buffer.from(event));
    b.write('watch', Buffer.from(event));
    b.write('watch', Buffer.from('{"type":"DELETED"}\n'));
    const [refA, refB] = await Promise.all([a.end(), b.end()]);
    expect(batches).toHaveLength(1);
    const [first, second, third] = batches[0]!;
    expect(first!.data).toBe(second!.data);
    expect(third!.data).not.toBe(first!.data);
    expect((await store.audit.chunks(refA.sessionId)).map((c) => c.data.toString())).toEqual([event]);
    expect((await store.audit.chunks(refB.sessionId)).map((c) => c.data.toString())).toEqual([event, '{"type":"DELETED"}\n']);
    // Written, the bytes are not held for later chunks: the next one with the same bytes keeps its own buffer.
    const c = writer.openStream({ kind: 'watch' });
    const later = Buffer.from(event);
    c.write('watch', later);
    await c.end();
    expect(batches.at(-1)![0]!.data).toBe(later);
    await writer.close();
  });

  it('rejects at once when the queue is full (the store is too slow), and reports depth and lag', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow: AuditRepo = { ...store.audit, append: async (batch) => (await gate, store.audit.append(batch)) };
    let clock = 0;
    const writer = createAuditWriter(slow, { signer, maxQueue: 3, maxBatch: 2, now: () => clock });
    const first = [writer.append(sampleEvent(0)), writer.append(sampleEvent(1)), writer.append(sampleEvent(2))];
    await new Promise((r) => setImmediate(r)); // the first batch (2 events) is in flight
    first.push(writer.append(sampleEvent(3)), writer.append(sampleEvent(4)));
    await expect(writer.append(sampleEvent(5))).rejects.toMatchObject({ code: 'GH_AUDIT_UNAVAILABLE', message: expect.stringMatching(/queue is full/) as unknown });
    clock = 250;
    expect(writer.stats()).toMatchObject({ queueDepth: 5, lagMs: 250 });
    release();
    expect((await Promise.all(first)).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(writer.stats()).toMatchObject({ queueDepth: 0, lagMs: 0, appended: 5 });
    await writer.close();
  });

  it('lets background records wait for company; a record a caller waits for starts the batch and takes them along', async () => {
    const batches: number[] = [];
    const counting: AuditRepo = { ...store.audit, append: (batch) => (batches.push(batch.events.length + batch.chunks.length), store.audit.append(batch)) };
    const writer = createAuditWriter(counting, { signer, backgroundWindowMs: 60_000 });
    const background: Array<Promise<unknown>> = [];
    for (let i = 0; i < 4; i++) {
      background.push(writer.append(sampleEvent(i), { background: true }));
      await new Promise((r) => setImmediate(r));
    }
    expect(batches).toEqual([]);
    expect(writer.stats().queueDepth).toBe(4);
    const waited = await writer.append(sampleEvent(4));
    expect(waited.seq).toBe(5);
    expect(batches).toEqual([5]);
    expect((await Promise.all(background)).length).toBe(4);
    await writer.close();
  });

  it('lets background records that arrive while a batch is written gather again, rather than follow it one batch each', async () => {
    const batches: number[] = [];
    let openGate: () => void = () => undefined;
    const gate = new Promise<void>((r) => (openGate = r));
    const gated: AuditRepo = { ...store.audit, append: async (batch) => (batches.push(batch.events.length), await gate, store.audit.append(batch)) };
    const writer = createAuditWriter(gated, { signer, backgroundWindowMs: 60_000 });
    const first = writer.append(sampleEvent(0));
    while (batches.length === 0) await new Promise((r) => setImmediate(r));
    // One caller's reads, one after another: the first is recorded while the batch before it is being written.
    const reads = [writer.append(sampleEvent(1), { background: true })];
    openGate();
    expect((await first).seq).toBe(1);
    for (let i = 2; i < 4; i++) {
      await new Promise((r) => setImmediate(r));
      reads.push(writer.append(sampleEvent(i), { background: true }));
    }
    await new Promise((r) => setImmediate(r));
    expect(batches).toEqual([1]);
    expect(writer.stats().queueDepth).toBe(3);
    expect((await writer.append(sampleEvent(4))).seq).toBe(5);
    expect(batches).toEqual([1, 4]);
    expect((await Promise.all(reads)).map((a) => a.seq)).toEqual([2, 3, 4]);
    await writer.close();
  });

  it('writes background records when their window ends, and at once on close', async () => {
    const batches: number[] = [];
    const counting: AuditRepo = { ...store.audit, append: (batch) => (batches.push(batch.events.length), store.audit.append(batch)) };
    // Long enough that three ticks always fit in it, however busy the machine.
    const soon = createAuditWriter(counting, { signer, backgroundWindowMs: 1000 });
    const queued: Array<Promise<{ seq: number }>> = [];
    for (let i = 0; i < 3; i++) {
      queued.push(soon.append(sampleEvent(i), { background: true }));
      await new Promise((r) => setImmediate(r));
    }
    expect((await Promise.all(queued)).map((a) => a.seq)).toEqual([1, 2, 3]);
    expect(batches).toEqual([3]);
    await soon.close();

    const late = createAuditWriter(counting, { signer, backgroundWindowMs: 600_000 });
    const pending = late.append(sampleEvent(3), { background: true });
    await late.close();
    expect((await pending).seq).toBe(4);
  });

  it('writes a last checkpoint on close and refuses appends after it', async () => {
    const writer = createAuditWriter(store.audit, { signer, checkpointEvery: 100 });
    await writer.append(sampleEvent(0));
    await writer.append(sampleEvent(1));
    await writer.close();
    expect((await store.audit.checkpoints()).map((c) => c.seq)).toEqual([1, 2]);
    await expect(writer.append(sampleEvent(2))).rejects.toMatchObject({ code: 'GH_AUDIT_UNAVAILABLE', message: 'the audit writer is closed' });
  });

  it('writes a checkpoint on its timer while idle', async () => {
    // A second long: the appends and the first look are done well before it (50 ms was not, once, on a loaded CI machine).
    const writer = createAuditWriter(store.audit, { signer, checkpointEvery: 100, checkpointIntervalMs: 1000 });
    await writer.append(sampleEvent(0));
    await writer.append(sampleEvent(1));
    expect((await store.audit.checkpoints()).map((c) => c.seq)).toEqual([1]);
    await expect.poll(async () => (await store.audit.checkpoints()).map((c) => c.seq), { timeout: 5000 }).toEqual([1, 2]);
    await writer.close();
  });
});
