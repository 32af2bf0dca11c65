/**
 * The console API against a real OpenID Provider: browser sign-in with
 * authorization code + PKCE through the provider's own login pages, the
 * session cookie it sets, and bearer ID tokens checked by the gateway's
 * OIDC authenticator. The console runs on HTTPS with the gateway's own
 * generated certificate, as it does inside the gateway.
 */
import { createJoinTokens } from '../../src/tunnel/join-tokens.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditSigner, trustedKeysFromPem } from '../../src/audit/checkpoint.js';
import { openDataDir } from '../../src/config/data-dir.js';
import { consoleConfigSchema } from '../../src/console/config.js';
import { bearerAuthenticator, createConsoleHandler, resolveConsoleSettings } from '../../src/console/index.js';
import { consoleClient, gatehouseClient, startOidcProvider } from '../../src/harness/oidc-provider.js';
import type { OidcProviderHandle } from '../../src/harness/oidc-provider.js';
import { createOidcAuthenticator, oidcIssuerSchema } from '../../src/identity/oidc/index.js';
import { createTokenService } from '../../src/identity/tokens.js';
import { compileCel } from '../../src/policy/cel/index.js';
import { baselineAllowFile } from '../../src/policy/config.js';
import { loadPolicy } from '../../src/policy/load.js';
import { staticPolicy } from '../../src/policy/model.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import { generateKeyPairSync } from 'node:crypto';
import type { ApprovalService } from '../../src/approvals/types.js';

const log = pino({ level: 'silent' });
const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-console-e2e-'));
let idp: OidcProviderHandle;
let server: Server;
let url: string;
let dispatcher: Agent;
let closeStore: () => Promise<void>;

/** No approvals in this file; the console only needs the interface to exist. */
const noApprovals: ApprovalService = {
  list: () => Promise.resolve([]),
  get: () => Promise.resolve(undefined),
  canDecide: () => undefined,
  decide: () => Promise.resolve({ code: 'not-found', message: 'none' }),
  declareReason: () => Promise.resolve(),
  subscribe: () => () => undefined,
};

beforeAll(async () => {
  const state = await openDataDir({ dir: dataDir, sans: [] });
  server = createServer({ cert: state.tls.cert, key: state.tls.key });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dispatcher = new Agent({ connect: { ca: state.tls.caPem } });

  idp = await startOidcProvider({ clients: [gatehouseClient(), consoleClient(`${url}/gatehouse/v1/auth/callback`)] });
  // People are named by e-mail, as the gateway's OIDC authenticator is configured to.
  const trusted = oidcIssuerSchema.parse({ issuer: idp.issuer, audiences: ['gatehouse'], usernameClaim: 'email' });
  const settings = resolveConsoleSettings(
    {
      identity: { oidc: [trusted], impersonation: { enabled: false } },
      console: consoleConfigSchema.parse({
        oidc: { issuer: idp.issuer, clientId: 'gatehouse-console' },
        roles: { admins: [], auditors: ['auditors'], approvers: ['approvers'] },
      }),
    },
    url,
  );
  const store = openSqliteStore(join(dataDir, 'gatehouse.db'));
  closeStore = () => store.close();
  const handler = createConsoleHandler({
    settings,
    dataDir,
    authenticate: bearerAuthenticator([createOidcAuthenticator([trusted], { log })]),
    approvals: noApprovals,
    audit: store.audit,
    auditKeys: trustedKeysFromPem(createAuditSigner(generateKeyPairSync('ed25519').privateKey).publicKeyPem),
    policy: staticPolicy(loadPolicy([baselineAllowFile()], { compile: compileCel, defaultAction: 'deny' })),
    tokens: createTokenService(store),
    clusters: { list: () => [], joinTokens: createJoinTokens(store.clusterAgentTokens) },
    log,
  });
  server.on('request', (req, res) => {
    if (!handler(req, res)) res.writeHead(404).end();
  });
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await idp?.stop();
  await closeStore?.();
  await dispatcher?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(new URL(path, url), { headers, redirect: 'manual', dispatcher });

/** `name=value` of the Set-Cookie line for `name`, and its attributes. */
function setCookie(response: { headers: { getSetCookie(): string[] } }, name: string): { pair: string; attributes: string } {
  const line = response.headers.getSetCookie().find((l) => l.startsWith(`${name}=`));
  if (line === undefined) throw new Error(`no Set-Cookie for ${name}`);
  const semi = line.indexOf(';');
  return { pair: line.slice(0, semi), attributes: line.slice(semi + 2) };
}

describe('browser sign-in (authorization code + PKCE)', () => {
  it('signs alice in through the provider and sets a Strict session cookie with her subject and groups', async () => {
    const login = await get('/gatehouse/v1/auth/login?return=/ui/approvals');
    expect(login.status).toBe(302);
    const authorization = new URL(login.headers.get('location') ?? '');
    expect(authorization.origin).toBe(idp.issuer);
    expect(authorization.searchParams.get('client_id')).toBe('gatehouse-console');
    expect(authorization.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorization.searchParams.get('redirect_uri')).toBe(`${url}/gatehouse/v1/auth/callback`);
    const loginCookie = setCookie(login, 'gatehouse_login');
    expect(loginCookie.attributes).toBe('Path=/gatehouse/v1/auth/; Max-Age=600; HttpOnly; Secure; SameSite=Lax');

    const callback = new URL(await idp.completeInteraction(authorization.href, 'alice', 'alice-password'));
    expect(callback.pathname).toBe('/gatehouse/v1/auth/callback');

    // Without the login cookie (another browser), the callback is refused.
    const stranger = await get(callback.pathname + callback.search);
    expect(stranger.status).toBe(400);

    const done = await get(callback.pathname + callback.search, { cookie: loginCookie.pair });
    expect(done.status).toBe(302);
    expect(done.headers.get('location')).toBe('/ui/approvals');
    const session = setCookie(done, 'gatehouse_session');
    expect(session.attributes).toBe('Path=/; Max-Age=28800; HttpOnly; Secure; SameSite=Strict');
    expect(setCookie(done, 'gatehouse_login').attributes).toMatch(/Max-Age=0/);

    const whoami = await get('/gatehouse/v1/whoami', { cookie: session.pair });
    expect(await whoami.json()).toEqual({ subject: 'oidc:alice@example.com', kind: 'human', groups: ['dev', 'approvers'], roles: ['approver'], via: 'console-oidc' });

    // The code was spent: replaying the callback fails at the provider.
    const replay = await get(callback.pathname + callback.search, { cookie: loginCookie.pair });
    expect(replay.status).toBe(401);
    expect(((await replay.json()) as { error: { code: string } }).error.code).toBe('unauthenticated');
  });

  it('refuses a return address outside the console (no open redirect)', async () => {
    for (const target of ['https://evil.example/', '//evil.example/ui/', '/gatehouse/v1/tokens']) {
      const response = await get(`/gatehouse/v1/auth/login?return=${encodeURIComponent(target)}`);
      expect(response.status, target).toBe(400);
    }
  });

  it('says that OIDC sign-in is available', async () => {
    expect(await (await get('/gatehouse/v1/auth/methods')).json()).toEqual({ oidc: true, devLogin: false });
  });
});

describe('bearer ID tokens', () => {
  it('accepts an ID token the gateway trusts, with the same subject as a browser session', async () => {
    const { idToken } = await idp.loginAs('auditor');
    const response = await get('/gatehouse/v1/whoami', { authorization: `Bearer ${idToken}` });
    expect(await response.json()).toEqual({ subject: 'oidc:auditor@example.com', kind: 'human', groups: ['auditors'], roles: ['auditor'], via: 'oidc' });
    const integrity = await get('/gatehouse/v1/audit/integrity', { authorization: `Bearer ${idToken}` });
    expect(await integrity.json()).toMatchObject({ ok: true, events: 0 });
  });

  it('refuses an ID token for another audience, and a bob without roles', async () => {
    const { idToken: forConsole } = await idp.loginAs('bob', { clientId: 'gatehouse-console', redirectUri: `${url}/gatehouse/v1/auth/callback` });
    expect((await get('/gatehouse/v1/whoami', { authorization: `Bearer ${forConsole}` })).status).toBe(401);
    const { idToken } = await idp.loginAs('bob');
    expect((await get('/gatehouse/v1/audit/events', { authorization: `Bearer ${idToken}` })).status).toBe(403);
  });
});
