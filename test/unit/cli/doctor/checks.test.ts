import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCertificate, checkChain, checkConfig, checkOidc, checkStore, checkUpstream, runDoctor } from '../../../../src/cli/doctor/checks.js';
import { ensureConfig } from '../../../../src/cli/up/config-file.js';
import { loadAuditSigner } from '../../../../src/audit/checkpoint.js';
import { oidcIssuerSchema } from '../../../../src/identity/oidc/config.js';
import { openDataDir } from '../../../../src/config/data-dir.js';
import { parseConfig } from '../../../../src/config/schema.js';
import type { CheckResult } from '../../../../src/cli/doctor/checks.js';
import type { GatehouseConfig } from '../../../../src/config/schema.js';
import { openSqliteStore } from '../../../../src/store/sqlite.js';

let dataDir: string;
let config: GatehouseConfig;
let configPath: string;
const DAY = 86_400_000;

/** Status plus whether the detail and fix mention what they should. */
const shape = (r: CheckResult, detail = '', fix = '') => ({ status: r.status, detail: r.detail.includes(detail), fix: (r.fix ?? '').includes(fix) });

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-doctor-'));
  // A cluster nobody answers for: port 1 on loopback refuses at once.
  const kubeconfig = join(dataDir, 'dead.kubeconfig');
  writeFileSync(
    kubeconfig,
    'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: x}}]\ncontexts: [{name: dead, context: {cluster: c, user: u}}]\ncurrent-context: dead\n',
  );
  const file = ensureConfig({ dataDir, listen: { host: '127.0.0.1', port: 6443 }, upstream: { kubeconfig } });
  configPath = file.path;
  config = parseConfig(file.raw);
  await openDataDir({ dir: dataDir, sans: [] });
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('gatehouse doctor checks', () => {
  it('config: missing and invalid files fail with a fix', () => {
    expect(shape(checkConfig(join(dataDir, 'nope.yaml')).result, '', 'gatehouse up')).toEqual({ status: 'fail', detail: true, fix: true });
    const bad = join(dataDir, 'bad.yaml');
    writeFileSync(bad, 'listen: { port: "x" }\n');
    const { result, config: parsed } = checkConfig(bad);
    expect(parsed).toBeUndefined();
    expect(shape(result, 'listen.port')).toEqual({ status: 'fail', detail: true, fix: true });
    expect(checkConfig(configPath).result.status).toBe('ok');
  });

  it('certificate: ok when fresh, warned before and failed after expiry, failed when it does not name the listen host', () => {
    expect(shape(checkCertificate(config), '127.0.0.1')).toEqual({ status: 'ok', detail: true, fix: true });
    expect(checkCertificate(config, Date.now() + 350 * DAY).status).toBe('warn');
    expect(shape(checkCertificate(config, Date.now() + 400 * DAY), 'expired')).toEqual({ status: 'fail', detail: true, fix: true });
    expect(shape(checkCertificate({ ...config, listen: { ...config.listen, host: '10.1.2.3' } }), '', 'tls.extraSans')).toEqual({ status: 'fail', detail: true, fix: true });
  });

  it('upstream: an unreachable server fails with the kubectl command to try', async () => {
    const { result, target } = await checkUpstream(config.upstream!);
    expect(target).toBeUndefined();
    expect(shape(result, 'ECONNREFUSED', 'get --raw /version')).toEqual({ status: 'fail', detail: true, fix: true });
  });

  it('oidc: none configured is fine; an issuer that does not answer fails', async () => {
    expect((await checkOidc(config)).map((r) => r.status)).toEqual(['ok']);
    const withIssuer = { ...config, identity: { ...config.identity, oidc: [{ ...oidcIssuerSchema.parse({ issuer: 'http://127.0.0.1:1', audiences: ['gatehouse'] }) }] } };
    expect((await checkOidc(withIssuer)).map((r) => `${r.check}:${r.status}`)).toEqual(['oidc:fail']);
  });

  it('store and chain: a missing store fails without being created; an empty one verifies', async () => {
    expect(shape((await checkStore(config)).result, '', 'gatehouse up')).toEqual({ status: 'fail', detail: true, fix: true });
    await openSqliteStore(join(dataDir, 'gatehouse.db')).close();
    loadAuditSigner(dataDir);
    const { result, store } = await checkStore(config);
    expect(result.status).toBe('ok');
    try {
      expect(await checkChain(config, store!)).toMatchObject({ status: 'ok', detail: 'no events recorded yet' });
    } finally {
      await store!.close();
    }
  });

  it('runDoctor: stops after a bad config, else reports every area', async () => {
    expect(await runDoctor(join(dataDir, 'nope.yaml'))).toHaveLength(1);
    const checks = (await runDoctor(configPath)).map((r) => `${r.check}:${r.status}`);
    expect(checks).toEqual(['config:ok', 'certificate:ok', 'upstream:fail', 'oidc:ok', 'store:ok', 'audit-chain:ok']);
  });
});
