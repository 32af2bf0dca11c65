/**
 * One suite, two real stores: a SQLite file and a PostgreSQL server started
 * here. Appends, group commit, checkpoints, verify, then each kind of
 * tampering done directly in SQL, an outage and the recovery after it.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readSessionRecording } from '../../../src/audit/asciicast.js';
import { chainHash } from '../../../src/audit/chain.js';
import { createAuditSigner, trustedKeysFromPem } from '../../../src/audit/checkpoint.js';
import { canonicalJson } from '../../../src/audit/canonical.js';
import { eventColumns } from '../../../src/audit/columns.js';
import { auditEventSchema } from '../../../src/audit/event.js';
import type { AuditEvent } from '../../../src/audit/event.js';
import { pruneAuditBefore } from '../../../src/audit/retention.js';
import { verifyAuditStore } from '../../../src/audit/verify.js';
import type { VerifyReport } from '../../../src/audit/verify.js';
import { createAuditWriter } from '../../../src/audit/writer.js';
import type { AuditWriter, AuditWriterOptions } from '../../../src/audit/writer.js';
import { EVENT_INSERT_COLUMNS, valuesList } from '../../../src/store/audit-rows.js';
import type { AuditRepo } from '../../../src/audit/store.js';
import { postgresFactory, sampleEvent, sqliteFactory } from './stores.js';
import type { OpenedStore } from './stores.js';

const signer = createAuditSigner(generateKeyPairSync('ed25519').privateKey);
const keys = trustedKeysFromPem(signer.publicKeyPem);
const otherSigner = createAuditSigner(generateKeyPairSync('ed25519').privateKey);

describe.each([sqliteFactory(), postgresFactory()])('audit store: $name', (factory) => {
  let opened: OpenedStore | undefined;
  const writers: AuditWriter[] = [];

  beforeAll(() => factory.setup(), 60_000);
  afterAll(() => factory.teardown(), 30_000);
  afterEach(async () => {
    for (const w of writers.splice(0)) await w.close().catch(() => undefined);
    await opened?.close();
    opened = undefined;
  });

  const open = async (options: Partial<AuditWriterOptions> = {}) => {
    opened = await factory.open();
    const writer = createAuditWriter(opened.store.audit, { signer, checkpointEvery: 10, checkpointIntervalMs: 3_600_000, ...options });
    writers.push(writer);
    return { ...opened, writer, audit: opened.store.audit };
  };

  /** A store holding `count` events written one at a time (so checkpoints land every 10). */
  const filled = async (count: number) => {
    const s = await open();
    const events: AuditEvent[] = [];
    for (let i = 0; i < count; i++) {
      const event = sampleEvent(i);
      events.push(event);
      await s.writer.append(event);
    }
    return { ...s, events };
  };

  const verify = (audit: AuditRepo): Promise<VerifyReport> => verifyAuditStore(audit, keys, { pageSize: 7 });

  it('appends events and reads them back, chained from the genesis hash, with the same content', async () => {
    const { audit, events } = await filled(12);
    const rows = await audit.readAfter(0, 100);
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(rows[0]!.prevHash).toBe('0'.repeat(64));
    for (const [i, row] of rows.entries()) {
      if (i > 0) expect(row.prevHash).toBe(rows[i - 1]!.hash);
      const back = auditEventSchema.parse(JSON.parse(row.eventJson));
      expect(canonicalJson(back)).toBe(canonicalJson(events[i]));
      expect(row.hash).toBe(chainHash(row.prevHash, row.seq, back));
      expect(row.columns).toEqual(eventColumns(back));
    }
    expect(await audit.head()).toMatchObject({ seq: 12, hash: rows[11]!.hash });
  });

  it('searches by principal, verb, resource, namespace, decision and time', async () => {
    const { audit, events } = await filled(12);
    const seqs = async (filter: Parameters<AuditRepo['search']>[0]) => (await audit.search(filter)).map((r) => r.seq);
    expect(await seqs({ subject: 'oidc:alice@example.com' })).toEqual([1, 4, 7, 10]);
    expect(await seqs({ verbs: ['patch'], namespace: 'team-a' })).toEqual([2, 4, 6, 8, 10, 12]);
    expect(await seqs({ resource: 'pods', decision: 'allow', limit: 2, order: 'desc' })).toEqual([11, 9]);
    expect(await seqs({ decision: 'review', subject: 'token:cursor-bob' })).toEqual([2, 6, 8, 12]);
    expect(await seqs({ kubectlSession: 'session-3' })).toEqual([4, 8, 12]);
    const t5 = eventColumns(events[4]!).timeMs;
    expect(await seqs({ sinceMs: t5, untilMs: t5 + 2000 })).toEqual([5, 6]);
    expect(await seqs({ untilMs: eventColumns(events[0]!).timeMs })).toEqual([]);
    expect(await seqs({ afterSeq: 10 })).toEqual([11, 12]);
  });

  it('group-commits 1000 concurrent appends: all durable, gapless, chained, in far fewer transactions', async () => {
    const { writer, audit } = await open({ checkpointEvery: 250 });
    let transactions = 0;
    const counting: AuditRepo = { ...audit, append: (batch) => ((transactions += 1), audit.append(batch)) };
    const counted = createAuditWriter(counting, { signer, checkpointEvery: 250, checkpointIntervalMs: 3_600_000 });
    writers.push(counted);
    void writer;
    const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => counted.append(sampleEvent(i))));
    expect(new Set(results.map((r) => r.seq)).size).toBe(1000);
    expect(results.map((r) => r.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    expect(transactions).toBeLessThanOrEqual(10);
    expect(counted.stats()).toMatchObject({ appended: 1000, queueDepth: 0, healthy: true });
    const report = await verify(audit);
    expect(report).toMatchObject({ ok: true, events: 1000, firstSeq: 1, lastSeq: 1000 });
    expect(report.checkpoints).toBeGreaterThanOrEqual(2);
  });

  it('keeps one linear chain when two replicas write to the same store at once', async () => {
    const { writer, audit, openAnother } = await open();
    const other = createAuditWriter((await openAnother()).audit, { signer, checkpointEvery: 10, checkpointIntervalMs: 3_600_000 });
    writers.push(other);
    const appends = Array.from({ length: 400 }, (_, i) => (i % 2 === 0 ? writer : other).append(sampleEvent(i)));
    const seqs = (await Promise.all(appends)).map((r) => r.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
    expect(await verify(audit)).toMatchObject({ ok: true, events: 400, problem: undefined });
  });

  it('writes signed checkpoints every N events and on close; each names the hash of its event', async () => {
    const { audit, writer } = await filled(25);
    await writer.close();
    const checkpoints = await audit.checkpoints();
    expect(checkpoints.map((c) => c.seq)).toEqual([1, 11, 21, 25]);
    const rows = await audit.readAfter(0, 100);
    for (const cp of checkpoints) {
      expect(cp).toMatchObject({ kind: 'periodic', keyId: signer.keyId, hash: rows[cp.seq - 1]!.hash });
    }
    expect(await verify(audit)).toEqual({ ok: true, events: 25, firstSeq: 1, lastSeq: 25, checkpoints: 4, lastCheckpointSeq: 25, problem: undefined });
  });

  it('writes a checkpoint after T even below N events', async () => {
    let clock = 1_000_000;
    const { writer, audit } = await open({ checkpointEvery: 1000, checkpointIntervalMs: 5000, now: () => clock });
    await writer.append(sampleEvent(0)); // the first checkpoint comes at once
    await writer.append(sampleEvent(1));
    clock += 4000;
    await writer.append(sampleEvent(2));
    expect((await audit.checkpoints()).map((c) => c.seq)).toEqual([1]);
    clock += 2000;
    await writer.append(sampleEvent(3));
    expect((await audit.checkpoints()).map((c) => c.seq)).toEqual([1, 4]);
    expect(await writer.checkpoint()).toBeUndefined(); // the head did not move
  });

  describe('tampering done directly in SQL', () => {
    const expectBroken = async (audit: AuditRepo, kind: string, seq: number, message: RegExp) => {
      const report = await verify(audit);
      expect(report.ok).toBe(false);
      expect(report.problem).toMatchObject({ kind, seq });
      expect(report.problem!.message).toMatch(message);
    };

    it('an edited body', async () => {
      const { audit, sql } = await filled(30);
      expect((await verify(audit)).ok).toBe(true);
      await sql("UPDATE audit_events SET event_json = replace(event_json, 'hello 16', 'HELLO 16') WHERE seq = 17");
      await expectBroken(audit, 'edited', 17, /does not match its hash/);
    });

    it('an edited indexed column (to hide a record from search)', async () => {
      const { audit, sql } = await filled(30);
      await sql("UPDATE audit_events SET subject = 'someone-else' WHERE seq = 8");
      await expectBroken(audit, 'edited', 8, /subject column of seq 8/);
    });

    it('a deleted record', async () => {
      const { audit, sql } = await filled(30);
      await sql('DELETE FROM audit_events WHERE seq = 14');
      await expectBroken(audit, 'deleted', 14, /seq 14 is missing/);
    });

    it('deleted first records', async () => {
      const { audit, sql } = await filled(30);
      await sql('DELETE FROM audit_events WHERE seq <= 3');
      await expectBroken(audit, 'deleted', 1, /starts at seq 4 with no seal/);
    });

    it('two records swapped', async () => {
      const { audit, sql } = await filled(30);
      await sql('UPDATE audit_events SET seq = -1 WHERE seq = 12');
      await sql('UPDATE audit_events SET seq = 12 WHERE seq = 13');
      await sql('UPDATE audit_events SET seq = 13 WHERE seq = -1');
      await expectBroken(audit, 'reordered', 12, /seq 13 and seq 12 were swapped/);
    });

    it('a forged record inserted in the middle, its hash computed correctly and the rest renumbered', async () => {
      const { audit, sql } = await filled(30);
      const [prev] = await audit.readAfter(19, 1);
      await sql('UPDATE audit_events SET seq = seq + 1000 WHERE seq > 20');
      await sql('UPDATE audit_events SET seq = seq - 999 WHERE seq > 1000');
      await insertForged(sql, 21, prev!.hash);
      await expectBroken(audit, 'inserted', 21, /names as seq 21 is now seq 22: 1 record\(s\) were inserted/);
    });

    it('a forged record inserted between checkpoints', async () => {
      const { audit, sql } = await filled(30);
      const [prev] = await audit.readAfter(22, 1);
      await sql('UPDATE audit_events SET seq = seq + 1000 WHERE seq > 23');
      await sql('UPDATE audit_events SET seq = seq - 999 WHERE seq > 1000');
      await insertForged(sql, 24, prev!.hash);
      await expectBroken(audit, 'inserted', 24, /seq 25 was written as seq 24: 1 record\(s\) were inserted/);
    });

    it('a forged record appended at the end', async () => {
      const { audit, sql } = await filled(30);
      const [last] = await audit.readAfter(29, 1);
      await insertForged(sql, 31, last!.hash);
      await expectBroken(audit, 'inserted', 31, /beyond the chain head/);
    });

    it('the tail cut after a checkpoint', async () => {
      const { audit, sql } = await filled(30);
      await sql('DELETE FROM audit_events WHERE seq > 18');
      await sql('UPDATE audit_chain_head SET seq = 18, hash = (SELECT hash FROM audit_events WHERE seq = 18)');
      await expectBroken(audit, 'truncated', 19, /names seq 21, which is gone/);
    });

    it('the tail cut after the last checkpoint (caught by the head row)', async () => {
      const { audit, sql } = await filled(30);
      await sql('DELETE FROM audit_events WHERE seq > 27');
      await expectBroken(audit, 'truncated', 28, /head is seq 30 but the last record is seq 27/);
    });

    it('the chain rewritten after an edit, hashes recomputed, up to a checkpoint', async () => {
      const { audit, sql } = await filled(30);
      await rewriteFrom(audit, sql, 15, (e) => ({ ...e, result: { status: 403 } }));
      await expectBroken(audit, 'edited', 21, /checkpoint signed at .* names hash .* the chain up to here was rewritten/);
    });

    it('a corrupted checkpoint signature', async () => {
      const { audit, sql } = await filled(30);
      const [cp] = (await audit.checkpoints()).filter((c) => c.seq === 11);
      const bad = Buffer.from(cp!.signature, 'base64');
      bad[5]! ^= 1;
      await sql('UPDATE audit_checkpoints SET signature = ? WHERE seq = 11', [bad.toString('base64')]);
      await expectBroken(audit, 'bad-signature', 11, /signature does not match/);
    });

    it('a checkpoint signed by a key that is not trusted', async () => {
      const { audit, sql } = await filled(30);
      const [row] = await audit.readAfter(14, 1);
      const forged = otherSigner.sign({ seq: 15, hash: row!.hash, time: '2030-01-01T00:00:00.000000Z', kind: 'periodic' });
      await sql('INSERT INTO audit_checkpoints (seq, kind, hash, time, key_id, signature) VALUES (?, ?, ?, ?, ?, ?)', [
        forged.seq,
        forged.kind,
        forged.hash,
        forged.time,
        forged.keyId,
        forged.signature,
      ]);
      await expectBroken(audit, 'bad-signature', 15, /not a trusted key/);
    });
  });

  it('records a stream as chunks covered by the chain; a changed chunk is caught', async () => {
    const { writer, audit, sql } = await open();
    const stream = writer.openStream({ kind: 'exec', maxBytes: 20 });
    stream.write('stdin', 'ls -l\n');
    stream.write('stdout', 'total 0\n');
    stream.write('stdout', 'a very long line past the cap');
    const ref = await stream.end();
    expect(ref).toMatchObject({ kind: 'exec', chunks: 4, truncated: true });
    await writer.append(sampleEvent(0, { stream: ref }));
    const chunks = await audit.chunks(ref.sessionId);
    expect(chunks.map((c) => [c.channel, c.data.toString()])).toEqual([
      ['stdin', 'ls -l\n'],
      ['stdout', 'total 0\n'],
      ['stdout', 'a very'],
      ['marker', expect.stringContaining('cap of 20 bytes') as string],
    ]);
    expect(ref.bytes).toBe(chunks.reduce((n, c) => n + c.data.length, 0));
    expect((await verify(audit)).ok).toBe(true);
    await sql('UPDATE audit_stream_chunks SET data = ? WHERE seq = 1', [Buffer.from('rm -rf\n')]);
    expect((await verify(audit)).problem).toMatchObject({ kind: 'edited', seq: 1 });
  });

  it('keeps the bytes several streams record at once a single time; each stream reads them back; pruning lets go of them', async () => {
    const { writer, audit, sql } = await open();
    const count = async (query: string): Promise<number> => Number((await sql(query))[0]!.n);
    // One watch event sent to three clients of a shared watch (the same buffer), and a short line they also share.
    const event = Buffer.from(`${JSON.stringify({ type: 'ADDED', object: { kind: 'ConfigMap', data: { big: 'x'.repeat(400) } } })}\n`);
    const short = Buffer.from('{"type":"BOOKMARK"}\n');
    const streams = [0, 1, 2].map(() => writer.openStream({ kind: 'watch' }));
    for (const [i, s] of streams.entries()) {
      s.write('watch', event);
      s.write('watch', short);
      s.write('watch', `{"client":${i}}\n`);
    }
    const refs = await Promise.all(streams.map((s) => s.end()));
    for (const [i, ref] of refs.entries()) await writer.append(sampleEvent(i, { stream: ref }));
    for (const [i, ref] of refs.entries()) {
      expect((await audit.chunks(ref.sessionId)).map((c) => c.data.toString())).toEqual([event.toString(), short.toString(), `{"client":${i}}\n`]);
    }
    expect(await count('SELECT COUNT(*) AS n FROM audit_chunk_data')).toBe(1);
    // Only the large event's chunks refer to the copy; the short line is below MIN_SHARED_CHUNK_BYTES.
    expect(await count('SELECT COUNT(*) AS n FROM audit_stream_chunks WHERE data_sha256 IS NOT NULL')).toBe(3);
    expect(await verify(audit)).toMatchObject({ ok: true, events: 3 });

    // The copy is covered by every chunk's hash: changing it breaks the first stream that refers to it.
    const [copy] = await sql('SELECT data FROM audit_chunk_data');
    await sql('UPDATE audit_chunk_data SET data = ?', [Buffer.from(event.toString().replace('ADDED', 'DELETED'))]);
    expect((await verify(audit)).problem).toMatchObject({ kind: 'edited', seq: 1 });
    await sql('UPDATE audit_chunk_data SET data = ?', [copy!.data]);
    expect((await verify(audit)).ok).toBe(true);

    await writer.append(sampleEvent(3));
    const cutoff = eventColumns(sampleEvent(2)).timeMs + 0.5;
    expect(await pruneAuditBefore(audit, signer, cutoff)).toMatchObject({ deleted: 3 });
    expect(await count('SELECT COUNT(*) AS n FROM audit_stream_chunks')).toBe(0);
    expect(await count('SELECT COUNT(*) AS n FROM audit_chunk_data')).toBe(0);
    expect(await verify(audit)).toMatchObject({ ok: true, events: 1 });
  });

  it('reads a session back by its stream id, checked against the event that closed it', async () => {
    const { writer, audit, sql } = await open();
    const stream = writer.openStream({ kind: 'exec', sessionId: 'exec-request-1' });
    stream.write('resize', '{"Width":100,"Height":30}');
    stream.write('stdin', 'echo hi\n');
    stream.write('stdout', 'hi\n');
    const unclosed = await readSessionRecording(audit, 'exec-request-1');
    expect(unclosed.event).toBeUndefined();
    expect(unclosed.problem).toMatch(/still be open/);
    await writer.append(sampleEvent(0, { stream: await stream.end() }));
    await writer.append(sampleEvent(1));
    const rec = await readSessionRecording(audit, 'exec-request-1');
    expect(rec.problem).toBeUndefined();
    expect(rec.event?.stream).toMatchObject({ sessionId: 'exec-request-1', chunks: 3 });
    expect(rec.chunks.map((c) => c.channel)).toEqual(['resize', 'stdin', 'stdout']);
    await sql('DELETE FROM audit_stream_chunks WHERE seq = 2', []);
    expect((await readSessionRecording(audit, 'exec-request-1')).problem).toMatch(/missing chunk 2/);
  });

  it('rejects appends while the store is down, and recovers by itself when it is back', async () => {
    const errors: unknown[] = [];
    const { writer, audit, outage, restore } = await open({ onError: (e) => errors.push(e) });
    await writer.append(sampleEvent(0));
    await outage();
    await expect(writer.append(sampleEvent(1))).rejects.toMatchObject({ code: 'GH_AUDIT_UNAVAILABLE', httpStatus: 503, retryAfterSeconds: 1 });
    const during = await Promise.allSettled([writer.append(sampleEvent(2)), writer.append(sampleEvent(3))]);
    expect(during.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(writer.stats().healthy).toBe(false);
    expect(errors.length).toBeGreaterThanOrEqual(2);
    await restore();
    const after = await writer.append(sampleEvent(4));
    expect(after.seq).toBe(2);
    expect(writer.stats().healthy).toBe(true);
    expect(await verify(audit)).toMatchObject({ ok: true, events: 2 });
  }, 60_000);

  it('rejects appends once the store is closed, without hanging', async () => {
    const { writer, store } = await open();
    await store.close();
    await expect(writer.append(sampleEvent(0))).rejects.toMatchObject({ code: 'GH_AUDIT_UNAVAILABLE' });
  });

  it('prunes old events behind a signed seal, and verify passes from the new start', async () => {
    const { audit, writer, events, sql } = await filled(30);
    const cutoff = eventColumns(events[12]!).timeMs + 0.5;
    const pruned = await pruneAuditBefore(audit, signer, cutoff);
    expect(pruned).toMatchObject({ deleted: 13, seal: { kind: 'seal', seq: 13 } });
    expect((await audit.readAfter(0, 1))[0]!.seq).toBe(14);
    expect(await verify(audit)).toMatchObject({ ok: true, firstSeq: 14, lastSeq: 30, events: 17 });
    await writer.append(sampleEvent(30));
    expect((await verify(audit)).ok).toBe(true);
    await sql("DELETE FROM audit_checkpoints WHERE kind = 'seal'");
    expect((await verify(audit)).problem).toMatchObject({ kind: 'deleted', seq: 1 });
  });
});

type Sql = OpenedStore['sql'];

/** Inserts a forged event at `seq` whose hash is computed correctly over `prevHash` (the attacker knows the algorithm). */
async function insertForged(sql: Sql, seq: number, prevHash: string): Promise<void> {
  const event = sampleEvent(999, { result: { status: 201 } });
  await insertRow(sql, seq, prevHash, event);
}

async function insertRow(sql: Sql, seq: number, prevHash: string, event: AuditEvent): Promise<string> {
  const json = canonicalJson(event);
  const hash = chainHash(prevHash, seq, JSON.parse(json) as unknown);
  const columns: unknown[] = Object.values(eventColumns(event));
  await sql(`INSERT INTO audit_events (${EVENT_INSERT_COLUMNS.join(', ')}) VALUES ${valuesList(1, EVENT_INSERT_COLUMNS.length)}`, [
    seq,
    ...columns,
    prevHash,
    hash,
    json,
  ]);
  return hash;
}

/** Edits events from `seq` on and recomputes every hash after it, and the head row: a careful attacker. */
async function rewriteFrom(audit: AuditRepo, sql: Sql, seq: number, edit: (e: AuditEvent) => AuditEvent): Promise<void> {
  const rows = await audit.readAfter(seq - 1, 1000);
  let prevHash = rows[0]!.prevHash;
  await sql('DELETE FROM audit_events WHERE seq >= ?', [seq]);
  for (const row of rows) {
    const event = auditEventSchema.parse(JSON.parse(row.eventJson));
    prevHash = await insertRow(sql, row.seq, prevHash, edit(event));
  }
  await sql('UPDATE audit_chain_head SET hash = ?', [prevHash]);
}
