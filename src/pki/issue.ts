import { isIP } from 'node:net';
import { crypto, x509 } from './x509.js';
import { exportPkcs8Pem, generateKey, importSigningKey, randomSerialNumber, validityWindow } from './keys.js';
import type { CertAndKey, CertUsage, CertificateAuthority, KeyAlgorithm } from './types.js';

/** What to put in a certificate issued by {@link issueCert}. */
export interface IssueCertOptions {
  /** Subject common name (`CN=`). Kubernetes reads it as the user name of a client certificate. */
  commonName: string;
  /** Subject organisations (`O=`). Kubernetes reads them as the groups of a client certificate. */
  organizations?: string[];
  /** DNS subject alternative names. */
  dnsNames?: string[];
  /** IP subject alternative names (IPv4 or IPv6 literals). */
  ipAddresses?: string[];
  /** Extended key usage: TLS server, TLS client, or both. */
  usage: CertUsage;
  /** How long the certificate is valid; capped at the CA's own expiry. */
  validityDays: number;
  /** Key type of the new certificate. Default `ecdsa-p256`. */
  keyAlgorithm?: KeyAlgorithm;
}

const EXTENDED_USAGES: Record<CertUsage, string[]> = {
  server: [x509.ExtendedKeyUsage.serverAuth],
  client: [x509.ExtendedKeyUsage.clientAuth],
  both: [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
};

/**
 * Issues a leaf certificate signed by `ca`, with a new private key.
 *
 * The certificate has `CA:FALSE` (critical), key usage `digitalSignature`
 * (plus `keyEncipherment` for RSA keys; critical), the extended key usage of
 * `usage`, the requested SANs and an authority key identifier that matches
 * the CA's subject key identifier. The CA key may be ECDSA (P-256/P-384) or RSA.
 *
 * @example
 * ```ts
 * import { createCA, issueCert } from '../pki/index.js';
 *
 * const clientCA = await createCA('cluster-client-ca');
 * const admin = await issueCert(clientCA, {
 *   commonName: 'admin',
 *   organizations: ['system:masters'],
 *   usage: 'client',
 *   validityDays: 1,
 * });
 * // admin.certPem + admin.keyPem authenticate as user "admin" in group "system:masters"
 * // to an API server started with --client-ca-file=<clientCA.certPem>.
 * ```
 */
export async function issueCert(ca: CertificateAuthority, options: IssueCertOptions): Promise<CertAndKey> {
  if (options.commonName === '') throw new TypeError('issueCert: commonName must not be empty');
  for (const ip of options.ipAddresses ?? []) {
    if (isIP(ip) === 0) throw new TypeError(`issueCert: not an IP address: ${JSON.stringify(ip)}`);
  }

  const caCert = new x509.X509Certificate(ca.certPem);
  const signer = await importSigningKey(ca.keyPem);
  const generated = await generateKey(options.keyAlgorithm ?? 'ecdsa-p256');
  const { notBefore, notAfter } = validityWindow(options.validityDays, caCert.notAfter);

  const subject: x509.JsonName = [{ CN: [options.commonName] }];
  for (const org of options.organizations ?? []) subject.push({ O: [org] });

  let keyUsage = x509.KeyUsageFlags.digitalSignature;
  if (generated.isRsa) keyUsage |= x509.KeyUsageFlags.keyEncipherment;

  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(keyUsage, true),
    new x509.ExtendedKeyUsageExtension(EXTENDED_USAGES[options.usage], false),
    await x509.SubjectKeyIdentifierExtension.create(generated.keys.publicKey, false, crypto),
  ];
  const caKeyId = caCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  extensions.push(
    caKeyId
      ? new x509.AuthorityKeyIdentifierExtension(caKeyId, false)
      : await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey, false, crypto),
  );
  const altNames: x509.JsonGeneralName[] = [
    ...(options.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(options.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  if (altNames.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(altNames, false));

  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerialNumber(),
      subject,
      // The CA's subject exactly as encoded in its certificate: verifiers match issuer to subject byte for byte.
      issuer: caCert.subjectName,
      notBefore,
      notAfter,
      publicKey: generated.keys.publicKey,
      signingKey: signer.privateKey,
      signingAlgorithm: signer.signingAlgorithm,
      extensions,
    },
    crypto,
  );
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportPkcs8Pem(generated.keys.privateKey) };
}
