import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDataDir } from '../../../src/config/data-dir.js';
import { makeServingPki } from '../../../src/pki/in-child.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function freshDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'gatehouse-data-dir-'));
  dirs.push(d);
  return d;
}

/** The serving certificate (first in tls.crt) and the CA's. */
function certs(dir: string): { serving: X509Certificate; ca: X509Certificate } {
  return { serving: new X509Certificate(readFileSync(join(dir, 'tls.crt'))), ca: new X509Certificate(readFileSync(join(dir, 'ca.crt'))) };
}

describe('openDataDir', () => {
  it('makes a CA and a serving certificate it signed on the first start, and keeps both on the next', async () => {
    const dir = freshDir();
    const first = await openDataDir({ dir, sans: ['gatehouse.example.com', '10.0.0.7'] });
    const { serving, ca } = certs(dir);
    expect(ca.ca).toBe(true);
    expect(serving.checkIssued(ca)).toBe(true);
    expect(serving.verify(ca.publicKey)).toBe(true);
    expect(serving.subjectAltName).toBe('DNS:gatehouse.example.com, DNS:localhost, IP Address:10.0.0.7, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(first.tls.caPem).toBe(ca.toString());
    expect(first.newAdminToken).toMatch(/.{20,}/);

    const again = await openDataDir({ dir, sans: ['10.0.0.7', 'gatehouse.example.com'] });
    expect(again.tls.cert.equals(first.tls.cert)).toBe(true);
    expect(again.newAdminToken).toBeUndefined();
  });

  it('issues a new serving certificate from the same CA when the names change', async () => {
    const dir = freshDir();
    await openDataDir({ dir, sans: [] });
    const before = certs(dir);
    await openDataDir({ dir, sans: ['other.example.com'] });
    const after = certs(dir);
    expect(after.ca.fingerprint256).toBe(before.ca.fingerprint256);
    expect(after.serving.serialNumber).not.toBe(before.serving.serialNumber);
    expect(after.serving.checkIssued(after.ca)).toBe(true);
    expect(after.serving.subjectAltName).toContain('DNS:other.example.com');
  });

  it('issues a new serving certificate under a CA made again after ca.crt and ca.key were deleted', async () => {
    const dir = freshDir();
    await openDataDir({ dir, sans: [] });
    const before = certs(dir);
    unlinkSync(join(dir, 'ca.crt'));
    unlinkSync(join(dir, 'ca.key'));
    const state = await openDataDir({ dir, sans: [] });
    const after = certs(dir);
    expect(after.ca.fingerprint256).not.toBe(before.ca.fingerprint256);
    expect(after.serving.checkIssued(after.ca)).toBe(true);
    expect(after.serving.verify(after.ca.publicKey)).toBe(true);
    expect(state.tls.caPem).toBe(after.ca.toString());
  });

  it('issues a new serving certificate when tls.crt is near its end or was signed by another CA', async () => {
    const dir = freshDir();
    await openDataDir({ dir, sans: [] });
    const { ca } = certs(dir);
    const caPair = { certPem: readFileSync(join(dir, 'ca.crt'), 'utf8'), keyPem: readFileSync(join(dir, 'ca.key'), 'utf8') };
    const serving = { commonName: 'gatehouse', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'], usage: 'server' as const };

    // Ten days left: renewed (and kept once renewed).
    const short = await makeServingPki({ ca: caPair, caName: 'unused', serving: { ...serving, validityDays: 10 } });
    writeFileSync(join(dir, 'tls.crt'), short.serving!.certPem + caPair.certPem);
    writeFileSync(join(dir, 'tls.key'), short.serving!.keyPem);
    await openDataDir({ dir, sans: [] });
    const renewed = certs(dir).serving;
    expect(Date.parse(renewed.validTo) - Date.now()).toBeGreaterThan(300 * 24 * 3600 * 1000);
    expect(renewed.checkIssued(ca)).toBe(true);
    const again = await openDataDir({ dir, sans: [] });
    expect(again.tls.cert.equals(readFileSync(join(dir, 'tls.crt')))).toBe(true);
    expect(certs(dir).serving.serialNumber).toBe(renewed.serialNumber);

    // Signed by a CA this directory does not hold: replaced by one its CA signed.
    const other = await makeServingPki({ ca: undefined, caName: 'Other CA', serving: { ...serving, validityDays: 365 } });
    writeFileSync(join(dir, 'tls.crt'), other.serving!.certPem + other.ca.certPem);
    writeFileSync(join(dir, 'tls.key'), other.serving!.keyPem);
    await openDataDir({ dir, sans: [] });
    expect(certs(dir).serving.checkIssued(ca)).toBe(true);
    expect(certs(dir).serving.verify(ca.publicKey)).toBe(true);

    // Not a certificate at all: replaced too.
    writeFileSync(join(dir, 'tls.crt'), 'garbage');
    await openDataDir({ dir, sans: [] });
    expect(certs(dir).serving.checkIssued(ca)).toBe(true);
  });
});
