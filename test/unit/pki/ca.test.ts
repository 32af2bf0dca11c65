import { X509Certificate, createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCA } from '../../../src/pki/index.js';
import { x509 } from '../../../src/pki/x509.js';

/** Key-usage bits are not exposed by node:crypto; read them with the ASN.1 parser. */
function keyUsageFlags(certPem: string): number | undefined {
  return new x509.X509Certificate(certPem).getExtension(x509.KeyUsagesExtension)?.usages;
}

describe('createCA', () => {
  it('creates a self-signed CA certificate with the key that signed it', async () => {
    const ca = await createCA('gatehouse test CA', { organizations: ['Gatehouse'] });
    const cert = new X509Certificate(ca.certPem);

    expect(cert.subject).toBe('CN=gatehouse test CA\nO=Gatehouse');
    expect(cert.issuer).toBe(cert.subject);
    expect(cert.ca).toBe(true);
    expect(cert.checkIssued(cert)).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(ca.keyPem))).toBe(true);
    expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(cert.publicKey.asymmetricKeyType).toBe('ec');
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });

  it('marks the CA key usage critical with certificate and CRL signing', async () => {
    const ca = await createCA('usage CA');
    const parsed = new x509.X509Certificate(ca.certPem);
    const usage = parsed.getExtension(x509.KeyUsagesExtension);
    expect(usage?.critical).toBe(true);
    expect(keyUsageFlags(ca.certPem)).toBe(
      x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
    );
    const basic = parsed.getExtension(x509.BasicConstraintsExtension);
    expect(basic?.ca).toBe(true);
    expect(basic?.critical).toBe(true);
    expect(basic?.pathLength).toBe(0);
    expect(parsed.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId).toMatch(/^[0-9a-f]{40}$/);
  });

  it('uses the requested validity, starting slightly in the past', async () => {
    const before = Date.now();
    const ca = await createCA('short CA', { validityDays: 2 });
    const cert = new X509Certificate(ca.certPem);
    const notBefore = Date.parse(cert.validFrom);
    const notAfter = Date.parse(cert.validTo);
    expect(notBefore).toBeLessThan(before);
    expect(notBefore).toBeGreaterThan(before - 10 * 60_000);
    // validTo has one-second resolution.
    expect(Math.abs(notAfter - (before + 2 * 86_400_000))).toBeLessThan(5_000);
  });

  it('generates distinct, positive serial numbers', async () => {
    const serials = await Promise.all([1, 2, 3, 4].map(async (i) => new X509Certificate((await createCA(`ca ${i}`)).certPem).serialNumber));
    expect(new Set(serials).size).toBe(4);
    for (const serial of serials) {
      // Positive: the top bit of the first octet is clear (no sign padding needed).
      expect(serial).toMatch(/^[0-7][0-9A-F]{31}$/);
    }
  });

  it('can create an RSA CA', async () => {
    const ca = await createCA('rsa CA', { keyAlgorithm: 'rsa-2048' });
    const cert = new X509Certificate(ca.certPem);
    expect(cert.publicKey.asymmetricKeyType).toBe('rsa');
    expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(new x509.X509Certificate(ca.certPem).signatureAlgorithm).toMatchObject({ name: 'RSASSA-PKCS1-v1_5', hash: { name: 'SHA-256' } });
  });

  it('rejects an empty common name and a non-positive validity', async () => {
    await expect(createCA('')).rejects.toThrow(/commonName/);
    await expect(createCA('x', { validityDays: 0 })).rejects.toThrow(RangeError);
  });
});
