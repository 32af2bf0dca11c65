import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { createCA, issueCert, type CertAndKey } from '../../../src/pki/index.js';

/**
 * The strongest check of a certificate is a TLS handshake: OpenSSL verifies
 * the chain, the host name, and that each side's certificate is allowed for
 * its purpose (extended key usage).
 */
const servers: tls.Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

async function listen(serverCert: CertAndKey, clientCAPem: string): Promise<number> {
  const server = tls.createServer(
    { cert: serverCert.certPem, key: serverCert.keyPem, ca: clientCAPem, requestCert: true, rejectUnauthorized: true },
    (socket) => socket.end(`hello ${String(socket.getPeerCertificate().subject.CN)}`),
  );
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

function connect(port: number, options: tls.ConnectionOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ...options });
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
}

describe('issued certificates in a real TLS handshake', () => {
  it('authenticate both sides (server by IP SAN, client by client CA)', async () => {
    const serverCA = await createCA('server CA');
    const clientCA = await createCA('client CA');
    const server = await issueCert(serverCA, { commonName: 'srv', ipAddresses: ['127.0.0.1'], usage: 'server', validityDays: 1 });
    const client = await issueCert(clientCA, { commonName: 'alice', organizations: ['devs'], usage: 'client', validityDays: 1 });
    const port = await listen(server, clientCA.certPem);

    await expect(connect(port, { ca: serverCA.certPem, cert: client.certPem, key: client.keyPem })).resolves.toBe('hello alice');
  });

  it('refuses a server certificate issued only for client use', async () => {
    const ca = await createCA('CA');
    const wrongUsage = await issueCert(ca, { commonName: 'srv', ipAddresses: ['127.0.0.1'], usage: 'client', validityDays: 1 });
    const client = await issueCert(ca, { commonName: 'alice', usage: 'client', validityDays: 1 });
    const port = await listen(wrongUsage, ca.certPem);

    await expect(connect(port, { ca: ca.certPem, cert: client.certPem, key: client.keyPem })).rejects.toThrow(/purpose/i);
  });

  it('refuses a server whose certificate lacks the host as a SAN', async () => {
    const ca = await createCA('CA');
    const server = await issueCert(ca, { commonName: '127.0.0.1', dnsNames: ['example.internal'], usage: 'server', validityDays: 1 });
    const client = await issueCert(ca, { commonName: 'alice', usage: 'client', validityDays: 1 });
    const port = await listen(server, ca.certPem);

    await expect(connect(port, { ca: ca.certPem, cert: client.certPem, key: client.keyPem })).rejects.toThrow(/IP: 127\.0\.0\.1 is not in the cert's list/);
  });

  it('refuses a server signed by an untrusted CA', async () => {
    const ca = await createCA('CA');
    const rogue = await createCA('CA');
    const server = await issueCert(rogue, { commonName: 'srv', ipAddresses: ['127.0.0.1'], usage: 'server', validityDays: 1 });
    const port = await listen(server, ca.certPem);

    await expect(connect(port, { ca: ca.certPem })).rejects.toThrow(/signature|unable to verify/i);
  });
});
