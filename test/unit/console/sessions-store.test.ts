/**
 * The session listing query on both real stores: grouping by kubectl
 * session and principal, per principal and hour without one, counts, order,
 * filters and the events of one session.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAuditSigner } from '../../../src/audit/checkpoint.js';
import { createAuditWriter } from '../../../src/audit/writer.js';
import { postgresFactory, sampleEvent, sqliteFactory } from '../audit/stores.js';
import type { OpenedStore } from '../audit/stores.js';

const signer = createAuditSigner(generateKeyPairSync('ed25519').privateKey);
const HOUR = 3_600_000;
const start = Date.UTC(2025, 0, 1);

describe.each([sqliteFactory(), postgresFactory()])('sessions: $name', (factory) => {
  let opened: OpenedStore | undefined;
  beforeAll(() => factory.setup(), 60_000);
  afterAll(() => factory.teardown(), 30_000);
  afterEach(async () => {
    await opened?.close();
    opened = undefined;
  });

  it('groups, counts and orders sessions, and finds their events', async () => {
    opened = await factory.open();
    const writer = createAuditWriter(opened.store.audit, { signer });
    for (let i = 0; i < 8; i++) await writer.append(sampleEvent(i));
    // Without a kubectl session: alice (i = 99) and bob (200) in the first hour, bob again in the next.
    const curl = (i: number) => sampleEvent(i, { headers: { 'user-agent': 'curl/8' }, decision: { action: 'mask', matched: [] } });
    for (const i of [99, 200, 3700]) await writer.append(curl(i));
    await writer.close();
    const audit = opened.store.audit;

    const all = await audit.sessions({});
    const principalSession = (subject: string, bucketMs: number, ms: number) =>
      expect.objectContaining({ kubectlSession: null, subject, bucketMs, firstMs: ms, lastMs: ms, events: 1, denied: 0, reviewed: 0, masked: 1, streams: 0 }) as unknown;
    expect(all.slice(0, 3)).toEqual([
      principalSession('token:cursor-bob', start + HOUR, start + 3_700_000),
      principalSession('token:cursor-bob', start, start + 200_000),
      principalSession('oidc:alice@example.com', start, start + 99_000),
    ]);
    const bobSession1 = all.find((s) => s.kubectlSession === 'session-1' && s.subject === 'token:cursor-bob');
    expect(bobSession1).toMatchObject({ bucketMs: null, firstMs: start + 1000, lastMs: start + 5000, events: 2, reviewed: 2 });
    expect(JSON.parse(bobSession1!.firstEventJson)).toMatchObject({ requestId: 'req-1', client: { kubectlCommand: 'kubectl patch' } });
    expect(all.reduce((n, s) => n + s.events, 0)).toBe(11);

    expect((await audit.sessions({ subject: 'oidc:alice@example.com', sinceMs: start + 4000, limit: 5 })).map((s) => s.kubectlSession)).toEqual([null, 'session-2']);
    expect(await audit.sessions({ limit: 1 })).toHaveLength(1);
    // One session exactly: a principal's hour without a kubectl session, or one kubectl session.
    expect(await audit.sessions({ subject: 'token:cursor-bob', kubectlSession: null, sinceMs: start, untilMs: start + HOUR })).toEqual([principalSession('token:cursor-bob', start, start + 200_000)]);
    expect((await audit.sessions({ subject: 'token:cursor-bob', kubectlSession: 'session-1' })).map((s) => s.events)).toEqual([2]);

    const noSession = await audit.search({ kubectlSession: null, subject: 'token:cursor-bob', order: 'asc' });
    expect(noSession.map((r) => r.columns.requestId)).toEqual(['req-200', 'req-3700']);
  });
});
