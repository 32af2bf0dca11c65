/** Key types that `createCA` and `issueCert` can generate. */
export type KeyAlgorithm = 'ecdsa-p256' | 'rsa-2048';

/** A certificate and its private key, both PEM. */
export interface CertAndKey {
  /** The certificate, PEM (`-----BEGIN CERTIFICATE-----`). */
  certPem: string;
  /** The private key, PEM-encoded PKCS#8 (`-----BEGIN PRIVATE KEY-----`). */
  keyPem: string;
}

/**
 * A certificate authority: a self-signed CA certificate and its key.
 * Plain PEM so that it can be written to disk and loaded again.
 */
export type CertificateAuthority = CertAndKey;

/** What an issued certificate may be used for (its extended key usage). */
export type CertUsage = 'server' | 'client' | 'both';
