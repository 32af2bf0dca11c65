import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkpointSignatureProblem, createAuditSigner, loadAuditSigner, SIGNING_KEY_FILE, trustedKeysFromPem } from '../../../src/audit/checkpoint.js';

describe('checkpoint signing', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-key-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the Ed25519 key 0600 in the data dir once, and reuses it', () => {
    const first = loadAuditSigner(join(dir, 'data'));
    const path = join(dir, 'data', SIGNING_KEY_FILE);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const again = loadAuditSigner(join(dir, 'data'));
    expect(again.keyId).toBe(first.keyId);
    expect(first.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
  });

  it('signs seq, hash, time and kind: changing any one breaks the signature', () => {
    const signer = loadAuditSigner(dir);
    const keys = trustedKeysFromPem(signer.publicKeyPem);
    const cp = signer.sign({ seq: 10, hash: 'a'.repeat(64), time: '2025-11-25T14:57:00.000000Z', kind: 'periodic' });
    expect(checkpointSignatureProblem(cp, keys)).toBeUndefined();
    for (const change of [{ seq: 11 }, { hash: 'b'.repeat(64) }, { time: '2025-11-25T14:57:00.000001Z' }, { kind: 'seal' as const }, { signature: 'AAAA' }]) {
      expect(checkpointSignatureProblem({ ...cp, ...change }, keys)).toMatch(/signature does not match/);
    }
  });

  it('trusts only the keys it is given; a private key PEM stands for its public key', () => {
    const signer = loadAuditSigner(dir);
    const stranger = createAuditSigner(generateKeyPairSync('ed25519').privateKey);
    const cp = stranger.sign({ seq: 1, hash: 'a'.repeat(64), time: '2025-11-25T14:57:00.000000Z', kind: 'periodic' });
    expect(checkpointSignatureProblem(cp, trustedKeysFromPem(signer.publicKeyPem))).toMatch(/not a trusted key/);
    const both = trustedKeysFromPem(signer.publicKeyPem + readFileSync(join(dir, SIGNING_KEY_FILE), 'utf8') + stranger.publicKeyPem);
    expect(both.size).toBe(2);
    expect(checkpointSignatureProblem(cp, both)).toBeUndefined();
  });

  it('refuses keys that are not Ed25519', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => createAuditSigner(rsa.privateKey)).toThrow(/must be Ed25519/);
    expect(() => trustedKeysFromPem(rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString())).toThrow(/Ed25519/);
    expect(() => trustedKeysFromPem('nothing here')).toThrow(/no PEM key/);
  });
});
