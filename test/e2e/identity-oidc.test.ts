import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { signWithForeignKey, startOidcProvider } from '../../src/harness/index.js';
import type { OidcProviderHandle } from '../../src/harness/index.js';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { rawRequest } from './helpers/https.js';
import { kubectlFor } from './helpers/run.js';

// People sign in with a real OpenID Provider through `gatehouse login`, which
// kubectl then runs as its credential plugin; the gateway verifies the ID
// token and (in impersonation mode) the API server sees the person and groups.
const cluster = inject('cluster');
let idp: OidcProviderHandle;
let gateway: GatewayProcess;
let caPem: string;
const work = mkdtempSync(join(tmpdir(), 'gatehouse-oidc-'));
const cacheDir = join(work, 'cache');
const kubeconfig = join(work, 'alice.kubeconfig');

beforeAll(async () => {
  idp = await startOidcProvider();
  const config = join(work, 'gatehouse.yaml');
  writeFileSync(config, stringify({ identity: { oidc: [{ issuer: idp.issuer, audiences: ['gatehouse'], groupsPrefix: 'oidc:' }] } }));
  gateway = await startGatewayProcess(cluster.adminKubeconfig, ['-c', config, '--impersonate']);
  caPem = readFileSync(join(gateway.dataDir, 'ca.crt'), 'utf8');
});
afterAll(async () => {
  await gateway?.stop();
  await idp?.stop();
});

interface WhoAmI {
  status: { userInfo: { username: string; groups: string[]; extra: Record<string, string[]> } };
}

describe('gatehouse login', () => {
  it('signs in with the browser flow (driven by the test) and writes a kubeconfig kubectl can use', async () => {
    const login = spawn(
      process.execPath,
      ['bin/gatehouse.js', 'login', '--issuer', idp.issuer, '--client-id', 'gatehouse', '--no-browser', '--cache-dir', cacheDir,
        '--write-kubeconfig', kubeconfig, '--server', gateway.url, '--data-dir', gateway.dataDir],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    login.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => login.once('close', resolve));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setInterval(() => {
        const found = /Sign in at: (\S+)/.exec(stderr)?.[1];
        if (found) {
          clearInterval(timer);
          resolve(found);
        }
      }, 50);
      void exited.then(() => {
        clearInterval(timer);
        reject(new Error(`login exited early:\n${stderr}`));
      });
    });
    // The test plays the browser: it signs in as alice and follows the redirect back to the CLI's loopback listener.
    const callback = await idp.completeInteraction(url, 'alice', 'alice-password');
    expect(new URL(callback).hostname).toBe('127.0.0.1');
    const res = await fetch(callback);
    expect(await res.text()).toContain('Signed in to Gatehouse');
    expect(await exited, stderr).toBe(0);
    expect(stderr).toContain('Signed in to');

    const review = JSON.parse(await kubectlFor(kubeconfig).ok(['auth', 'whoami', '-o', 'json'])) as WhoAmI;
    expect(review.status.userInfo.username).toBe('oidc:alice');
    expect(review.status.userInfo.groups).toEqual(expect.arrayContaining(['oidc:dev', 'oidc:approvers', 'system:authenticated']));
    expect(review.status.userInfo.extra['gatehouse-via']).toEqual(['oidc']);
  });

  it('refreshes an expired ID token without a new sign-in when kubectl runs it', async () => {
    const [entry] = readdirSync(cacheDir);
    const path = join(cacheDir, entry!);
    const cached = JSON.parse(readFileSync(path, 'utf8')) as { idToken: string; expiresAt: number; refreshToken?: string };
    expect(cached.refreshToken).toBeTruthy();
    writeFileSync(path, JSON.stringify({ ...cached, expiresAt: Math.floor(Date.now() / 1000) - 10 }));
    const review = JSON.parse(await kubectlFor(kubeconfig).ok(['auth', 'whoami', '-o', 'json'])) as WhoAmI;
    expect(review.status.userInfo.username).toBe('oidc:alice');
    const after = JSON.parse(readFileSync(path, 'utf8')) as { idToken: string; expiresAt: number };
    expect(after.idToken).not.toBe(cached.idToken);
    expect(after.expiresAt).toBeGreaterThan(Date.now() / 1000);
  });
});

describe('gatehouse login --device', () => {
  it('signs in with the device code flow and prints an ExecCredential', async () => {
    const login = spawn(
      process.execPath,
      ['bin/gatehouse.js', 'login', '--issuer', idp.issuer, '--client-id', 'gatehouse', '--device', '--exec', '--cache-dir', join(work, 'device-cache')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    login.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    login.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => login.once('close', resolve));
    let complete: string | undefined;
    for (let i = 0; i < 200 && !complete; i++) {
      complete = /\(or open (\S+)\)/.exec(stderr)?.[1];
      if (!complete) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(stderr).toMatch(/enter the code \S+/);
    await idp.completeDeviceAuthorization(complete!, 'auditor', 'auditor-password');
    expect(await exited, stderr).toBe(0);
    const credential = JSON.parse(stdout) as { kind: string; status: { token: string; expirationTimestamp: string } };
    expect(credential.kind).toBe('ExecCredential');
    expect(Date.parse(credential.status.expirationTimestamp)).toBeGreaterThan(Date.now());
    const res = await rawRequest(gateway.url, { path: '/api', headers: { authorization: `Bearer ${credential.status.token}` }, caPem });
    expect(res.status).toBe(200);
  });
});

describe('OIDC tokens the gateway refuses', () => {
  const call = (token: string) =>
    // Discovery is open to every authenticated user, so 200 means the gateway accepted the token.
    rawRequest(gateway.url, { path: '/api', headers: { authorization: `Bearer ${token}` }, caPem });

  it('accepts a token from the trusted issuer and refuses forged or foreign ones', async () => {
    const { idToken } = await idp.loginAs('bob', { password: 'bob-password' });
    expect((await call(idToken)).status).toBe(200);

    const now = Math.floor(Date.now() / 1000);
    const forged = await signWithForeignKey({ iss: idp.issuer, sub: 'bob', aud: 'gatehouse', iat: now, exp: now + 300, groups: ['system:masters'] });
    const [header, payload, signature] = idToken.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: 'alice' })).toString('base64url')}.${signature}`;
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
    const other = await startOidcProvider();
    try {
      const foreignIssuer = (await other.loginAs('bob', { password: 'bob-password' })).idToken;
      for (const [what, token] of Object.entries({ forged, tampered, unsigned, foreignIssuer, garbage: `x.${randomBytes(8).toString('hex')}.y` })) {
        const res = await call(token);
        expect(res.status, what).toBe(401);
        expect((JSON.parse(res.body.toString()) as { reason: string }).reason, what).toBe('Unauthorized');
      }
    } finally {
      await other.stop();
    }
  });
});
