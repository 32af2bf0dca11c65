/**
 * The recorder: which answers wait for their record, the event it appends,
 * and audit.whenStoreDown against a real SQLite store whose write lock
 * another connection holds: what is refused, what passes unrecorded, and the
 * outage event written when the lock is released.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAuditSigner, trustedKeysFromPem } from '../../../src/audit/checkpoint.js';
import { auditConfigSchema, whenStoreDownSchema } from '../../../src/audit/config.js';
import type { WhenStoreDown } from '../../../src/audit/config.js';
import { auditEventSchema } from '../../../src/audit/event.js';
import type { AuditEvent } from '../../../src/audit/event.js';
import { verifyAuditStore } from '../../../src/audit/verify.js';
import { createAuditWriter } from '../../../src/audit/writer.js';
import type { AuditWriter } from '../../../src/audit/writer.js';
import type { KubeRequest } from '../../../src/classify/kube-request.js';
import type { RequestContext } from '../../../src/pipeline/context.js';
import type { Decision } from '../../../src/policy/engine.js';
import { mayPassUnrecorded } from '../../../src/record/outage.js';
import { createRecorder } from '../../../src/record/recorder.js';
import type { Recorder } from '../../../src/record/recorder.js';
import { sampleEvent, sqliteFactory } from '../audit/stores.js';
import type { OpenedStore } from '../audit/stores.js';

const signer = createAuditSigner(generateKeyPairSync('ed25519').privateKey);

function ctx(request: Partial<KubeRequest>, extra: Partial<RequestContext> = {}): RequestContext {
  return {
    id: `req-${Math.random()}`,
    req: { method: 'GET', url: '/', headers: {}, socket: { remoteAddress: '127.0.0.1' } } as unknown as IncomingMessage,
    upgrade: false,
    startedAt: process.hrtime.bigint(),
    arrivedMicros: Date.now() * 1000,
    timings: {},
    principal: { subject: 'oidc:alice@example.com', groups: ['dev'], kind: 'human', via: 'oidc', tokenId: undefined },
    request: { isResourceRequest: true, verb: 'get', apiGroup: '', resource: 'pods', subresource: '', namespace: 'team-a', name: 'web', path: '/api/v1/namespaces/team-a/pods/web', ...request } as KubeRequest,
    decision: { action: 'allow', matched: [] } as unknown as Decision,
    ...extra,
  };
}

describe('audit.whenStoreDown config', () => {
  it('fails closed by default and accepts only reads as configurable', () => {
    expect(auditConfigSchema.parse(undefined).whenStoreDown).toEqual({ reads: 'refuse', writes: 'refuse' });
    expect(whenStoreDownSchema.parse({ reads: 'allow-unrecorded' })).toEqual({ reads: 'allow-unrecorded', writes: 'refuse' });
    const writes = whenStoreDownSchema.safeParse({ writes: 'allow-unrecorded' });
    expect(writes.error?.issues[0]?.message).toMatch(/only plain reads may be configured.*writes.*always fail closed/);
    expect(whenStoreDownSchema.safeParse({ upgrades: 'allow-unrecorded' }).success).toBe(false);
  });

  it.each([
    ['get a pod', {}, {}, true],
    ['list pods', { verb: 'list', name: '' }, {}, true],
    ['discovery', { isResourceRequest: false, verb: 'get', resource: '', path: '/apis' }, {}, true],
    ['masked read', {}, { decision: { action: 'mask', matched: [] } as unknown as Decision }, true],
    ['watch', { verb: 'watch' }, {}, false],
    ['pod logs', { subresource: 'log' }, {}, false],
    ['service proxy', { resource: 'services', subresource: 'proxy' }, {}, false],
    ['a Secret', { resource: 'secrets' }, {}, false],
    ['a write', { verb: 'create' }, {}, false],
    ['a delete', { verb: 'delete' }, {}, false],
    ['exec', { verb: 'create', subresource: 'exec' }, { upgrade: true }, false],
    ['a read that went through an approval', {}, { approval: { approval: {}, viaGrant: false } as RequestContext['approval'] }, false],
    ['a denied read', {}, { decision: { action: 'deny', matched: [] } as unknown as Decision }, false],
  ] as const)('%s may pass unrecorded: %s', (_name, request, extra, expected) => {
    expect(mayPassUnrecorded(ctx(request, extra))).toBe(expected);
  });
});

describe('which answers wait for their record', () => {
  const writer = { openStream: () => undefined } as unknown as AuditWriter;
  const recorderWith = (awaitReads: boolean) => createRecorder({ writer, maxBodyBytes: 1024, awaitReads, log: pino({ level: 'silent' }) });

  it('reads go out whole and are recorded after, unless audit.awaitReads; writes and upgrades always wait', () => {
    const recorder = recorderWith(false);
    for (const verb of ['get', 'list', 'watch']) expect(recorder.awaitsRecord(ctx({ verb })), verb).toBe(false);
    for (const verb of ['create', 'update', 'patch', 'delete', 'deletecollection']) expect(recorder.awaitsRecord(ctx({ verb })), verb).toBe(true);
    expect(recorder.awaitsRecord(ctx({ verb: 'get', subresource: 'exec' }, { upgrade: true }))).toBe(true);
    expect(recorder.awaitsRecord(ctx({ verb: 'get' }, { request: undefined }))).toBe(true);
    expect(recorderWith(true).awaitsRecord(ctx({ verb: 'get' }))).toBe(true);
    recorder.close();
  });
});

describe('the event a recorder appends', () => {
  it('holds the exchange, the stream reference and the bodies as the client saw them, and no Secret body', async () => {
    const appended: Array<{ event: AuditEvent; background: boolean }> = [];
    const writer = {
      openStream: () => undefined,
      append: (event: AuditEvent, options?: { background?: boolean }) => (appended.push({ event, background: options?.background === true }), Promise.resolve({ seq: 1, hash: 'h' })),
    } as unknown as AuditWriter;
    const recorder = createRecorder({ writer, maxBodyBytes: 8, awaitReads: false, log: pino({ level: 'silent' }) });
    const stream = { sessionId: 'req-1', kind: 'watch' as const, chunks: 3, bytes: 120, truncated: false };
    const body = { data: Buffer.from('{"kind":"ConfigMap"}'), contentType: 'application/json' };
    await recorder.record(ctx({ verb: 'watch' }), { status: 200, upstream: { status: 200, latencyMs: 1.5, bytesIn: 0, bytesOut: 120 }, stream, responseBody: body, masked: true });
    await recorder.record(ctx({ resource: 'secrets' }), { status: 200, responseBody: body });
    const [watch, secret] = appended.map((a) => auditEventSchema.parse(a.event));
    expect(appended.map((a) => a.background)).toEqual([true, true]);
    expect(watch).toMatchObject({ request: { verb: 'watch', resource: 'pods' }, result: { status: 200 }, upstream: { status: 200, bytesOut: 120 }, stream });
    expect(watch!.bodies).toEqual({ masked: true, response: { contentType: 'application/json', data: '{"kind":', encoding: 'utf8', size: 20, truncated: true } });
    expect(secret!.bodies).toEqual({ masked: false });
    recorder.close();
  });
});

describe('a recorder while its SQLite store is locked by another connection', () => {
  const factory = sqliteFactory();
  let opened: OpenedStore | undefined;
  let recorder: Recorder | undefined;
  beforeAll(() => factory.setup());
  afterAll(() => factory.teardown());
  afterEach(async () => {
    recorder?.close();
    await opened?.restore();
    await opened?.close();
  });

  async function setUp(whenStoreDown: WhenStoreDown) {
    opened = await factory.open();
    const writer = createAuditWriter(opened.store.audit, { signer });
    recorder = createRecorder({ writer, maxBodyBytes: 1024, awaitReads: false, whenStoreDown, log: pino({ level: 'silent' }) });
    await writer.append(sampleEvent(0));
    await opened.outage();
    await expect(writer.append(sampleEvent(1))).rejects.toMatchObject({ code: 'GH_AUDIT_UNAVAILABLE' });
    return { writer, recorder, opened };
  }

  /** Waits for the tracker's probe (every second) to land the outage event once the lock is gone. */
  async function outageEvents(o: OpenedStore): Promise<AuditEvent[]> {
    for (let i = 0; i < 50; i += 1) {
      const rows = await o.store.audit.search({ verbs: ['audit-outage'] });
      if (rows.length > 0) return rows.map((r) => auditEventSchema.parse(JSON.parse(r.eventJson)));
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('no outage event was written');
  }

  it('refuses everything by default, then records the outage window by itself when the store is back', async () => {
    const { writer, recorder, opened } = await setUp(whenStoreDownSchema.parse(undefined));
    const before = Date.now();
    expect(recorder.unavailable()).toMatchObject({ code: 'GH_AUDIT_UNAVAILABLE', httpStatus: 503, retryAfterSeconds: 1 });
    expect(recorder.whileDown(ctx({}))).toMatchObject({ code: 'GH_AUDIT_UNAVAILABLE' });
    await opened.restore();
    // No request comes: the probe alone finds the store back.
    const [event] = await outageEvents(opened);
    expect(writer.stats().healthy).toBe(true);
    expect(event).toMatchObject({
      request: { verb: 'audit-outage' },
      result: { status: 503, code: 'GH_AUDIT_UNAVAILABLE' },
      outage: { unrecordedReads: 0, refused: 2, reads: [], readsNotListed: 0 },
    });
    expect(event!.principal).toBeUndefined();
    expect(Date.parse(event!.outage!.from)).toBeLessThanOrEqual(before);
    expect(Date.parse(event!.outage!.until)).toBeGreaterThan(Date.parse(event!.outage!.from));
    expect(recorder.unavailable()).toBeUndefined();
    expect(recorder.whileDown(ctx({}))).toBeUndefined();
  }, 20_000);

  it('lets plain reads pass unrecorded when configured, refuses the rest, and records who read what', async () => {
    const { recorder, opened } = await setUp({ reads: 'allow-unrecorded', writes: 'refuse' });
    expect(recorder.unavailable()).toBeUndefined();
    expect(recorder.whileDown(ctx({}))).toBe('unrecorded');
    expect(recorder.whileDown(ctx({ name: 'api' }))).toBe('unrecorded');
    expect(recorder.whileDown(ctx({ verb: 'list', name: '', namespace: 'team-b' }))).toBe('unrecorded');
    expect(recorder.whileDown(ctx({ verb: 'create' }))).toMatchObject({ code: 'GH_AUDIT_UNAVAILABLE' });
    expect(recorder.whileDown(ctx({ resource: 'secrets' }))).toMatchObject({ code: 'GH_AUDIT_UNAVAILABLE' });
    expect(recorder.whileDown(ctx({ verb: 'create', subresource: 'exec' }, { upgrade: true }))).toMatchObject({ code: 'GH_AUDIT_UNAVAILABLE' });
    expect(recorder.unrecordedReads()).toBe(3);
    await opened.restore();
    const events = await outageEvents(opened);
    expect(events).toHaveLength(1);
    expect(events[0]!.outage).toMatchObject({
      unrecordedReads: 3,
      refused: 3,
      reads: [
        { subject: 'oidc:alice@example.com', verb: 'get', resource: 'pods', namespace: 'team-a', count: 2 },
        { subject: 'oidc:alice@example.com', verb: 'list', resource: 'pods', namespace: 'team-b', count: 1 },
      ],
    });
    expect(recorder.whileDown(ctx({}))).toBeUndefined();
    const report = await verifyAuditStore(opened.store.audit, trustedKeysFromPem(signer.publicKeyPem));
    expect(report).toMatchObject({ ok: true, events: 2 });
  }, 20_000);

  it('keeps the event of an exchange that reached the API server when its append fails, and appends it once the store is back', async () => {
    const { recorder, opened } = await setUp(whenStoreDownSchema.parse(undefined));
    const forwarded = ctx({ verb: 'create', name: '' });
    const refused = ctx({ verb: 'create', name: '' });
    const upstream = { status: 201, latencyMs: 1, bytesIn: 2, bytesOut: 3 };
    await expect(recorder.record(forwarded, { status: 201, upstream })).rejects.toMatchObject({ code: 'GH_AUDIT_UNAVAILABLE' });
    // Never forwarded (no upstream facts): nothing happened in the cluster, nothing is kept.
    await expect(recorder.record(refused, { status: 503, code: 'GH_AUDIT_UNAVAILABLE' })).rejects.toMatchObject({ code: 'GH_AUDIT_UNAVAILABLE' });
    await opened.restore();
    await outageEvents(opened);
    let ids: string[] = [];
    for (let i = 0; i < 50 && !ids.includes(forwarded.id); i += 1) {
      await new Promise((r) => setTimeout(r, 100));
      ids = (await opened.store.audit.search({})).map((r) => auditEventSchema.parse(JSON.parse(r.eventJson)).requestId);
    }
    expect(ids).toContain(forwarded.id);
    expect(ids).not.toContain(refused.id);
    const report = await verifyAuditStore(opened.store.audit, trustedKeysFromPem(signer.publicKeyPem));
    expect(report).toMatchObject({ ok: true });
  }, 20_000);
});
