import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { makeServingPki } from '../../src/pki/in-child.js';
import type { CertificateAuthority } from '../../src/pki/types.js';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { kubectlFor } from './helpers/run.js';
import { waitFor } from './helpers/wait.js';

// A serving certificate replaced on disk (as cert-manager renews a mounted Secret) is served without a restart:
// new connections get it after a SIGHUP (or the check every minute), open ones go on, and unusable files are refused.
const cluster = inject('cluster');
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-serving-tls-e2e-'));
const certFile = join(dir, 'tls.crt');
const keyFile = join(dir, 'tls.key');
let ca: CertificateAuthority;
let gateway: GatewayProcess;

async function issue(validityDays = 30): Promise<{ certPem: string; keyPem: string; serial: string; notAfter: number }> {
  const pair = (await makeServingPki({ ca, caName: 'unused', serving: { commonName: 'gatehouse', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], usage: 'server', validityDays } })).serving!;
  const cert = new X509Certificate(pair.certPem);
  return { ...pair, serial: cert.serialNumber, notAfter: Date.parse(cert.validTo) };
}

/** gatehouse_serving_certificate_expiry_timestamp_seconds as Prometheus would scrape it. */
async function expiryGauge(): Promise<number> {
  const metricsUrl = /metrics at (http:\/\/\S+)\/metrics/.exec(gateway.stderr())![1]!;
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  return Number(/\ngatehouse_serving_certificate_expiry_timestamp_seconds (\S+)/.exec(text)![1]);
}

function write(pair: { certPem: string; keyPem: string }): void {
  writeFileSync(certFile, pair.certPem + ca.certPem);
  writeFileSync(keyFile, pair.keyPem);
}

/** The certificate a new connection is served, and the protocol ALPN chose. */
function served(): Promise<{ serial: string; alpn: string | false | null }> {
  const { hostname, port } = new URL(gateway.url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), ca: ca.certPem, servername: 'localhost', ALPNProtocols: ['h2', 'http/1.1'] }, () => {
      resolve({ serial: socket.getPeerCertificate().serialNumber, alpn: socket.alpnProtocol });
      socket.end();
    });
    socket.once('error', reject);
  });
}

/** SIGHUP, then the log line that tells how the check went. */
async function hangUpUntil(line: RegExp): Promise<void> {
  const from = gateway.stderr().length;
  process.kill(gateway.pid, 'SIGHUP');
  await waitFor(`log ${line}`, () => (line.test(gateway.stderr().slice(from)) ? true : undefined), 30_000, () => gateway.stderr().slice(-4000));
}

/** GET /version on an HTTP/2 session. */
function version(session: http2.ClientHttp2Session): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': '/version', authorization: `Bearer ${gateway.adminToken}` });
    req.once('response', (headers) => resolve(Number(headers[':status'])));
    req.once('error', reject);
    req.resume();
    req.end();
  });
}

beforeAll(async () => {
  ca = (await makeServingPki({ ca: undefined, caName: 'Rotation test CA', serving: undefined })).ca;
  write(await issue());
  gateway = await startGatewayProcess(cluster.adminKubeconfig, ['--tls-cert', certFile, '--tls-key', keyFile, '--metrics-listen', '127.0.0.1:0']);
}, 120_000);
afterAll(async () => {
  await gateway?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('serving certificate rotation', () => {
  it('serves a replaced certificate to new connections after SIGHUP; an open HTTP/2 connection goes on', async () => {
    const before = await served();
    expect(before.alpn).toBe('h2');
    const session = http2.connect(gateway.url, { ca: ca.certPem, servername: 'localhost' });
    try {
      expect(await version(session)).toBe(200);

      // Valid for longer than the first, so the expiry gauge moves.
      const next = await issue(60);
      write(next);
      await hangUpUntil(/serving certificate replaced/);
      expect(await expiryGauge()).toBe(next.notAfter / 1000);
      const after = await served();
      expect(after.serial).toBe(next.serial);
      expect(after.serial).not.toBe(before.serial);
      expect(after.alpn).toBe('h2');
      // kubectl with the kubeconfig the gateway wrote at start (it trusts the CA) reaches the cluster through it.
      const kubectl = kubectlFor(gateway.adminKubeconfig);
      expect((await kubectl(['get', 'namespace', 'default', '-o', 'name'])).stdout.trim()).toBe('namespace/default');
      expect(await version(session)).toBe(200);
    } finally {
      session.close();
    }
  });

  it('keeps serving the current certificate when the files are replaced by a key that does not match', async () => {
    const current = await served();
    const a = await issue();
    const b = await issue();
    write({ certPem: a.certPem, keyPem: b.keyPem });
    await hangUpUntil(/the serving certificate could not be loaded again; the current one stays in use/);
    expect((await served()).serial).toBe(current.serial);

    write(b);
    await hangUpUntil(/serving certificate replaced/);
    expect((await served()).serial).toBe(b.serial);
  });
});
