import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { startOidcProvider } from '../../src/harness/index.js';
import type { OidcProviderHandle } from '../../src/harness/index.js';
import { startGatewayProcess } from '../e2e/helpers/gateway.js';
import type { GatewayProcess } from '../e2e/helpers/gateway.js';
import { rawRequest } from '../e2e/helpers/https.js';
import { statusCode } from './helpers/status.js';
import { recordTally } from './helpers/tally.js';

// The OpenID Provider goes away after the gateway has cached its keys: tokens
// signed with a cached key keep working until they expire (and not a second
// longer), a token signed with a key the gateway has never seen fails closed
// (401), and once a provider answers on the issuer URL again, its new keys
// are fetched and accepted without a restart.
const cluster = inject('cluster');
const work = mkdtempSync(join(tmpdir(), 'gatehouse-faults-oidc-'));
/** jose refetches the JWKS for an unknown kid at most this often (src/identity/oidc/authenticator.ts jwksCooldownMs). */
const JWKS_COOLDOWN_MS = 30_000;
let idp: OidcProviderHandle;
let gateway: GatewayProcess;
let caPem: string;
let survived = 0;
let attempts = 0;
let blocked = 0;

const now = (): number => Math.floor(Date.now() / 1000);
const claims = (idpNow: OidcProviderHandle, ttl: number) => ({ iss: idpNow.issuer, sub: 'fault-alice', aud: 'gatehouse', groups: ['dev'], iat: now(), exp: now() + ttl });

async function call(token: string): Promise<{ status: number; code: string | undefined }> {
  const res = await rawRequest(gateway.url, { path: '/api', headers: { authorization: `Bearer ${token}` }, caPem });
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(res.body.toString('utf8')) as Record<string, unknown>;
  } catch {
    // Not JSON.
  }
  return { status: res.status, code: statusCode(json) };
}

beforeAll(async () => {
  idp = await startOidcProvider();
  const config = join(work, 'gatehouse.yaml');
  // No clock skew: the expiry is checked to the second.
  writeFileSync(config, stringify({ identity: { oidc: [{ issuer: idp.issuer, audiences: ['gatehouse'], clockSkewSeconds: 0 }] } }));
  gateway = await startGatewayProcess(cluster.adminKubeconfig, ['-c', config]);
  caPem = readFileSync(join(gateway.dataDir, 'ca.crt'), 'utf8');
});
afterAll(async () => {
  recordTally('faults-oidc', { faultsSurvived: survived, attempts, blocked });
  await gateway?.stop();
  await idp?.stop();
});

describe('OIDC provider unreachable', () => {
  it('cached keys work until expiry, an unknown kid fails closed, and new keys are fetched once the provider is back', async () => {
    const cachedAt = Date.now();
    const existing = await idp.sign(claims(idp, 8));
    expect(await call(existing)).toEqual({ status: 200, code: undefined });
    const rotatedKid = await idp.rotateKeys();
    const unknownKid = await idp.sign(claims(idp, 600));
    const port = idp.port;
    await idp.stop();

    // The provider is gone: the cached key still verifies.
    expect(await call(existing)).toEqual({ status: 200, code: undefined });
    // A key the gateway never fetched: 401, not a guess.
    attempts++;
    const unknown = await call(unknownKid);
    expect(unknown.status).toBe(401);
    expect(unknown.code).toBe('GH_UNAUTHENTICATED');
    blocked++;
    // Expiry is enforced from the token alone, provider or not.
    await new Promise((r) => setTimeout(r, Math.max(0, (JSON.parse(Buffer.from(existing.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp * 1000 - Date.now() + 1100)));
    attempts++;
    const expired = await call(existing);
    expect(expired.status).toBe(401);
    expect(expired.code).toBe('GH_UNAUTHENTICATED');
    blocked++;
    // Still down after the cooldown: the gateway tries the JWKS again, cannot reach it, and says so (503
    // GH_IDENTITY_UNAVAILABLE, a retryable refusal) rather than letting the token through.
    await new Promise((r) => setTimeout(r, Math.max(0, cachedAt + JWKS_COOLDOWN_MS + 500 - Date.now())));
    attempts++;
    const refetchFailed = await call(unknownKid);
    expect([401, 503]).toContain(refetchFailed.status);
    expect(refetchFailed.code).toBe(refetchFailed.status === 401 ? 'GH_UNAUTHENTICATED' : 'GH_IDENTITY_UNAVAILABLE');
    blocked++;
    expect(gateway.stderr()).not.toMatch(/uncaught|unhandled/i);

    // A provider answers on the issuer URL again (new keys): the gateway fetches them when a token names one.
    idp = await startOidcProvider({ port });
    const fresh = await idp.sign(claims(idp, 600));
    expect(idp.currentKid).not.toBe(rotatedKid);
    const deadline = Date.now() + JWKS_COOLDOWN_MS + 10_000;
    let last = await call(fresh);
    while (last.status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      last = await call(fresh);
    }
    expect(last).toEqual({ status: 200, code: undefined });
    survived++;
  });
});
