import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { z } from 'zod';
import { newBootstrapToken } from '../identity/bootstrap-token.js';
import { makeServingPki } from '../pki/in-child.js';
import type { BootstrapTokenRecord } from '../identity/bootstrap-token.js';

export interface ServingTls {
  cert: Buffer;
  key: Buffer;
  /** PEM of the CA clients should trust (the generated CA, or the given chain). */
  caPem: string;
}

export interface DataDirState {
  dir: string;
  tls: ServingTls;
  bootstrapTokens: BootstrapTokenRecord[];
  /** The admin token, only on the run that created it (it is never stored in clear). */
  newAdminToken: string | undefined;
}

const tokensFileSchema = z.array(z.object({ name: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/), groups: z.array(z.string()) }));

/**
 * Opens (creating on first run) the gateway's data directory: a private CA
 * and serving certificate unless one is configured, and the bootstrap admin
 * credential, kept only as a hash. Files are written 0600 and atomically, so
 * a crash never leaves half a key behind.
 */
export async function openDataDir(options: ServingTlsSource): Promise<DataDirState> {
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const tls = await loadServingTls(options, { makeCa: true });

  const tokensPath = join(options.dir, 'bootstrap-tokens.json');
  let bootstrapTokens: BootstrapTokenRecord[];
  let newAdminToken: string | undefined;
  if (existsSync(tokensPath)) {
    const parsed = tokensFileSchema.safeParse(JSON.parse(readFileSync(tokensPath, 'utf8')));
    if (!parsed.success) throw new Error(`${tokensPath} is corrupt: ${parsed.error.issues[0]?.message ?? ''}`);
    bootstrapTokens = parsed.data;
  } else {
    const { token, record } = newBootstrapToken('gatehouse-admin', ['gatehouse:admins']);
    bootstrapTokens = [record];
    newAdminToken = token;
    writePrivate(tokensPath, JSON.stringify(bootstrapTokens, null, 2) + '\n');
  }
  return { dir: options.dir, tls, bootstrapTokens, newAdminToken };
}

/** Where the serving certificate comes from: the given files, or the data directory's own CA (tls.extraSans and the listen address as names). */
export interface ServingTlsSource {
  dir: string;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  sans: string[];
}

/**
 * The serving certificate and key: the given files, or the generated ones,
 * issued again as needed (see generatedTls). A missing CA is made again
 * only with `makeCa` (at a start): a running gateway that did so would
 * leave every client's ca.crt behind at once.
 */
export function loadServingTls(source: ServingTlsSource, options: { makeCa: boolean }): Promise<ServingTls> {
  return source.certFile && source.keyFile ? Promise.resolve(givenTls(source.certFile, source.keyFile)) : generatedTls(source.dir, source.sans, options.makeCa);
}

function givenTls(certFile: string, keyFile: string): ServingTls {
  const cert = readFileSync(certFile);
  return { cert, key: readFileSync(keyFile), caPem: cert.toString('utf8') };
}

async function generatedTls(dir: string, sans: string[], makeCa: boolean): Promise<ServingTls> {
  const caCert = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  const certPath = join(dir, 'tls.crt');
  const keyPath = join(dir, 'tls.key');
  const sansPath = join(dir, 'tls.sans');
  const ca = existsSync(caCert) && existsSync(caKey) ? { certPem: readFileSync(caCert, 'utf8'), keyPem: readFileSync(caKey, 'utf8') } : undefined;
  if (ca === undefined && !makeCa) throw new Error(`${caCert} or ${caKey} is missing; a new CA is made only when the gateway starts`);
  const wanted = [...new Set(['localhost', '127.0.0.1', '::1', ...sans])].sort();
  const current = existsSync(sansPath) ? readFileSync(sansPath, 'utf8') : '';
  const servingCert = existsSync(certPath) ? readFileSync(certPath) : undefined;
  const reissue = ca === undefined || !existsSync(keyPath) || current !== wanted.join('\n') || !servesUnder(servingCert, ca.certPem, Date.now());
  if (ca !== undefined && servingCert !== undefined && !reissue) return { cert: servingCert, key: readFileSync(keyPath), caPem: ca.certPem };
  const made = await makeServingPki({
    ca,
    caName: 'Gatehouse CA',
    serving: { commonName: 'gatehouse', dnsNames: wanted.filter((n) => isIP(n) === 0), ipAddresses: wanted.filter((n) => isIP(n) !== 0), usage: 'server', validityDays: 365 },
  });
  if (ca === undefined) {
    writePrivate(caKey, made.ca.keyPem);
    writePrivate(caCert, made.ca.certPem);
  }
  const serving = made.serving;
  if (serving === undefined) throw new Error('no serving certificate was issued');
  const chain = serving.certPem + made.ca.certPem;
  writePrivate(keyPath, serving.keyPem);
  writePrivate(certPath, chain);
  writePrivate(sansPath, wanted.join('\n'));
  return { cert: Buffer.from(chain), key: Buffer.from(serving.keyPem), caPem: made.ca.certPem };
}

/** A serving certificate is issued again on a start this close to its end (it is valid for a year). */
const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

/**
 * Whether a serving certificate can go on being served: it parses, the CA
 * signed it (not one that was deleted and made again) and it is not near
 * its end.
 */
function servesUnder(certPem: Buffer | undefined, caPem: string, nowMs: number): boolean {
  if (certPem === undefined) return false;
  try {
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(caPem);
    return cert.checkIssued(ca) && cert.verify(ca.publicKey) && Date.parse(cert.validTo) - nowMs > RENEW_BEFORE_MS;
  } catch {
    return false;
  }
}

/** Writes a file readable only by its owner, via a rename so readers never see half of it. */
export function writePrivate(path: string, content: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}
