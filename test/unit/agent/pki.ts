import { createCA, issueCert } from '../../../src/pki/index.js';
import type { CertAndKey } from '../../../src/pki/index.js';

/** A CA and a serving certificate for 127.0.0.1 issued by it, for local TLS servers in tests. */
export async function createPki(name: string): Promise<{ caPem: string; cert: CertAndKey }> {
  const ca = await createCA(`${name}-ca`);
  const cert = await issueCert(ca, { commonName: name, ipAddresses: ['127.0.0.1'], usage: 'server', validityDays: 1 });
  return { caPem: ca.certPem, cert };
}
