import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer, Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatehouseError } from '../../../src/errors/codes.js';
import { signWithForeignKey, startOidcProvider, type OidcProviderHandle } from '../../../src/harness/oidc-provider.js';
import { freePorts } from '../../../src/harness/ports.js';
import { createOidcAuthenticator, oidcIssuerSchema, type OidcAuthenticatorOptions } from '../../../src/identity/oidc/index.js';
import { VerifiedTokenCache } from '../../../src/identity/oidc/token-cache.js';
import { createIdentityStage, type Authenticator } from '../../../src/identity/stage.js';
import type { Principal } from '../../../src/identity/principal.js';
import type { RequestContext } from '../../../src/pipeline/context.js';
import { createCA, issueCert } from '../../../src/pki/index.js';

/** Every log line the authenticators under test write (debug and up). */
const lines: Record<string, unknown>[] = [];
const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });

let idp: OidcProviderHandle;
let stranger: OidcProviderHandle;

beforeAll(async () => {
  [idp, stranger] = await Promise.all([startOidcProvider(), startOidcProvider()]);
});
afterAll(async () => {
  await Promise.all([idp.stop(), stranger.stop()]);
});

function issuerConfig(overrides: Record<string, unknown> = {}) {
  return oidcIssuerSchema.parse({ issuer: idp.issuer, audiences: ['gatehouse'], groupsPrefix: 'oidc:', ...overrides });
}

function authenticator(overrides: Record<string, unknown> = {}, options: Partial<OidcAuthenticatorOptions> = {}): Authenticator {
  return createOidcAuthenticator([issuerConfig(overrides)], { log, cache: false, ...options });
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

/** Claims of a token our issuer would mint for the gatehouse client; overrides replace (undefined removes). */
function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = { iss: idp.issuer, sub: 'mallory', aud: 'gatehouse', iat: now(), exp: now() + 300, groups: ['dev'], ...overrides };
  for (const [key, value] of Object.entries(base)) if (value === undefined) delete base[key];
  return base;
}

/** Asserts the token is refused and returns the reason logged for it (which never contains the token). */
async function refusal(authenticate: Authenticator, token: string): Promise<string> {
  lines.length = 0;
  expect(await authenticate(token)).toBeUndefined();
  const parts = token.split('.').filter((part) => part.length >= 16);
  for (const line of lines) for (const part of parts) expect(JSON.stringify(line)).not.toContain(part);
  const refused = lines.find((line) => line['msg'] === 'OIDC token refused');
  expect(refused?.['issuer']).toBe(idp.issuer);
  return String(refused?.['reason']);
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('OIDC issuer config', () => {
  it.each([
    ['https://accounts.example.com', true],
    ['http://127.0.0.1:5556', true],
    ['http://127.9.8.7', true],
    ['http://localhost:8080/dex', true],
    ['http://[::1]:8080', true],
    ['http://idp.example.com', false],
    ['http://10.0.0.5', false],
    ['http://127.attacker.example', false],
    ['ftp://idp.example.com', false],
    ['https://idp.example.com/?tenant=1', false],
    ['https://user:pw@idp.example.com', false],
  ])('%s → accepted: %s', (issuer, ok) => {
    expect(oidcIssuerSchema.safeParse({ issuer, audiences: ['gatehouse'] }).success).toBe(ok);
  });

  it('says why an http issuer off loopback is refused', () => {
    const result = oidcIssuerSchema.safeParse({ issuer: 'http://idp.example.com', audiences: ['gatehouse'] });
    expect(result.error?.issues[0]?.message).toBe(
      'OIDC issuer http://idp.example.com must use https; plain http is allowed on loopback only (127.0.0.0/8, ::1, localhost), not on "idp.example.com"',
    );
  });

  it('accepts asymmetric algorithms only', () => {
    for (const alg of ['none', 'HS256', 'HS512']) {
      expect(oidcIssuerSchema.safeParse({ issuer: 'https://a.example', audiences: ['x'], algorithms: [alg] }).success).toBe(false);
    }
    expect(oidcIssuerSchema.parse({ issuer: 'https://a.example', audiences: ['x'] }).algorithms).toEqual(['RS256', 'ES256']);
  });
});

describe('OIDC authenticator: real tokens from a real provider', () => {
  it('maps a signed-in user to a principal, with prefixes', async () => {
    const { idToken } = await idp.loginAs('alice');
    const principal = await authenticator()(idToken);
    expect(principal).toEqual({ subject: 'oidc:alice', groups: ['oidc:dev', 'oidc:approvers'], kind: 'human', via: 'oidc', tokenId: undefined });
  });

  it('uses the configured username claim, prefixes and principal kind', async () => {
    const { idToken } = await idp.loginAs('bob', { redirectUri: 'http://127.0.0.1:53682/callback' });
    const authenticate = authenticator({ usernameClaim: 'email', usernamePrefix: 'corp#', groupsPrefix: 'corp:', principalKind: 'ci' });
    expect(await authenticate(idToken)).toEqual({ subject: 'corp#bob@example.com', groups: ['corp:dev'], kind: 'ci', via: 'oidc', tokenId: undefined });
  });

  it('accepts ID tokens from refresh and from the device grant', async () => {
    const authenticate = authenticator();
    const first = await idp.loginAs('auditor');
    expect(first.refreshToken).toBeDefined();
    const refreshed = await idp.refresh(first.refreshToken ?? '');
    expect((await authenticate(refreshed.idToken))?.subject).toBe('oidc:auditor');
    const device = await idp.deviceLoginAs('bob');
    expect(await authenticate(device.idToken)).toMatchObject({ subject: 'oidc:bob', groups: ['oidc:dev'] });
  });

  it('takes a groups claim that is a single string', async () => {
    const authenticate = authenticator();
    expect((await authenticate(await idp.sign(claims({ groups: 'dev' }))))?.groups).toEqual(['oidc:dev']);
    expect((await authenticate(await idp.sign(claims({ groups: undefined }))))?.groups).toEqual([]);
  });

  it('checks configured required claims by value', async () => {
    const authenticate = authenticator({ requiredClaims: { hd: 'example.com' } });
    expect((await authenticate(await idp.sign(claims({ hd: 'example.com' }))))?.subject).toBe('oidc:mallory');
    expect(await refusal(authenticate, await idp.sign(claims({ hd: 'evil.example' })))).toMatch(/required claim "hd"/);
    expect(await refusal(authenticate, await idp.sign(claims()))).toMatch(/missing required "hd" claim/);
  });

  it('says "not mine" to garbage and strangers without touching the network', async () => {
    const [port] = await freePorts(1);
    const authenticate = createOidcAuthenticator([issuerConfig({ issuer: `http://127.0.0.1:${port}` })], { log });
    for (const token of ['ghb_abc', 'a.b.c', '', 'x'.repeat(20_000), `${b64({ alg: 'RS256' })}.${b64([1])}.sig`]) {
      expect(await authenticate(token)).toBeUndefined();
    }
    // A well-formed token of an issuer nobody configured.
    expect(await authenticate((await stranger.loginAs('alice')).idToken)).toBeUndefined();
  });
});

describe('OIDC authenticator: attacks are refused', () => {
  const authenticate = (token: string) => authenticator()(token);

  it('a control token with the same claims is accepted (so each refusal below is for its one change)', async () => {
    expect((await authenticate(await idp.sign(claims())))?.subject).toBe('oidc:mallory');
  });

  it('alg: none', async () => {
    const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims({ sub: 'admin' }))}.`;
    expect(await refusal(authenticator(), token)).toBe('algorithm "none" is not allowed');
  });

  it('HS256 with the issuer public key as the HMAC secret', async () => {
    const jwks = (await (await fetch(`${idp.issuer}/jwks`)).json()) as { keys: JWK[] };
    const publicJwk = jwks.keys.find((key) => key.kid === idp.currentKid);
    if (publicJwk === undefined) throw new Error('the current key is not in the JWKS');
    const pem = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    for (const secret of [String(pem), JSON.stringify(publicJwk)]) {
      const token = await new SignJWT(claims({ sub: 'admin' }))
        .setProtectedHeader({ alg: 'HS256', kid: idp.currentKid })
        .sign(new TextEncoder().encode(secret));
      expect(await refusal(authenticator(), token)).toBe('algorithm "HS256" is not allowed');
    }
  });

  it('an algorithm the issuer is not configured for, even an asymmetric one', async () => {
    const token = await idp.sign(claims());
    expect(await refusal(authenticator({ algorithms: ['ES256'] }), token)).toBe('algorithm "RS256" is not allowed');
  });

  it('expired (beyond the clock skew), while just-expired within the skew passes', async () => {
    expect(await refusal(authenticator(), await idp.sign(claims({ iat: now() - 7200, exp: now() - 3600 })))).toMatch(/^ERR_JWT_EXPIRED/);
    expect(await refusal(authenticator({ clockSkewSeconds: 0 }), await idp.sign(claims({ exp: now() - 10 })))).toMatch(/^ERR_JWT_EXPIRED/);
    expect(await authenticate(await idp.sign(claims({ exp: now() - 10 })))).toBeDefined();
  });

  it('not yet valid: nbf (or iat) in the future beyond the skew', async () => {
    expect(await refusal(authenticator(), await idp.sign(claims({ nbf: now() + 120 })))).toMatch(/^ERR_JWT_CLAIM_VALIDATION_FAILED: "nbf"/);
    expect(await refusal(authenticator(), await idp.sign(claims({ iat: now() + 120 })))).toBe('"iat" lies in the future');
    expect(await authenticate(await idp.sign(claims({ nbf: now() + 10 })))).toBeDefined();
  });

  it('wrong aud', async () => {
    expect(await refusal(authenticator(), await idp.sign(claims({ aud: 'kubernetes' })))).toMatch(/^ERR_JWT_CLAIM_VALIDATION_FAILED: unexpected "aud"/);
  });

  it('several audiences without an azp that is ours', async () => {
    const multi = ['other-client', 'gatehouse'];
    const reason = /several audiences and "azp" is missing/;
    expect(await refusal(authenticator(), await idp.sign(claims({ aud: multi })))).toMatch(reason);
    expect(await refusal(authenticator(), await idp.sign(claims({ aud: multi, azp: 'other-client' })))).toMatch(reason);
    expect(await authenticate(await idp.sign(claims({ aud: multi, azp: 'gatehouse' })))).toBeDefined();
    expect(await authenticate(await idp.sign(claims({ aud: ['gatehouse'] })))).toBeDefined();
  });

  it('a token of another provider, however it is relabelled', async () => {
    const { idToken } = await stranger.loginAs('alice');
    // Configured for both: the stranger's token is accepted only as the stranger's.
    const both = createOidcAuthenticator([issuerConfig(), issuerConfig({ issuer: stranger.issuer, usernamePrefix: 'stranger:' })], { log, cache: false });
    expect((await both(idToken))?.subject).toBe('stranger:alice');
    // Signed by the stranger's key but claiming our issuer.
    expect(await refusal(authenticator(), await stranger.sign(claims()))).toMatch(/^ERR_JWKS_NO_MATCHING_KEY/);
    // Signed by the stranger with our kid in the header.
    expect(await refusal(authenticator(), await stranger.sign(claims(), { kid: idp.currentKid }))).toMatch(/^ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
  });

  it('a tampered payload under the original signature', async () => {
    const { idToken } = await idp.loginAs('bob');
    const [header, payload, signature] = idToken.split('.');
    const claimsSet = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as Record<string, unknown>;
    expect((await authenticate(idToken))?.groups).toEqual(['oidc:dev']);
    const forged = `${header}.${b64({ ...claimsSet, groups: ['dev', 'system:masters'] })}.${signature}`;
    expect(await refusal(authenticator(), forged)).toMatch(/^ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
  });

  it('a key that is not in the JWKS (unknown kid, or a known kid on another key)', async () => {
    expect(await refusal(authenticator(), await signWithForeignKey(claims(), { kid: 'not-in-jwks' }))).toMatch(/^ERR_JWKS_NO_MATCHING_KEY/);
    expect(await refusal(authenticator(), await signWithForeignKey(claims(), { kid: idp.currentKid }))).toMatch(/^ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
  });

  it.each(['exp', 'iat', 'sub'])('a missing %s claim', async (claim) => {
    expect(await refusal(authenticator(), await idp.sign(claims({ [claim]: undefined })))).toMatch(new RegExp(`missing required "${claim}" claim`));
  });

  it('a username or groups claim of the wrong type', async () => {
    expect(await refusal(authenticator({ usernameClaim: 'email' }), await idp.sign(claims({ email: 42 })))).toMatch(/username claim "email"/);
    expect(await refusal(authenticator({ usernameClaim: 'email' }), await idp.sign(claims({ email: '' })))).toMatch(/username claim "email"/);
    expect(await refusal(authenticator(), await idp.sign(claims({ groups: ['dev', 7] })))).toMatch(/groups claim "groups"/);
    expect(await refusal(authenticator(), await idp.sign(claims({ groups: { admin: true } })))).toMatch(/groups claim "groups"/);
  });
});

describe('OIDC authenticator: keys and reachability', () => {
  it('follows key rotation without a restart; old tokens stay valid while their key is published', async () => {
    const rotating = await startOidcProvider();
    try {
      const config = oidcIssuerSchema.parse({ issuer: rotating.issuer, audiences: ['gatehouse'] });
      const authenticate = createOidcAuthenticator([config], { log, cache: false, jwksCooldownMs: 0 });
      const before = await rotating.loginAs('alice');
      expect((await authenticate(before.idToken))?.subject).toBe('oidc:alice');
      const oldKid = rotating.currentKid;
      const newKid = await rotating.rotateKeys();
      expect(newKid).not.toBe(oldKid);
      const after = await rotating.loginAs('alice');
      expect(JSON.parse(Buffer.from(after.idToken.split('.')[0] ?? '', 'base64url').toString())).toMatchObject({ kid: newKid });
      expect((await authenticate(after.idToken))?.subject).toBe('oidc:alice');
      expect((await authenticate(before.idToken))?.subject).toBe('oidc:alice');
    } finally {
      await rotating.stop();
    }
  });

  it('within jose cooldown an unknown kid is not refetched (so kid spam cannot hammer the issuer)', async () => {
    const rotating = await startOidcProvider();
    try {
      const config = oidcIssuerSchema.parse({ issuer: rotating.issuer, audiences: ['gatehouse'] });
      const authenticate = createOidcAuthenticator([config], { log, cache: false, jwksCooldownMs: 60_000 });
      expect(await authenticate((await rotating.loginAs('bob')).idToken)).toBeDefined();
      await rotating.rotateKeys();
      lines.length = 0;
      expect(await authenticate((await rotating.loginAs('bob')).idToken)).toBeUndefined();
      expect(lines.find((line) => line['msg'] === 'OIDC token refused')?.['reason']).toMatch(/^ERR_JWKS_NO_MATCHING_KEY/);
    } finally {
      await rotating.stop();
    }
  });

  it('an unreachable issuer → GH_IDENTITY_UNAVAILABLE naming it; retried later; 503 through the identity stage', async () => {
    const [port] = await freePorts(1);
    const issuer = `http://127.0.0.1:${port}`;
    const config = oidcIssuerSchema.parse({ issuer, audiences: ['gatehouse'] });
    const retrying = createOidcAuthenticator([config], { log, discoveryRetryMs: 0 });
    const failingFast = createOidcAuthenticator([config], { log, discoveryRetryMs: 60_000 });
    const token = await signWithForeignKey(claims({ iss: issuer }));

    const error = await Promise.resolve(retrying(token)).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(GatehouseError);
    expect(error).toMatchObject({ code: 'GH_IDENTITY_UNAVAILABLE', httpStatus: 503, retryAfterSeconds: 5 });
    expect((error as Error).message).toContain(issuer);
    await expect(Promise.resolve(failingFast(token))).rejects.toMatchObject({ code: 'GH_IDENTITY_UNAVAILABLE' });

    const outcome = await createIdentityStage([retrying]).run(requestWith(token));
    expect(outcome).toMatchObject({ action: 'stop', error: { code: 'GH_IDENTITY_UNAVAILABLE', httpStatus: 503 } });

    const late = await startOidcProvider({ port });
    try {
      const { idToken } = await late.loginAs('alice');
      expect((await retrying(idToken))?.subject).toBe('oidc:alice');
      await expect(Promise.resolve(failingFast(idToken))).rejects.toMatchObject({ code: 'GH_IDENTITY_UNAVAILABLE' });
      // A refused token stops with 401, not 503.
      expect(await createIdentityStage([retrying]).run(requestWith(await late.sign(claims({ iss: issuer, aud: 'x' }))))).toMatchObject({
        action: 'stop',
        error: { code: 'GH_UNAUTHENTICATED' },
      });
    } finally {
      await late.stop();
    }
  });

  it('a discovery document that names another issuer is not trusted', async () => {
    const issuer = `http://localhost:${idp.port}`;
    const authenticate = createOidcAuthenticator([oidcIssuerSchema.parse({ issuer, audiences: ['gatehouse'] })], { log });
    await expect(Promise.resolve(authenticate(await idp.sign(claims({ iss: issuer }))))).rejects.toThrow(
      `the OIDC issuer ${issuer} cannot be used right now: its discovery document names the issuer "${idp.issuer}"`,
    );
  });

  it('a JWKS endpoint that fails → GH_IDENTITY_UNAVAILABLE', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const server = await serve(createHttpServer(), (issuer) => ({ issuer, jwks_uri: `${issuer}/jwks` }), 'broken');
    try {
      const authenticate = createOidcAuthenticator([oidcIssuerSchema.parse({ issuer: server.issuer, audiences: ['gatehouse'] })], { log });
      const token = await new SignJWT(claims({ iss: server.issuer })).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(privateKey);
      await expect(Promise.resolve(authenticate(token))).rejects.toThrow(/its JWKS at .*\/jwks could not be fetched \(Expected 200 OK/);
    } finally {
      server.close();
    }
  });

  it('trusts an https issuer through its own CA file (discovery and JWKS), and not without it', async () => {
    const ca = await createCA('test-idp-ca');
    const cert = await issueCert(ca, { commonName: 'idp', ipAddresses: ['127.0.0.1'], usage: 'server', validityDays: 1 });
    const caFile = join(mkdtempSync(join(tmpdir(), 'gh-oidc-')), 'ca.pem');
    writeFileSync(caFile, ca.certPem);
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    const server = await serve(createHttpsServer({ cert: cert.certPem, key: cert.keyPem }), (issuer) => ({ issuer, jwks_uri: `${issuer}/jwks` }), { keys: [jwk] });
    try {
      expect(server.issuer).toMatch(/^https:/);
      const config = { issuer: server.issuer, audiences: ['gatehouse'], algorithms: ['ES256'] };
      const token = await new SignJWT(claims({ iss: server.issuer, sub: 'carol' })).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(privateKey);
      const trusting = createOidcAuthenticator([oidcIssuerSchema.parse({ ...config, caFile })], { log });
      expect((await trusting(token))?.subject).toBe('oidc:carol');
      const systemRoots = createOidcAuthenticator([oidcIssuerSchema.parse(config)], { log });
      await expect(Promise.resolve(systemRoots(token))).rejects.toMatchObject({ code: 'GH_IDENTITY_UNAVAILABLE' });
    } finally {
      server.close();
    }
  });
});

describe('verified-token cache', () => {
  const alice: Principal = { subject: 'oidc:alice', groups: ['dev'], kind: 'human', via: 'oidc', tokenId: undefined };

  it('serves an entry until min(exp, now + max age) and never after', () => {
    let clock = 1_000_000;
    const cache = new VerifiedTokenCache({ maxEntries: 10, maxAgeMs: 60_000, now: () => clock });
    cache.set('short', alice, clock + 30_000);
    cache.set('long', alice, clock + 3_600_000);
    clock += 29_999;
    expect(cache.get('short')).toEqual(alice);
    clock += 1;
    expect(cache.get('short')).toBeUndefined();
    expect(cache.get('long')).toEqual(alice);
    clock += 30_000;
    expect(cache.get('long')).toBeUndefined();
    cache.set('expired', alice, clock);
    expect(cache.get('expired')).toBeUndefined();
  });

  it('evicts the least recently used entry and hands out copies', () => {
    const cache = new VerifiedTokenCache({ maxEntries: 2, maxAgeMs: 60_000 });
    cache.set('a', alice, Date.now() + 60_000);
    cache.set('b', alice, Date.now() + 60_000);
    cache.get('a')?.groups.push('system:masters');
    cache.set('c', alice, Date.now() + 60_000);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toEqual(alice);
    expect(cache.size).toBe(2);
  });

  it('in the authenticator: a cached token is not served past its exp', async () => {
    const authenticate = createOidcAuthenticator([issuerConfig({ clockSkewSeconds: 0 })], { log });
    const exp = Math.ceil((Date.now() + 700) / 1000); // 0.7–1.7 s from now
    const token = await idp.sign(claims({ exp }));
    const first = await authenticate(token);
    first?.groups.push('system:masters');
    expect(await authenticate(token)).toEqual({ subject: 'oidc:mallory', groups: ['oidc:dev'], kind: 'human', via: 'oidc', tokenId: undefined });
    await new Promise((resolve) => setTimeout(resolve, exp * 1000 - Date.now() + 50));
    expect(await refusal(authenticate, token)).toMatch(/^ERR_JWT_EXPIRED/);
  });
});

describe('OIDC verification cost', () => {
  it('with a warm JWKS (reported, loosely bounded)', async () => {
    const { idToken } = await idp.loginAs('alice');
    const uncached = authenticator();
    const cached = createOidcAuthenticator([issuerConfig()], { log });
    expect(await uncached(idToken)).toBeDefined();
    expect(await cached(idToken)).toBeDefined();
    const perCall = async (authenticate: Authenticator, n: number): Promise<number> => {
      for (let i = 0; i < 50; i++) await authenticate(idToken);
      const start = process.hrtime.bigint();
      for (let i = 0; i < n; i++) await authenticate(idToken);
      return Number(process.hrtime.bigint() - start) / 1000 / n;
    };
    const verifyUs = await perCall(uncached, 500);
    const hitUs = await perCall(cached, 5000);
    console.log(`OIDC ID token verification, warm JWKS: ${verifyUs.toFixed(1)} µs/verify (RS256); cache hit: ${hitUs.toFixed(1)} µs`);
    expect(verifyUs).toBeLessThan(5000);
    expect(hitUs).toBeLessThan(verifyUs);
  });
});

function requestWith(token: string): RequestContext {
  return { id: 't', req: { headers: { authorization: `Bearer ${token}` } } as IncomingMessage, upgrade: false, arrivedMicros: 0, startedAt: 0n, timings: {} };
}

/** A static issuer (discovery document + JWKS, or a JWKS endpoint that answers 500) on a loopback port. */
async function serve(
  server: Server,
  discovery: (issuer: string) => Record<string, unknown>,
  jwks: { keys: JWK[] } | 'broken',
): Promise<{ issuer: string; close(): void }> {
  let issuer = '';
  const listener: RequestListener = (req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(discovery(issuer)));
    } else if (req.url === '/jwks' && jwks !== 'broken') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
    } else {
      res.writeHead(500).end();
    }
  };
  server.on('request', listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const scheme = server instanceof HttpsServer ? 'https' : 'http';
  issuer = `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}
