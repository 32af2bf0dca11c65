import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadServingTls } from '../../../src/config/data-dir.js';
import type { ServingTls } from '../../../src/config/data-dir.js';
import { notAfter, refreshServingTls } from '../../../src/gateway/serving-tls.js';
import type { ServingTlsRefresher } from '../../../src/gateway/serving-tls.js';
import { makeServingPki } from '../../../src/pki/in-child.js';

const dirs: string[] = [];
const refreshers: ServingTlsRefresher[] = [];
afterEach(() => {
  for (const r of refreshers.splice(0)) r.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const serving = { commonName: 'gatehouse', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], usage: 'server' as const, validityDays: 30 };

/** A directory with tls.crt and tls.key (given files, as tls.certFile / tls.keyFile name them), and a way to replace them. */
async function givenFiles() {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-serving-tls-'));
  dirs.push(dir);
  const { ca } = await makeServingPki({ ca: undefined, caName: 'Test CA', serving: undefined });
  const source = { dir, certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), sans: [] };
  const issue = async (): Promise<{ certPem: string; keyPem: string }> => (await makeServingPki({ ca, caName: 'unused', serving })).serving!;
  const write = (pair: { certPem: string; keyPem: string }): void => {
    writeFileSync(source.certFile, pair.certPem + ca.certPem);
    writeFileSync(source.keyFile, pair.keyPem);
  };
  write(await issue());
  return { source, issue, write };
}

/** A logger whose lines (parsed) land in `lines`. */
function captured() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>), done()) }));
  return { log, lines };
}

function start(load: () => Promise<ServingTls>, current: ServingTls) {
  const { log, lines } = captured();
  const applied: ServingTls[] = [];
  const refresher = refreshServingTls({ load, current, apply: (tls) => applied.push(tls), log, intervalMs: 3_600_000 });
  refreshers.push(refresher);
  return { refresher, applied, lines };
}

/** As the gateway loads it once it runs. */
const running = { makeCa: false };

const serial = (tls: ServingTls): string => new X509Certificate(tls.cert).serialNumber;

describe('refreshServingTls', () => {
  it('gives the listener a replaced certificate once, and nothing while the files stay as they are', async () => {
    const files = await givenFiles();
    const first = await loadServingTls(files.source, running);
    const { refresher, applied, lines } = start(() => loadServingTls(files.source, running), first);
    expect(await refresher.check()).toBe(false);
    expect(applied).toEqual([]);

    const next = await files.issue();
    files.write(next);
    expect(await refresher.check()).toBe(true);
    expect(applied).toHaveLength(1);
    expect(serial(applied[0]!)).toBe(new X509Certificate(next.certPem).serialNumber);
    expect(serial(refresher.current())).not.toBe(serial(first));
    expect(lines.find((l) => l.msg === 'serving certificate replaced')).toMatchObject({ serialNumber: serial(applied[0]!), subjectAltName: 'DNS:localhost, IP Address:127.0.0.1' });
    expect(await refresher.check()).toBe(false);
    expect(applied).toHaveLength(1);
    expect(notAfter(applied[0]!.cert)).toBe(Date.parse(new X509Certificate(next.certPem).validTo));
    expect(notAfter(Buffer.from('not a certificate'))).toBeUndefined();
  });

  it('keeps the current certificate when the new files are unusable: a key of another certificate, not PEM, missing', async () => {
    const files = await givenFiles();
    const first = await loadServingTls(files.source, running);
    const { refresher, applied, lines } = start(() => loadServingTls(files.source, running), first);
    const a = await files.issue();
    const b = await files.issue();
    files.write({ certPem: a.certPem, keyPem: b.keyPem });
    expect(await refresher.check()).toBe(false);
    writeFileSync(files.source.certFile, 'not a certificate');
    expect(await refresher.check()).toBe(false);
    rmSync(files.source.keyFile);
    expect(await refresher.check()).toBe(false);
    expect(applied).toEqual([]);
    expect(refresher.current()).toBe(first);
    const warnings = lines.filter((l) => l.msg === 'the serving certificate could not be loaded again; the current one stays in use');
    expect(warnings).toHaveLength(3);
    expect(JSON.stringify(warnings[2])).toContain('ENOENT');

    // Once the files are whole again, the next check takes them.
    files.write(a);
    expect(await refresher.check()).toBe(true);
    expect(serial(applied[0]!)).toBe(new X509Certificate(a.certPem).serialNumber);
  });

  it('keeps the current certificate, and does not reject, when the listener refuses the new one', async () => {
    const files = await givenFiles();
    const first = await loadServingTls(files.source, running);
    const { log, lines } = captured();
    const refresher = refreshServingTls({
      load: () => loadServingTls(files.source, running),
      current: first,
      apply: () => {
        throw new Error('listener refused');
      },
      log,
      intervalMs: 3_600_000,
    });
    refreshers.push(refresher);
    files.write(await files.issue());
    expect(await refresher.check()).toBe(false);
    expect(refresher.current()).toBe(first);
    expect(JSON.stringify(lines.at(-1))).toContain('listener refused');
  });

  it('runs one load at a time: a check during another joins it', async () => {
    const files = await givenFiles();
    const first = await loadServingTls(files.source, running);
    let loads = 0;
    const { refresher } = start(async () => {
      loads += 1;
      return loadServingTls(files.source, running);
    }, first);
    files.write(await files.issue());
    const [x, y] = await Promise.all([refresher.check(), refresher.check()]);
    expect([x, y]).toEqual([true, true]);
    expect(loads).toBe(1);
  });

  it('renews a generated certificate near its end from the data directory CA', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-serving-tls-'));
    dirs.push(dir);
    const source = { dir, sans: [] };
    const first = await loadServingTls(source, { makeCa: true });
    const { refresher, applied, lines } = start(() => loadServingTls(source, running), first);
    expect(await refresher.check()).toBe(false);
    // Ten days left, as if a year had passed.
    const ca = { certPem: readFileSync(join(dir, 'ca.crt'), 'utf8'), keyPem: readFileSync(join(dir, 'ca.key'), 'utf8') };
    const short = (await makeServingPki({ ca, caName: 'unused', serving: { ...serving, ipAddresses: ['127.0.0.1', '::1'], validityDays: 10 } })).serving!;
    writeFileSync(join(dir, 'tls.crt'), short.certPem + ca.certPem);
    writeFileSync(join(dir, 'tls.key'), short.keyPem);
    expect(await refresher.check()).toBe(true);
    const renewed = new X509Certificate(applied[0]!.cert);
    expect(Date.parse(renewed.validTo) - Date.now()).toBeGreaterThan(300 * 24 * 3600 * 1000);
    expect(renewed.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    expect(applied[0]!.caPem).toBe(ca.certPem);

    // A deleted CA is not made again while running (clients hold the old ca.crt): warned, and the certificate stays.
    rmSync(join(dir, 'ca.key'));
    writeFileSync(join(dir, 'tls.crt'), short.certPem + ca.certPem);
    expect(await refresher.check()).toBe(false);
    expect(applied).toHaveLength(1);
    expect(JSON.stringify(lines.at(-1))).toContain('a new CA is made only when the gateway starts');
  });
});
