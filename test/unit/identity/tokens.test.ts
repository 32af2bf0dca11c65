import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GatehouseError } from '../../../src/errors/codes.js';
import { hashToken, newBootstrapToken } from '../../../src/identity/bootstrap-token.js';
import { createIdentityStage } from '../../../src/identity/stage.js';
import { createTokenService, TOKEN_PREFIX, TokenServiceError } from '../../../src/identity/tokens.js';
import type { NewToken, TokenService } from '../../../src/identity/tokens.js';
import type { RequestContext } from '../../../src/pipeline/context.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import type { SqliteStore } from '../../../src/store/sqlite.js';

const T0 = Date.parse('2030-01-01T00:00:00Z');
const alice: NewToken = { name: 'cursor-alice', kind: 'agent', groups: ['dev', 'ai-agents'], ttlSeconds: 3600, sponsor: 'alice' };

describe('Gatehouse tokens', () => {
  let dir: string;
  let store: SqliteStore;
  let clock: number;
  let service: TokenService;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-tokens-'));
    store = openSqliteStore(join(dir, 'gatehouse.db'));
    clock = T0;
    service = createTokenService(store, { now: () => clock });
  });
  afterEach(async () => {
    vi.useRealTimers();
    if (store.db.open) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const expectServiceError = async (promise: Promise<unknown>, code: TokenServiceError['code'], message: RegExp): Promise<void> => {
    const err: unknown = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TokenServiceError);
    expect((err as TokenServiceError).code).toBe(code);
    expect((err as Error).message).toMatch(message);
  };

  it('creates a token that authenticates as token:<name>', async () => {
    const { token, record } = await service.create(alice);
    expect(token).toMatch(/^ght_[A-Za-z0-9_-]{43}$/);
    expect(record).toMatchObject({
      name: 'cursor-alice',
      kind: 'agent',
      groups: ['dev', 'ai-agents'],
      sponsor: 'alice',
      description: null,
      createdAt: new Date(T0),
      expiresAt: new Date(T0 + 3600_000),
      lastUsedAt: null,
      revokedAt: null,
      status: 'active',
    });
    expect(await service.authenticator(token)).toEqual({
      subject: 'token:cursor-alice',
      groups: ['dev', 'ai-agents'],
      kind: 'agent',
      via: 'token',
      tokenId: record.id,
      sponsor: 'alice',
    });
  });

  it('stores only the SHA-256 of the token and never hands the hash back', async () => {
    const { token, record } = await service.create(alice);
    const rows = store.db.prepare('SELECT * FROM tokens').all() as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(token);
    expect(JSON.stringify(rows)).not.toContain(token.slice(TOKEN_PREFIX.length));
    expect(rows[0]!.sha256).toBe(hashToken(token));
    const listed = await service.list({ includeRevoked: true });
    expect(listed).toEqual([record]);
    expect(JSON.stringify(listed)).not.toContain(hashToken(token));
  });

  it('gives every token its own secret and id', async () => {
    const a = await service.create(alice);
    const b = await service.create({ ...alice, name: 'cursor-bob' });
    expect(a.token).not.toBe(b.token);
    expect(a.record.id).not.toBe(b.record.id);
    expect((await service.authenticator(b.token))?.subject).toBe('token:cursor-bob');
  });

  it('refuses unknown, forged, truncated and foreign tokens', async () => {
    const { token } = await service.create(alice);
    const flipped = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    const bootstrap = newBootstrapToken('admin', ['gatehouse:admins']).token;
    for (const other of [
      flipped,
      token.slice(0, -1),
      token + 'A',
      token.slice(TOKEN_PREFIX.length),
      'ghb_' + token.slice(TOKEN_PREFIX.length),
      hashToken(token),
      bootstrap,
      TOKEN_PREFIX,
      '',
    ]) {
      expect(await service.authenticator(other), other).toBeUndefined();
    }
  });

  it('stops accepting a revoked token from the next request on, whether revoked by name or by id', async () => {
    const byName = await service.create(alice);
    const byId = await service.create({ ...alice, name: 'ci-deploy', kind: 'ci' });
    expect(await service.authenticator(byName.token)).toBeDefined();

    clock += 1000;
    const revoked = await service.revoke('cursor-alice');
    expect(revoked).toMatchObject({ alreadyRevoked: false, record: { id: byName.record.id, status: 'revoked', revokedAt: new Date(clock) } });
    expect(await service.authenticator(byName.token)).toBeUndefined();

    await service.revoke(byId.record.id);
    expect(await service.authenticator(byId.token)).toBeUndefined();

    const again = await service.revoke(byId.record.id);
    expect(again).toMatchObject({ alreadyRevoked: true, record: { status: 'revoked' } });
    await expectServiceError(service.revoke('cursor-alice'), 'not-found', /unknown token "cursor-alice"/);
    await expectServiceError(service.revoke('nobody'), 'not-found', /no token has that id and no active token has that name/);

    expect(await service.list()).toEqual([]);
    expect((await service.list({ includeRevoked: true })).map((r) => r.status)).toEqual(['revoked', 'revoked']);
  });

  it('refuses an expired token and lists it as expired', async () => {
    const { token } = await service.create(alice);
    clock = T0 + 3600_000 - 1;
    expect(await service.authenticator(token)).toBeDefined();
    clock = T0 + 3600_000;
    expect(await service.authenticator(token)).toBeUndefined();
    expect((await service.list()).map((r) => r.status)).toEqual(['expired']);
  });

  it('keeps names unique among active tokens only', async () => {
    const first = await service.create(alice);
    await expectServiceError(service.create(alice), 'name-taken', new RegExp(`already named "cursor-alice" \\(id ${first.record.id}\\)`));

    await service.revoke('cursor-alice');
    const second = await service.create(alice);

    clock += 3600_000;
    const third = await service.create(alice);
    expect(new Set([first.record.id, second.record.id, third.record.id]).size).toBe(3);
    expect(await service.authenticator(third.token)).toBeDefined();
    expect(await service.authenticator(second.token)).toBeUndefined();
  });

  it('records the last use at most once an interval, off the request path', async () => {
    const { token } = await service.create(alice);
    const lastUsed = async (): Promise<Date | null> => (await service.list())[0]!.lastUsedAt;

    clock = T0 + 10_000;
    await service.authenticator(token);
    expect(await lastUsed()).toBeNull();
    await service.flush();
    expect(await lastUsed()).toEqual(new Date(T0 + 10_000));

    clock = T0 + 40_000;
    await service.authenticator(token);
    await service.flush();
    expect(await lastUsed()).toEqual(new Date(T0 + 10_000));

    clock = T0 + 70_000;
    await service.authenticator(token);
    await service.flush();
    expect(await lastUsed()).toEqual(new Date(T0 + 70_000));
  });

  it('writes pending last-use times by itself within a second', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { token } = await service.create(alice);
    await service.authenticator(token);
    await vi.advanceTimersByTimeAsync(1000);
    expect((await service.list())[0]!.lastUsedAt).toEqual(new Date(T0));
  });

  it('fails closed with GH_IDENTITY_UNAVAILABLE when the store cannot answer', async () => {
    const { token } = await service.create(alice);
    const expectUnavailable = async (): Promise<void> => {
      const err: unknown = await Promise.resolve(service.authenticator(token)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(GatehouseError);
      expect(err).toMatchObject({ code: 'GH_IDENTITY_UNAVAILABLE', httpStatus: 503, retryAfterSeconds: 5 });
    };

    // Another process breaks the schema under the running gateway.
    const other = new Database(join(dir, 'gatehouse.db'));
    other.exec('DROP TABLE tokens');
    other.close();
    await expectUnavailable();

    await store.close();
    await expectUnavailable();
    // Tokens it would refuse anyway are refused without touching the store.
    expect(await service.authenticator('ghb_whatever')).toBeUndefined();
  });

  it('tells about a failed background write instead of failing a request', async () => {
    const errors: unknown[] = [];
    const quiet = createTokenService(store, { now: () => clock, onBackgroundError: (err) => errors.push(err) });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { token } = await quiet.create(alice);
    expect(await quiet.authenticator(token)).toBeDefined();
    await store.close();
    await vi.advanceTimersByTimeAsync(1000);
    expect(errors).toHaveLength(1);
  });

  it('lets the identity stage admit an active token, answer 401 once revoked and 503 when the store is gone', async () => {
    const { token, record } = await service.create(alice);
    const stage = createIdentityStage([service.authenticator]);
    const run = async (): Promise<{ outcome: unknown; ctx: RequestContext }> => {
      const ctx = { req: { headers: { authorization: `Bearer ${token}` } }, timings: {} } as unknown as RequestContext;
      return { outcome: await stage.run(ctx), ctx };
    };
    const admitted = await run();
    expect(admitted.outcome).toEqual({ action: 'continue' });
    expect(admitted.ctx.principal).toMatchObject({ subject: 'token:cursor-alice', tokenId: record.id });
    await service.revoke(record.id);
    expect(await run()).toMatchObject({ outcome: { action: 'stop', error: { code: 'GH_UNAUTHENTICATED', httpStatus: 401 } } });
    await store.close();
    expect(await run()).toMatchObject({ outcome: { action: 'stop', error: { code: 'GH_IDENTITY_UNAVAILABLE', httpStatus: 503 } } });
  });

  it.each<[string, Partial<NewToken>, RegExp]>([
    ['an upper-case name', { name: 'Cursor' }, /invalid token name "Cursor"/],
    ['a name with a space', { name: 'a b' }, /invalid token name/],
    ['an empty name', { name: '' }, /invalid token name/],
    ['a 64-character name', { name: 'a'.repeat(64) }, /invalid token name/],
    ['a kind it does not know', { kind: 'robot' as NewToken['kind'] }, /invalid token kind "robot": use one of agent, ci, human/],
    ['a reserved group', { groups: ['system:masters'] }, /reserved for Kubernetes/],
    ['an empty group', { groups: ['dev', ' '] }, /invalid group/],
    ['a zero TTL', { ttlSeconds: 0 }, /invalid TTL 0 seconds/],
    ['a fractional TTL', { ttlSeconds: 1.5 }, /invalid TTL/],
    ['a sponsor too long', { sponsor: 'x'.repeat(257) }, /sponsor is too long/],
  ])('refuses %s', async (_label, change, message) => {
    await expectServiceError(service.create({ ...alice, ...change }), 'invalid', message);
    expect(await service.list({ includeRevoked: true })).toEqual([]);
  });

  it('accepts a token without expiry, groups or sponsor', async () => {
    const { token, record } = await service.create({ name: 'ci.main_1', kind: 'ci', groups: [] });
    expect(record).toMatchObject({ expiresAt: null, sponsor: null, groups: [] });
    clock += 3650 * 86_400_000;
    expect(await service.authenticator(token)).toMatchObject({ subject: 'token:ci.main_1', kind: 'ci', groups: [] });
  });
});
