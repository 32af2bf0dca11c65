import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { signWithForeignKey, startOidcProvider } from '../../src/harness/index.js';
import type { OidcProviderHandle } from '../../src/harness/index.js';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { rawRequest } from './helpers/https.js';
import { kubectlFor } from './helpers/run.js';
import type { Kubectl } from './helpers/run.js';

// Issue 16: "no secrets ever" in the logs. A gateway at debug level sees
// tokens, ID tokens, Secret values and password-like write bodies through real
// kubectl and raw requests; afterwards its whole stderr is searched for every
// planted value, raw and base64. The one exception is the bootstrap admin
// token, shown once (on purpose) when the gateway first starts.
const cluster = inject('cluster');
const ns = `nosecrets-${randomBytes(3).toString('hex')}`;
const work = mkdtempSync(join(tmpdir(), 'gatehouse-nosecrets-'));
let idp: OidcProviderHandle;
let gateway: GatewayProcess;
let direct: Kubectl;
let admin: Kubectl;
let caPem: string;
let stderr = '';

/** Every value that must never reach the log, by what it is. */
const secretValue = `secret-data-${randomBytes(12).toString('hex')}`;
const planted: Record<string, string> = {
  secretValue,
  secretStringData: `secret-string-${randomBytes(12).toString('hex')}`,
  configMapPassword: `cm-password-${randomBytes(12).toString('hex')}`,
  appliedPassword: `applied-password-${randomBytes(12).toString('hex')}`,
  badBodyPassword: `bad-body-password-${randomBytes(12).toString('hex')}`,
  headerApiKey: `header-api-key-${randomBytes(12).toString('hex')}`,
  execArgument: `exec-password-${randomBytes(12).toString('hex')}`,
  proxyQuery: `proxy-password-${randomBytes(12).toString('hex')}`,
  malformedRequestToken: `malformed-token-${randomBytes(12).toString('hex')}`,
};

const adminHeaders = (): Record<string, string> => ({ authorization: `Bearer ${gateway.adminToken}` });

beforeAll(async () => {
  idp = await startOidcProvider();
  direct = kubectlFor(cluster.adminKubeconfig);
  await direct.ok(['create', 'namespace', ns]);
  const config = join(work, 'gatehouse.yaml');
  writeFileSync(config, stringify({ identity: { oidc: [{ issuer: idp.issuer, audiences: ['gatehouse'], groupsPrefix: 'oidc:' }] }, log: { level: 'debug' } }));
  gateway = await startGatewayProcess(cluster.adminKubeconfig, ['-c', config]);
  admin = kubectlFor(gateway.adminKubeconfig);
  caPem = readFileSync(join(gateway.dataDir, 'ca.crt'), 'utf8');

  // A Gatehouse token, made through the console API and used by kubectl and raw requests.
  const created = await rawRequest(gateway.url, {
    method: 'POST',
    path: '/gatehouse/v1/tokens',
    headers: { ...adminHeaders(), 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'leaky-agent', kind: 'agent', groups: ['agents'], ttl: '1h' }),
    caPem,
  });
  expect(created.status, created.body.toString()).toBe(201);
  planted.gatehouseToken = (JSON.parse(created.body.toString()) as { secret: string }).secret;

  // A real ID token from the OpenID provider, and a forged one the gateway refuses.
  planted.idToken = (await idp.loginAs('bob', { password: 'bob-password' })).idToken;
  const now = Math.floor(Date.now() / 1000);
  planted.forgedJwt = await signWithForeignKey({ iss: idp.issuer, sub: 'mallory', aud: 'gatehouse', iat: now, exp: now + 300 });

  // The traffic, as agents and people would send it.
  await direct.ok(['-n', ns, 'create', 'secret', 'generic', 'db', `--from-literal=password=${secretValue}`]);
  const shown = await admin.ok(['-n', ns, 'get', 'secret', 'db', '-o', 'yaml']);
  expect(shown).not.toContain(Buffer.from(secretValue).toString('base64'));
  await admin.ok(['-n', ns, 'get', 'secrets', '-o', 'json']);
  await admin.ok(['-n', ns, 'describe', 'secret', 'db']);
  const secretManifest = join(work, 'secret.yaml');
  writeFileSync(secretManifest, stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'api', namespace: ns }, stringData: { token: planted.secretStringData } }));
  await admin.ok(['apply', '-f', secretManifest]);
  await admin.ok(['-n', ns, 'create', 'configmap', 'app', `--from-literal=password=${planted.configMapPassword}`]);
  await admin.ok(['-n', ns, 'get', 'configmap', 'app', '-o', 'yaml']);
  const cmManifest = join(work, 'cm.yaml');
  writeFileSync(cmManifest, stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'applied', namespace: ns }, data: { DB_PASSWORD: planted.appliedPassword } }));
  await admin.ok(['apply', '-f', cmManifest]);
  await admin.ok(['apply', '-f', cmManifest]);
  // A body the gateway cannot parse, with a password in it.
  const bad = await rawRequest(gateway.url, {
    method: 'POST',
    path: `/api/v1/namespaces/${ns}/configmaps`,
    headers: { ...adminHeaders(), 'content-type': 'application/json' },
    body: `{"metadata":{"name":"bad"},"data":{"password":"${planted.badBodyPassword}"`,
    caPem,
  });
  expect(bad.status).toBe(400);

  const agent = kubectlFor(gateway.adminKubeconfig);
  await agent(['-n', ns, 'get', 'configmaps', `--token=${planted.gatehouseToken}`]);
  await agent(['-n', ns, 'get', 'configmaps', `--token=${planted.idToken}`]);
  for (const token of [planted.gatehouseToken, planted.idToken, planted.forgedJwt, `${planted.gatehouseToken}x`]) {
    await rawRequest(gateway.url, { path: `/api/v1/namespaces/${ns}/configmaps`, headers: { authorization: `Bearer ${token}`, 'x-api-key': planted.headerApiKey, 'x-id-token': planted.idToken }, caPem });
  }
  // The console API and a WebSocket-style bearer subprotocol, refused.
  await rawRequest(gateway.url, { path: '/gatehouse/v1/whoami', headers: { authorization: `Bearer ${planted.forgedJwt}` }, caPem });
  await rawRequest(gateway.url, { path: '/gatehouse/v1/tokens', headers: { authorization: `Bearer ${planted.gatehouseToken}` }, caPem });

  // Secrets in a query: an exec's command line, and a query sent to an application through services/proxy.
  const exec = await rawRequest(gateway.url, {
    method: 'POST',
    path: `/api/v1/namespaces/${ns}/pods/none/exec?command=mysql&command=-p${planted.execArgument}&stdin=true&stdout=true`,
    headers: adminHeaders(),
    caPem,
  });
  expect(exec.status).toBeGreaterThanOrEqual(400);
  await rawRequest(gateway.url, { path: `/api/v1/namespaces/${ns}/services/none:80/proxy/login?user=a&password=${planted.proxyQuery}`, headers: adminHeaders(), caPem });
  await rawRequest(gateway.url, { path: `/api/v1/namespaces/${ns}/configmaps?token=${planted.proxyQuery}`, caPem });
  // A request the HTTP parser rejects: the raw bytes it received (token included) must not be logged with the error.
  await malformedRequest(`GET /api HTTP/1.1\r\nHost: gatehouse\r\nAuthorization: Bearer ${planted.malformedRequestToken}\r\nBroken header line\r\n\r\n`);

  // Stopping flushes the log; then all of it is read.
  await waitFor(() => (gateway.stderr().match(/"msg":"access"/g) ?? []).length >= 20 && gateway.stderr().includes('client connection error'));
  await gateway.stop();
  stderr = gateway.stderr();
}, 180_000);
afterAll(async () => {
  await direct?.(['delete', 'namespace', ns, '--wait=false']);
  await gateway?.stop();
  await idp?.stop();
});

async function waitFor(done: () => boolean): Promise<void> {
  const until = Date.now() + 10_000;
  while (Date.now() < until && !done()) await new Promise((r) => setTimeout(r, 100));
}

/** Sends bytes over TLS as they are and waits for the gateway to answer or close. */
function malformedRequest(raw: string): Promise<void> {
  const base = new URL(gateway.url);
  return new Promise((resolve) => {
    const socket = connect({ host: base.hostname, port: Number(base.port), ca: caPem, servername: 'localhost' }, () => socket.end(raw));
    socket.on('data', () => undefined);
    socket.once('close', () => resolve());
    socket.once('error', () => resolve());
  });
}

/** The forms a value could leak in: as is, base64 and base64url (Secret data, JWT segments). */
function forms(value: string): string[] {
  const b64 = Buffer.from(value).toString('base64');
  return [value, b64, b64.replace(/=+$/, ''), Buffer.from(value).toString('base64url')];
}

describe('the gateway log', () => {
  it('was written at debug level and saw the traffic', () => {
    expect(stderr).toMatch(/"level":20,.*"msg":"request"/);
    expect((stderr.match(/"msg":"access"/g) ?? []).length).toBeGreaterThanOrEqual(20);
    expect(stderr).toContain('"msg":"client connection error"');
    expect(stderr).toContain('"status":401');
    expect(stderr).toContain('"msg":"stopped serving"');
  });

  it('holds none of the planted secrets, raw or base64', () => {
    for (const [what, value] of Object.entries(planted)) {
      for (const form of forms(value)) expect(stderr.includes(form), `${what} (${form.slice(0, 12)}…) is in the log`).toBe(false);
    }
    // Nor the signature of either JWT alone.
    for (const jwt of [planted.idToken!, planted.forgedJwt!]) expect(stderr.includes(jwt.split('.')[2]!)).toBe(false);
    // Nor raw request bytes in any encoding (a Buffer serialised as numbers).
    expect(stderr).not.toContain('rawPacket');
    expect(stderr).not.toContain('"type":"Buffer"');
  });

  it('shows the bootstrap admin token once, in the first-run line only', () => {
    const lines = stderr.split('\n').filter((l) => forms(gateway.adminToken).some((f) => l.includes(f)));
    expect(lines).toEqual([`  Its token is shown once: ${gateway.adminToken}`]);
    expect(stderr.split(gateway.adminToken)).toHaveLength(2);
  });
});
