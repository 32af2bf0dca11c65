import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSessionCodec, loadSessionKey, readCookie, SESSION_KEY_FILE } from '../../../src/console/session.js';

describe('console session key and cookies', () => {
  const dirs: string[] = [];
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), 'gatehouse-session-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('creates a 32-byte key readable only by its owner, once; sessions survive a restart', async () => {
    const dataDir = dir();
    const key = loadSessionKey(dataDir);
    expect(key).toHaveLength(32);
    expect(statSync(join(dataDir, SESSION_KEY_FILE)).mode & 0o777).toBe(0o600);
    const sealed = await createSessionCodec(key).seal({ subject: 'oidc:alice', groups: ['dev'], via: 'oidc' }, 60_000);
    const reopened = createSessionCodec(loadSessionKey(dataDir));
    expect(await reopened.open(sealed)).toMatchObject({ subject: 'oidc:alice', groups: ['dev'], via: 'oidc' });
    expect(await createSessionCodec(loadSessionKey(dir())).open(sealed)).toBeUndefined();
  });

  it('refuses a corrupt key file', () => {
    const dataDir = dir();
    writeFileSync(join(dataDir, SESSION_KEY_FILE), 'c2hvcnQ=\n');
    expect(() => loadSessionKey(dataDir)).toThrow(/does not hold a 32-byte key/);
    expect(readFileSync(join(dataDir, SESSION_KEY_FILE), 'utf8')).toBe('c2hvcnQ=\n');
  });

  it('never takes a login-state cookie for a session or the reverse', async () => {
    const codec = createSessionCodec(loadSessionKey(dir()));
    const login = await codec.sealLogin({ state: 's', nonce: 'n', verifier: 'v', returnTo: '/ui/' }, 60_000);
    expect(await codec.open(login)).toBeUndefined();
    const session = await codec.seal({ subject: 'x', groups: [], via: 'oidc' }, 60_000);
    expect(await codec.openLogin(session)).toBeUndefined();
    expect(await codec.openLogin(login)).toEqual({ state: 's', nonce: 'n', verifier: 'v', returnTo: '/ui/' });
  });

  it('reads one cookie among several', () => {
    expect(readCookie('a=1; gatehouse_session=abc.def; b=2', 'gatehouse_session')).toBe('abc.def');
    expect(readCookie('xgatehouse_session=1', 'gatehouse_session')).toBeUndefined();
    expect(readCookie(undefined, 'gatehouse_session')).toBeUndefined();
  });
});
