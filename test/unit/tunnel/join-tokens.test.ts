import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJoinTokens, JOIN_TOKEN_PREFIX } from '../../../src/tunnel/join-tokens.js';
import { postgresFactory, sqliteFactory } from '../audit/stores.js';
import type { OpenedStore } from '../audit/stores.js';

describe.each([sqliteFactory(), postgresFactory()])('cluster agent join tokens: $name', (factory) => {
  let opened: OpenedStore;
  beforeAll(async () => {
    await factory.setup();
    opened = await factory.open();
  }, 60_000);
  afterAll(async () => {
    await opened?.close();
    await factory.teardown();
  }, 30_000);

  it('creates a token shown once, stored only as its hash, that verifies until revoked', async () => {
    let now = 1_000;
    const tokens = createJoinTokens(opened.store.clusterAgentTokens, () => now);
    const { token, row } = await tokens.create({ cluster: 'prod', description: 'rack 3', createdBy: 'oidc:alice' });
    expect(token.startsWith(JOIN_TOKEN_PREFIX)).toBe(true);
    expect(row).toMatchObject({ cluster: 'prod', description: 'rack 3', createdBy: 'oidc:alice', createdAt: 1_000, lastUsedAt: null, revokedAt: null });
    const stored = await opened.sql('SELECT * FROM cluster_agent_tokens WHERE id = ?', [row.id]);
    expect(JSON.stringify(stored)).not.toContain(token.slice(JOIN_TOKEN_PREFIX.length));

    now = 2_000;
    expect(await tokens.verify(token)).toMatchObject({ id: row.id, cluster: 'prod' });
    expect((await tokens.list())[0]?.lastUsedAt).toBe(2_000);
    expect(await tokens.verify(`${token}x`)).toBeUndefined();
    expect(await tokens.verify('ght_not-a-join-token')).toBeUndefined();

    expect(await tokens.revoke(row.id)).toBe(true);
    expect(await tokens.revoke(row.id)).toBe(false);
    expect(await tokens.verify(token)).toBeUndefined();
    expect(await tokens.list()).toEqual([]);
    expect((await tokens.list({ includeRevoked: true }))[0]?.revokedAt).toBe(2_000);
  });
});
