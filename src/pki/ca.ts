import { crypto, x509 } from './x509.js';
import { exportPkcs8Pem, generateKey, randomSerialNumber, validityWindow } from './keys.js';
import type { CertificateAuthority, KeyAlgorithm } from './types.js';

/** Options for {@link createCA}. */
export interface CreateCAOptions {
  /** Organisations (`O=`) in the CA's subject. */
  organizations?: string[];
  /** How long the CA is valid. Default 3650 days. */
  validityDays?: number;
  /** Key type. Default `ecdsa-p256`. */
  keyAlgorithm?: KeyAlgorithm;
}

/**
 * Creates a self-signed certificate authority: `CA:TRUE` basic constraints
 * (critical, path length 0, so it signs leaves only), key usage
 * `keyCertSign, cRLSign, digitalSignature` (critical) and a subject key
 * identifier that issued certificates reference.
 *
 * @example
 * ```ts
 * import { createCA, issueCert } from '../pki/index.js';
 *
 * const ca = await createCA('gatehouse-ca');
 * const server = await issueCert(ca, { commonName: 'gatehouse', dnsNames: ['localhost'], usage: 'server', validityDays: 30 });
 * // ca.certPem goes to clients as their trust anchor; server.certPem/keyPem to the TLS listener.
 * ```
 */
export async function createCA(commonName: string, options: CreateCAOptions = {}): Promise<CertificateAuthority> {
  if (commonName === '') throw new TypeError('createCA: commonName must not be empty');
  const generated = await generateKey(options.keyAlgorithm ?? 'ecdsa-p256');
  const { notBefore, notAfter } = validityWindow(options.validityDays ?? 3650);
  const name: x509.JsonName = [{ CN: [commonName] }];
  for (const org of options.organizations ?? []) name.push({ O: [org] });

  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerialNumber(),
      name,
      notBefore,
      notAfter,
      keys: generated.keys,
      signingAlgorithm: generated.signingAlgorithm,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(generated.keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportPkcs8Pem(generated.keys.privateKey) };
}
