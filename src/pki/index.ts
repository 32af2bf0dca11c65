/**
 * Small X.509 toolkit: certificate authorities and the certificates they
 * issue, as PEM. Used by the test/demo control plane (`src/harness`) and by
 * the gateway for its own CA.
 *
 * @example
 * ```ts
 * import { createCA, issueCert } from './pki/index.js';
 *
 * const ca = await createCA('gatehouse-ca');
 * const tls = await issueCert(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], usage: 'server', validityDays: 365 });
 * ```
 */
export { createCA, type CreateCAOptions } from './ca.js';
export { issueCert, type IssueCertOptions } from './issue.js';
export type { CertAndKey, CertUsage, CertificateAuthority, KeyAlgorithm } from './types.js';
