import { X509Certificate, createPrivateKey } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCA, issueCert, type CertificateAuthority } from '../../../src/pki/index.js';
import { x509 } from '../../../src/pki/x509.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

let ca: CertificateAuthority;
let caCert: X509Certificate;
beforeAll(async () => {
  ca = await createCA('issuing CA');
  caCert = new X509Certificate(ca.certPem);
});

describe('issueCert', () => {
  it('issues a server certificate with DNS and IP SANs, signed by the CA', async () => {
    const issued = await issueCert(ca, {
      commonName: 'kube-apiserver',
      dnsNames: ['localhost', 'kubernetes.default.svc'],
      ipAddresses: ['127.0.0.1', '::1'],
      usage: 'server',
      validityDays: 30,
    });
    const cert = new X509Certificate(issued.certPem);

    expect(cert.subject).toBe('CN=kube-apiserver');
    expect(cert.issuer).toBe('CN=issuing CA');
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(issued.keyPem))).toBe(true);
    expect(cert.subjectAltName).toBe(
      'DNS:localhost, DNS:kubernetes.default.svc, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkIP('::1')).toBe('::1');
    expect(cert.checkHost('example.com')).toBeUndefined();
    expect(cert.keyUsage).toEqual([SERVER_AUTH]);
  });

  it('puts organisations in the subject of a client certificate (Kubernetes groups)', async () => {
    const issued = await issueCert(ca, {
      commonName: 'admin',
      organizations: ['system:masters', 'gatehouse:ops'],
      usage: 'client',
      validityDays: 1,
    });
    const cert = new X509Certificate(issued.certPem);
    expect(cert.subject).toBe('CN=admin\nO=system:masters\nO=gatehouse:ops');
    expect(cert.keyUsage).toEqual([CLIENT_AUTH]);
    expect(cert.subjectAltName).toBeUndefined();
    expect(cert.verify(caCert.publicKey)).toBe(true);
  });

  it('allows both usages at once', async () => {
    const issued = await issueCert(ca, { commonName: 'peer', dnsNames: ['peer.local'], usage: 'both', validityDays: 1 });
    expect(new X509Certificate(issued.certPem).keyUsage).toEqual([SERVER_AUTH, CLIENT_AUTH]);
  });

  it('sets critical CA:FALSE and digitalSignature key usage, and links to the CA key', async () => {
    const issued = await issueCert(ca, { commonName: 'leaf', usage: 'server', validityDays: 1 });
    const parsed = new x509.X509Certificate(issued.certPem);
    const basic = parsed.getExtension(x509.BasicConstraintsExtension);
    expect(basic?.ca).toBe(false);
    expect(basic?.critical).toBe(true);
    const usage = parsed.getExtension(x509.KeyUsagesExtension);
    expect(usage?.usages).toBe(x509.KeyUsageFlags.digitalSignature);
    expect(usage?.critical).toBe(true);
    const caKeyId = new x509.X509Certificate(ca.certPem).getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
    expect(caKeyId).toBeDefined();
    expect(parsed.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(caKeyId);
  });

  it('does not verify against a different CA', async () => {
    const other = new X509Certificate((await createCA('other CA')).certPem);
    const issued = new X509Certificate((await issueCert(ca, { commonName: 'leaf', usage: 'client', validityDays: 1 })).certPem);
    expect(issued.checkIssued(other)).toBe(false);
    expect(issued.verify(other.publicKey)).toBe(false);
  });

  it('caps the validity at the CA expiry', async () => {
    const shortCA = await createCA('short-lived CA', { validityDays: 1 });
    const issued = await issueCert(shortCA, { commonName: 'leaf', usage: 'server', validityDays: 365 });
    expect(new X509Certificate(issued.certPem).validTo).toBe(new X509Certificate(shortCA.certPem).validTo);
  });

  it('issues RSA leaves (with keyEncipherment) and signs with an RSA CA', async () => {
    const rsaCA = await createCA('rsa CA', { keyAlgorithm: 'rsa-2048' });
    const rsaCACert = new X509Certificate(rsaCA.certPem);

    const ecLeaf = new X509Certificate((await issueCert(rsaCA, { commonName: 'ec leaf', usage: 'client', validityDays: 1 })).certPem);
    expect(ecLeaf.publicKey.asymmetricKeyType).toBe('ec');
    expect(ecLeaf.verify(rsaCACert.publicKey)).toBe(true);

    const rsaLeaf = await issueCert(ca, { commonName: 'rsa leaf', usage: 'server', validityDays: 1, keyAlgorithm: 'rsa-2048' });
    const rsaLeafCert = new X509Certificate(rsaLeaf.certPem);
    expect(rsaLeafCert.publicKey.asymmetricKeyType).toBe('rsa');
    expect(rsaLeafCert.verify(caCert.publicKey)).toBe(true);
    expect(rsaLeafCert.checkPrivateKey(createPrivateKey(rsaLeaf.keyPem))).toBe(true);
    expect(new x509.X509Certificate(rsaLeaf.certPem).getExtension(x509.KeyUsagesExtension)?.usages).toBe(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
    );
  });

  it('rejects malformed input', async () => {
    await expect(issueCert(ca, { commonName: 'x', ipAddresses: ['localhost'], usage: 'server', validityDays: 1 })).rejects.toThrow(
      /not an IP address/,
    );
    await expect(issueCert(ca, { commonName: '', usage: 'server', validityDays: 1 })).rejects.toThrow(/commonName/);
    await expect(issueCert(ca, { commonName: 'x', usage: 'server', validityDays: -1 })).rejects.toThrow(RangeError);
    await expect(issueCert({ certPem: ca.certPem, keyPem: 'not a key' }, { commonName: 'x', usage: 'server', validityDays: 1 })).rejects.toThrow();
  });
});
