import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { startGatewayProcess } from '../e2e/helpers/gateway.js';
import type { GatewayProcess } from '../e2e/helpers/gateway.js';
import { rawRequest } from '../e2e/helpers/https.js';
import { identity } from '../e2e/helpers/identities.js';
import { httpRequest, sendRaw } from './helpers/raw-tls.js';
import type { RawReply } from './helpers/raw-tls.js';
import { recordTally } from './helpers/tally.js';

// Bypass attempts against a real gateway in front of the real API server.
// Each attempt is sent byte for byte and must be refused, or judged exactly
// as its canonical form; the cluster is then read directly (harness admin)
// to prove nothing policy should have stopped reached the API server.
const cluster = inject('cluster');
const suffix = randomBytes(3).toString('hex');
const L = `locked-${suffix}`;
const O = `open-${suffix}`;
/** Carries gatehouse.dev/protected=true, so the shipped access guardrails apply. */
const P = `protected-${suffix}`;
const SECRET_PLAIN = 'secret-value-42';
const SECRET_B64 = Buffer.from(SECRET_PLAIN).toString('base64');
let gateway: GatewayProcess;
let caPem: string;
let auth: Record<string, string>;
const tally = { attempts: 0, blocked: 0 };

// ---- Talking to the cluster directly (the harness admin) and to the gateway (raw). ----

async function direct(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await rawRequest(cluster.server, {
    method,
    path,
    caPem: cluster.caPem,
    headers: { authorization: `Bearer ${cluster.adminToken}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(res.body.toString('utf8')) as Record<string, unknown>;
  } catch {
    // Not JSON: the status says enough.
  }
  return { status: res.status, json };
}

const exists = async (path: string): Promise<boolean> => (await direct('GET', path)).status === 200;

function send(method: string, target: string, headers: Record<string, string> = {}, body?: Buffer | string, timeoutMs?: number): Promise<RawReply> {
  return sendRaw(gateway.url, caPem, httpRequest(method, target, { ...auth, ...headers }, body), timeoutMs);
}

interface Judgment {
  status: number;
  /** The Gatehouse code in the Status causes, e.g. GH_POLICY_DENIED. */
  code: string | undefined;
  /** The policy rule named in the Status message. */
  rule: string | undefined;
}

function judge(r: RawReply): Judgment {
  let code: string | undefined;
  let rule: string | undefined;
  try {
    const s = JSON.parse(r.body.toString('utf8')) as { message?: string; details?: { causes?: { reason?: string }[] } };
    code = s.details?.causes?.find((c) => c.reason?.startsWith('GH_'))?.reason;
    rule = /policy rule "([^"]+)"/.exec(s.message ?? '')?.[1];
  } catch {
    // Node's own 400 for a malformed request carries no Status.
  }
  return { status: r.status, code, rule };
}

/**
 * The attempt was refused before policy (400: path, body or HTTP syntax; 413;
 * 0: Node's HTTP parser dropped the connection without an answer),
 * denied by policy (a rule that could not judge it fails closed), or judged
 * exactly like the canonical request.
 */
function expectRefusedOrSame(attempt: RawReply, canonical: Judgment, label: string): void {
  tally.attempts++;
  const j = judge(attempt);
  const refused = j.status === 0 || j.status === 400 || j.status === 413 || (j.status === 403 && j.code === 'GH_POLICY_DENIED');
  const same = j.status === canonical.status && j.rule === canonical.rule;
  expect(refused || same, `${label}: got ${JSON.stringify(j)} (${attempt.body.toString('utf8').slice(0, 300)}), canonical ${JSON.stringify(canonical)}`).toBe(true);
  if (j.status >= 400 || j.status === 0) tally.blocked++;
  expect(attempt.body.toString('latin1')).not.toContain(SECRET_B64);
  expect(attempt.body.toString('latin1')).not.toContain(SECRET_PLAIN);
}

const pod = (name: string, container: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name },
  spec: { containers: [{ name: 'c', image: 'registry.invalid/app:1', ...container }], ...extra },
});
const privileged = { securityContext: { privileged: true } };
const template = (container: Record<string, unknown> = {}, spec: Record<string, unknown> = {}) => ({
  metadata: { labels: { app: 'd' } },
  spec: { containers: [{ name: 'c', image: 'registry.invalid/app:1', ...container }], ...spec },
});
const deployment = (name: string, container: Record<string, unknown> = {}, spec: Record<string, unknown> = {}) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name },
  spec: { replicas: 0, selector: { matchLabels: { app: 'd' } }, template: template(container, spec) },
});

beforeAll(async () => {
  for (const ns of [L, O]) expect((await direct('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } })).status).toBe(201);
  const protectedNs = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: P, labels: { 'gatehouse.dev/protected': 'true' } } };
  expect((await direct('POST', '/api/v1/namespaces', protectedNs)).status).toBe(201);
  const created = await Promise.all([
    direct('POST', `/api/v1/namespaces/${L}/secrets`, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's1' }, data: { password: SECRET_B64 } }),
    direct('POST', `/api/v1/namespaces/${L}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm1' }, data: { a: 'b' } }),
    direct('POST', `/api/v1/namespaces/${L}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'sa1' } }),
    direct('POST', `/api/v1/namespaces/${L}/pods`, { ...pod('p1'), spec: { ...pod('p1').spec, nodeName: cluster.nodeName } }),
    direct('POST', `/api/v1/namespaces/${L}/services`, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc' }, spec: { ports: [{ port: 80 }] } }),
    direct('POST', `/api/v1/namespaces/${O}/pods`, pod('harmless')),
    direct('POST', `/api/v1/namespaces/${P}/pods`, { ...pod('pe'), spec: { ...pod('pe').spec, nodeName: cluster.nodeName } }),
    direct('POST', `/api/v1/namespaces/${O}/secrets`, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's2', annotations: { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ apiVersion: 'v1', kind: 'Secret', data: { password: SECRET_B64 } }) } },
      data: { password: SECRET_B64 },
    }),
    direct('POST', `/api/v1/namespaces/${O}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'forbidden-sa' } }),
    direct('POST', `/apis/apps/v1/namespaces/${O}/deployments`, deployment('dep')),
  ]);
  for (const c of created) expect(c.status, JSON.stringify(c.json)).toBe(201);

  const policy = join(cluster.workDir, `security-${suffix}.yaml`);
  writeFileSync(
    policy,
    stringify({
      apiVersion: 'gatehouse.dev/v1alpha1',
      kind: 'Policy',
      metadata: { name: 'security-test' },
      spec: {
        rules: [
          // '' too: a list across all namespaces (or with a namespace field selector) would read the locked Secrets.
          { name: 'locked-secret-reads', match: { verbs: ['get', 'list', 'watch'], resources: [{ group: '', resource: 'secrets' }], namespaces: [L, ''] }, action: 'deny', message: 'no Secret reads here' },
          { name: 'locked-deletes', match: { verbs: ['delete', 'deletecollection'], namespaces: [L] }, action: 'deny', message: 'no deletes here' },
          { name: 'locked-configmap-watch', match: { verbs: ['watch'], resources: [{ group: '', resource: 'configmaps' }], namespaces: [L] }, action: 'deny', message: 'no watches here' },
          {
            name: 'locked-subresources',
            match: {
              namespaces: [L],
              resources: ['pods/exec', 'pods/attach', 'pods/portforward', 'pods/proxy', 'services/proxy', 'pods/binding', 'pods/ephemeralcontainers', 'serviceaccounts/token'].map((resource) => ({ group: '', resource })),
            },
            action: 'deny',
            message: 'no streams, proxies, bindings or tokens here',
          },
          {
            name: 'forbidden-service-account',
            match: { verbs: ['create', 'update', 'patch'], resources: [{ group: '', resource: 'pods' }], includeWorkloadTemplates: true },
            when: "has(object.spec.serviceAccountName) && object.spec.serviceAccountName == 'forbidden-sa'",
            action: 'deny',
            message: 'pods may not run as forbidden-sa',
          },
          {
            name: 'forbidden-secret-key',
            match: { verbs: ['create', 'update', 'patch'], resources: [{ group: '', resource: 'secrets' }] },
            when: "has(object.data) && 'forbidden' in object.data",
            action: 'deny',
            message: 'the key "forbidden" may not be stored',
          },
        ],
      },
    }),
  );
  gateway = await startGatewayProcess(cluster.adminKubeconfig, ['--policy', policy, '--approval-hold', '0']);
  caPem = readFileSync(join(gateway.dataDir, 'ca.crt'), 'utf8');
  auth = { Authorization: `Bearer ${gateway.adminToken}` };
});

afterAll(async () => {
  // Every attempt that got here passed its checks: blocked (refused, denied, masked, or kept from the API server) or judged as its canonical form.
  process.stderr.write(`[security] bypass attempts made: ${tally.attempts}, blocked: ${tally.blocked}, judged as their canonical form: ${tally.attempts - tally.blocked}\n`);
  recordTally('bypass', { attempts: tally.attempts, blocked: tally.blocked });
  await gateway?.stop();
  for (const ns of [L, O, P]) await direct('DELETE', `/api/v1/namespaces/${ns}`).catch(() => undefined);
});

// ---------------------------------------------------------------------------

describe('path tricks on a denied Secret read', () => {
  let canonical: Judgment;
  beforeAll(async () => {
    canonical = judge(await send('GET', `/api/v1/namespaces/${L}/secrets/s1`));
  });

  it('denies the canonical read with the test rule', () => {
    expect(canonical).toEqual({ status: 403, code: 'GH_POLICY_DENIED', rule: 'locked-secret-reads' });
  });

  const enc = (s: string): string => [...s].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
  const variants = (): [string, string][] => [
    ['dot-dot from another resource', `/api/v1/namespaces/${L}/configmaps/../secrets/s1`],
    ['dot segment', `/api/v1/namespaces/${L}/./secrets/s1`],
    ['%2e%2e', `/api/v1/namespaces/${L}/configmaps/%2e%2e/secrets/s1`],
    ['%2E%2E mixed', `/api/v1/namespaces/${L}/configmaps/%2E./secrets/s1`],
    ['dot-dot from an open namespace', `/api/v1/namespaces/${O}/../${L}/secrets/s1`],
    ['empty segment', `/api/v1/namespaces/${L}//secrets/s1`],
    ['leading //', `//api/v1/namespaces/${L}/secrets/s1`],
    ['trailing slash', `/api/v1/namespaces/${L}/secrets/s1/`],
    ['trailing //', `/api/v1/namespaces/${L}/secrets/s1//`],
    ['encoded namespace', `/api/v1/namespaces/${enc(L)}/secrets/s1`],
    ['encoded resource and name', `/api/v1/namespaces/${L}/${enc('secrets')}/${enc('s1')}`],
    ['%2F between resource and name', `/api/v1/namespaces/${L}/secrets%2Fs1`],
    ['%2F..%2F in a name', `/api/v1/namespaces/${L}/configmaps/x%2F..%2F..%2Fsecrets%2Fs1`],
    ['backslash', `/api/v1/namespaces/${L}/configmaps\\..\\secrets/s1`],
    ['%5C', `/api/v1/namespaces/${L}/configmaps%5C..%5Csecrets/s1`],
    ['; parameter', `/api/v1/namespaces/${L}/secrets/s1;x=y`],
    ['fragment', `/api/v1/namespaces/${L}/secrets/s1#x`],
    ['encoded NUL', `/api/v1/namespaces/${L}/secrets/s1%00`],
    ['double-encoded dots', `/api/v1/namespaces/${L}/configmaps/%252e%252e/secrets/s1`],
    ['overlong UTF-8 dots', `/api/v1/namespaces/${L}/configmaps/%c0%ae%c0%ae/secrets/s1`],
    ['raw non-ASCII', `/api/v1/namespaces/${L}/secrets/s1\u00e9`],
    ['absolute-form target', `${gateway.url}/api/v1/namespaces/${L}/secrets/s1`],
    ['?watch=1 on the object', `/api/v1/namespaces/${L}/secrets/s1?watch=1`],
    ['deprecated /watch/ prefix', `/api/v1/watch/namespaces/${L}/secrets/s1`],
    ['list by field selector', `/api/v1/namespaces/${L}/secrets?fieldSelector=metadata.name%3Ds1`],
    ['cluster-wide list by namespace selector', `/api/v1/secrets?fieldSelector=metadata.namespace%3D${L}`],
    ['dryRun on a read', `/api/v1/namespaces/${L}/secrets/s1?dryRun=All`],
  ];
  it('refuses or denies every variant', async () => {
    for (const [label, target] of variants()) expectRefusedOrSame(await send('GET', target), canonical, label);
  });

  it('other methods: HEAD is get, OPTIONS names no verb and reads nothing, a lower-case method is not HTTP', async () => {
    // A HEAD answer has no body to name the rule; 403 is the policy's denial.
    tally.attempts++;
    expect((await send('HEAD', `/api/v1/namespaces/${L}/secrets/s1`, {}, undefined, 4000)).status).toBe(403);
    tally.blocked++;
    expectRefusedOrSame(await send('get', `/api/v1/namespaces/${L}/secrets/s1`), canonical, 'lower-case method');
    tally.attempts++;
    const options = await send('OPTIONS', `/api/v1/namespaces/${L}/secrets/s1`);
    expect(options.status).toBeGreaterThanOrEqual(400);
    expect(options.body.toString('latin1')).not.toContain(SECRET_B64);
    tally.blocked++;
  });

  it('mixed case names a different (unknown) resource upstream; nothing is read', async () => {
    for (const target of [`/api/v1/namespaces/${L}/Secrets/s1`, `/API/v1/namespaces/${L}/secrets/s1`, `/api/V1/namespaces/${L}/secrets/s1`]) {
      tally.attempts++;
      const r = await send('GET', target);
      expect([403, 404], target).toContain(r.status);
      tally.blocked++;
      expect(r.body.toString('latin1')).not.toContain(SECRET_B64);
    }
  });

  it('a body on a GET changes nothing', async () => {
    expectRefusedOrSame(await send('GET', `/api/v1/namespaces/${L}/secrets/s1`, { 'content-type': 'application/json' }, '{"kind":"DeleteOptions"}'), canonical, 'GET with body');
  });
});

describe('query parameters that change meaning', () => {
  it('every spelling of watch on a locked list is denied, or answered as a plain list', async () => {
    const canonical = judge(await send('GET', `/api/v1/namespaces/${L}/configmaps?watch=1`, {}, undefined, 4000));
    expect(canonical.rule).toBe('locked-configmap-watch');
    const ws = { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' };
    expectRefusedOrSame(await send('GET', `/api/v1/namespaces/${L}/configmaps?watch=1`, ws, undefined, 4000), canonical, 'WebSocket watch');
    for (const q of ['watch=true', 'watch=True', 'watch=t', 'watch=0&watch=1', 'watch=1&watch=0', 'watch=yes', 'watch=', 'Watch=1', 'watch=1;x=y', 'watch=%31', 'w%61tch=1']) {
      tally.attempts++;
      const r = await send('GET', `/api/v1/namespaces/${L}/configmaps?${q}`, {}, undefined, 4000);
      const j = judge(r);
      if (j.status === 200) {
        // Allowed: then it must really be a list, not a watch stream.
        expect(r.timedOut, q).toBe(false);
        expect(r.headers['content-type'] ?? '', q).not.toContain('watch');
        expect((JSON.parse(r.body.toString('utf8')) as { kind: string }).kind, q).toBe('ConfigMapList');
      } else {
        tally.blocked++;
        expect(j.status === 400 || (j.status === canonical.status && j.rule === canonical.rule), `${q}: ${JSON.stringify(j)}`).toBe(true);
      }
    }
  });

  it('dryRun, fieldManager, force and repeated parameters do not change how a delete is judged', async () => {
    const canonical = judge(await send('DELETE', `/api/v1/namespaces/${L}/configmaps/cm1`));
    expect(canonical.rule).toBe('locked-deletes');
    for (const q of ['dryRun=All', 'dryRun=All&dryRun=', 'fieldManager=x&force=true', 'gracePeriodSeconds=0&gracePeriodSeconds=1', 'propagationPolicy=Orphan']) {
      expectRefusedOrSame(await send('DELETE', `/api/v1/namespaces/${L}/configmaps/cm1?${q}`), canonical, q);
    }
    expect(await exists(`/api/v1/namespaces/${L}/configmaps/cm1`)).toBe(true);
  });
});

describe('non-resource, aggregated and proxy paths', () => {
  it('non-resource URLs pass and name no resource', async () => {
    for (const target of ['/version', '/apis', '/openapi/v2?timeout=1s']) {
      const r = await send('GET', target);
      expect(r.status, target).toBe(200);
    }
  });

  it('an aggregated API path is classified by its group and never reaches a Secret', async () => {
    tally.attempts++;
    const r = await send('GET', `/apis/metrics.k8s.io/v1beta1/namespaces/${L}/pods`);
    expect([403, 404, 503]).toContain(r.status);
    tally.blocked++;
  });

  it('proxy subresources of pods and services in the locked namespace are denied in every spelling', async () => {
    const canonical = judge(await send('GET', `/api/v1/namespaces/${L}/pods/p1/proxy/`));
    expect(canonical.rule).toBe('locked-subresources');
    for (const target of [
      `/api/v1/namespaces/${L}/pods/p1:80/proxy/x`,
      `/api/v1/namespaces/${L}/pods/http:p1:80/proxy/api/v1/namespaces/${L}/secrets/s1`,
      `/api/v1/namespaces/${L}/services/svc/proxy/`,
      `/api/v1/namespaces/${L}/services/svc:80/proxy/a%2Fb`,
      `/api/v1/namespaces/${L}/services/svc/proxy/..%2F..%2F..%2Fsecrets/s1`,
      `/api/v1/namespaces/${L}/services/svc/proxy/%2e%2e/%2e%2e/secrets/s1`,
    ]) {
      expectRefusedOrSame(await send('GET', target), canonical, target);
    }
  });

  it('the deprecated /api/v1/proxy/ prefix never reaches a locked pod', async () => {
    tally.attempts++;
    const r = await send('GET', `/api/v1/proxy/namespaces/${L}/pods/p1/`);
    // The verb is `proxy`, not the pods/proxy subresource; the API server no longer serves it.
    expect([403, 404]).toContain(r.status);
    tally.blocked++;
  });

  it('a node proxy is held for approval (guardrail node-proxy)', async () => {
    const j = judge(await send('GET', `/api/v1/nodes/${cluster.nodeName}/proxy/pods`));
    tally.attempts++;
    tally.blocked++;
    expect(j).toMatchObject({ status: 403, rule: 'node-proxy' });
    expectRefusedOrSame(await send('GET', `/api/v1/nodes/${cluster.nodeName}:10250/proxy/pods`), j, 'node proxy with port');
  });
});

describe('verb and subresource confusion', () => {
  it('exec, attach and port-forward are denied whether GET (WebSocket), POST (SPDY), HEAD or a plain GET', async () => {
    const exec = `/api/v1/namespaces/${L}/pods/p1/exec?command=id&stdout=true`;
    const canonical = judge(await send('POST', exec, { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'v4.channel.k8s.io' }));
    expect(canonical.rule).toBe('locked-subresources');
    const ws = { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Protocol': 'v5.channel.k8s.io' };
    expectRefusedOrSame(await send('GET', exec, ws), canonical, 'exec via WebSocket GET');
    expectRefusedOrSame(await send('GET', exec), canonical, 'exec via plain GET');
    expectRefusedOrSame(await send('POST', exec), canonical, 'exec via plain POST');
    expectRefusedOrSame(await send('GET', `/api/v1/namespaces/${L}/pods/p1/attach?stdout=true`, ws), canonical, 'attach via WebSocket');
    expectRefusedOrSame(await send('GET', `/api/v1/namespaces/${L}/pods/p1/portforward?ports=80`, ws), canonical, 'portforward via WebSocket');
  });

  it('pods/ephemeralcontainers, pods/binding and serviceaccounts/token are their own subresources', async () => {
    const patch = JSON.stringify({ spec: { ephemeralContainers: [{ name: 'dbg', image: 'registry.invalid/app:1' }] } });
    const eph = judge(await send('PATCH', `/api/v1/namespaces/${L}/pods/p1/ephemeralcontainers`, { 'content-type': 'application/strategic-merge-patch+json' }, patch));
    expect(eph.rule).toBe('locked-subresources');
    const binding = judge(
      await send('POST', `/api/v1/namespaces/${L}/pods/p1/binding`, { 'content-type': 'application/json' }, JSON.stringify({ apiVersion: 'v1', kind: 'Binding', metadata: { name: 'p1' }, target: { kind: 'Node', name: cluster.nodeName } })),
    );
    expect(binding.rule).toBe('locked-subresources');
    const token = judge(
      await send('POST', `/api/v1/namespaces/${L}/serviceaccounts/sa1/token`, { 'content-type': 'application/json' }, JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} })),
    );
    expect(token.rule).toBe('locked-subresources');
    tally.attempts += 3;
    tally.blocked += 3;
    const p1 = await direct('GET', `/api/v1/namespaces/${L}/pods/p1`);
    expect((p1.json.spec as { ephemeralContainers?: unknown }).ephemeralContainers).toBeUndefined();
  });

  it('deletecollection, a namespace delete and a DELETE with DeleteOptions in the body are denied', async () => {
    const canonical = judge(await send('DELETE', `/api/v1/namespaces/${L}/configmaps/cm1`));
    expectRefusedOrSame(await send('DELETE', `/api/v1/namespaces/${L}/configmaps`), canonical, 'deletecollection');
    expectRefusedOrSame(await send('DELETE', `/api/v1/namespaces/${L}/configmaps?fieldSelector=metadata.name%3Dcm1`), canonical, 'deletecollection by field selector');
    expectRefusedOrSame(await send('DELETE', `/api/v1/namespaces/${L}`), canonical, 'namespace delete');
    expectRefusedOrSame(
      await send('DELETE', `/api/v1/namespaces/${L}/configmaps/cm1`, { 'content-type': 'application/json' }, JSON.stringify({ kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' })),
      canonical,
      'DELETE with DeleteOptions body',
    );
    // The API server honours no method override: a POST to an object is 405 there, and nothing is deleted.
    tally.attempts++;
    expect((await send('POST', `/api/v1/namespaces/${L}/configmaps/cm1`, { 'X-HTTP-Method-Override': 'DELETE' })).status).toBe(405);
    tally.blocked++;
    expect(await exists(`/api/v1/namespaces/${L}/configmaps/cm1`)).toBe(true);
    expect(await exists(`/api/v1/namespaces/${L}`)).toBe(true);
  });

  it('an eviction in a protected namespace is held like the delete it is (guardrail protected-evictions)', async () => {
    const canonical = judge(await send('DELETE', `/api/v1/namespaces/${P}/pods/pe`));
    expect(canonical).toMatchObject({ status: 403, rule: 'protected-deletes' });
    tally.attempts++;
    const eviction = JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'pe', namespace: P } });
    const j = judge(await send('POST', `/api/v1/namespaces/${P}/pods/pe/eviction`, { 'content-type': 'application/json' }, eviction));
    expect(j).toMatchObject({ status: 403, rule: 'protected-evictions' });
    tally.blocked++;
    expect(await exists(`/api/v1/namespaces/${P}/pods/pe`)).toBe(true);
  });

  it('kubectl debug (an ephemeral container) in a protected namespace is held like exec (guardrail protected-exec)', async () => {
    tally.attempts++;
    const patch = JSON.stringify({ spec: { ephemeralContainers: [{ name: 'dbg', image: 'registry.invalid/app:1', command: ['sh', '-c', 'cat /var/run/secrets/*'] }] } });
    const j = judge(await send('PATCH', `/api/v1/namespaces/${P}/pods/pe/ephemeralcontainers`, { 'content-type': 'application/strategic-merge-patch+json' }, patch));
    expect(j).toMatchObject({ status: 403, rule: 'protected-exec' });
    tally.blocked++;
    const pe = await direct('GET', `/api/v1/namespaces/${P}/pods/pe`);
    expect((pe.json.spec as { ephemeralContainers?: unknown }).ephemeralContainers).toBeUndefined();
  });

  it('an update of /status cannot change the spec the guardrails judge', async () => {
    tally.attempts++;
    const current = await direct('GET', `/api/v1/namespaces/${O}/pods/harmless`);
    const body = { ...current.json, spec: { ...(current.json.spec as object), containers: [{ name: 'c', image: 'registry.invalid/app:1', ...privileged }] } };
    await send('PUT', `/api/v1/namespaces/${O}/pods/harmless/status`, { 'content-type': 'application/json' }, JSON.stringify(body));
    const after = await direct('GET', `/api/v1/namespaces/${O}/pods/harmless`);
    expect(JSON.stringify(after.json.spec)).not.toContain('privileged');
    tally.blocked++;
  });

  it('scale changes only replicas and is judged as deployments/scale', async () => {
    tally.attempts++;
    await send('PATCH', `/apis/apps/v1/namespaces/${O}/deployments/dep/scale`, { 'content-type': 'application/merge-patch+json' }, JSON.stringify({ spec: { replicas: 0, template: template(privileged) } }));
    tally.blocked++;
    const after = await direct('GET', `/apis/apps/v1/namespaces/${O}/deployments/dep`);
    expect(JSON.stringify(after.json.spec)).not.toContain('privileged');
  });
});

describe('body tricks', () => {
  let review: Judgment;
  beforeAll(async () => {
    review = judge(await send('POST', `/api/v1/namespaces/${O}/pods`, { 'content-type': 'application/json' }, JSON.stringify(pod('canonical', privileged))));
  });

  it('holds the canonical privileged pod for approval', async () => {
    expect(review).toMatchObject({ status: 403, rule: 'privileged-containers' });
    expect(await exists(`/api/v1/namespaces/${O}/pods/canonical`)).toBe(false);
  });

  const create = async (name: string, contentType: string, body: Buffer | string, path = `/api/v1/namespaces/${O}/pods`): Promise<void> => {
    expectRefusedOrSame(await send('POST', path, { 'content-type': contentType }, body), review, name);
    expect(await exists(`/api/v1/namespaces/${O}/pods/${name}`), `${name} was created`).toBe(false);
    expect(await exists(`/api/v1/namespaces/${L}/pods/${name}`), `${name} was created in ${L}`).toBe(false);
  };

  it('duplicate JSON keys: Go merges a repeated object into the first, JSON.parse keeps only the last', async () => {
    const priv = JSON.stringify(pod('x', privileged).spec.containers);
    await create('dup-spec', 'application/json', `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"dup-spec"},"spec":{"containers":${priv}},"spec":{"restartPolicy":"Always"}}`);
    await create(
      'dup-sc',
      'application/json',
      `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"dup-sc"},"spec":{"containers":[{"name":"c","image":"registry.invalid/app:1","securityContext":{"privileged":true},"securityContext":{"runAsNonRoot":false}}]}}`,
    );
    await create('dup-escaped', 'application/json', `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"dup-escaped"},"spec":{"containers":${priv}},"sp\\u0065c":{"restartPolicy":"Always"}}`);
  });

  it('keys that differ only in case are different keys to both readers (the API server decodes case-sensitively)', async () => {
    const harmless = JSON.stringify(pod('x').spec.containers);
    const priv = JSON.stringify(pod('x', privileged).spec.containers);
    const bodies: [string, string][] = [
      ['case-spec', `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"case-spec"},"spec":{"containers":${harmless}},"Spec":{"containers":${priv}}}`],
      ['case-field', `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"case-field"},"spec":{"containers":[{"name":"c","image":"registry.invalid/app:1","securityContext":{"Privileged":true}}]}}`],
    ];
    for (const [name, body] of bodies) {
      tally.attempts++;
      await send('POST', `/api/v1/namespaces/${O}/pods`, { 'content-type': 'application/json' }, body);
      // Allowed as harmless is right only if what was stored is harmless.
      const stored = await direct('GET', `/api/v1/namespaces/${O}/pods/${name}`);
      if (stored.status === 200) expect(JSON.stringify(stored.json.spec), name).not.toMatch(/privileged/i);
      else tally.blocked++;
    }
  });

  it('YAML bodies are judged as the API server decodes them (YAML 1.1 booleans, merge keys)', async () => {
    const yaml = (name: string, sc: string) =>
      `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\nspec:\n  containers:\n  - name: c\n    image: registry.invalid/app:1\n    securityContext:\n${sc}\n`;
    await create('yaml-plain', 'application/yaml', yaml('yaml-plain', '      privileged: true'));
    await create('yaml-yes', 'application/yaml', yaml('yaml-yes', '      privileged: yes'));
    await create('yaml-on', 'application/yaml', yaml('yaml-on', '      privileged: On'));
    await create('yaml-merge', 'application/yaml', yaml('yaml-merge', '      <<: {privileged: true}'));
    await create('yaml-json', 'application/yaml', JSON.stringify(pod('yaml-json', privileged)));
  });

  it('lists, foreign namespaces and workload templates', async () => {
    await create('list-pod', 'application/json', JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [pod('list-pod', privileged)] }));
    await create('other-ns', 'application/json', JSON.stringify({ ...pod('other-ns', privileged), metadata: { name: 'other-ns', namespace: L } }));
    await create('no-ns', 'application/json', JSON.stringify({ ...pod('no-ns', privileged), metadata: { name: 'no-ns', namespace: O } }), '/api/v1/pods');
    tally.attempts++;
    const dep = judge(await send('POST', `/apis/apps/v1/namespaces/${O}/deployments`, { 'content-type': 'application/json' }, JSON.stringify(deployment('priv-dep', privileged))));
    expect(dep).toMatchObject({ status: 403, rule: 'privileged-containers' });
    tally.blocked++;
    expect(await exists(`/apis/apps/v1/namespaces/${O}/deployments/priv-dep`)).toBe(false);
  });

  it('every patch type on a Deployment is judged on the object it would produce', async () => {
    const path = `/apis/apps/v1/namespaces/${O}/deployments/dep`;
    const container = { name: 'c', image: 'registry.invalid/app:1', ...privileged };
    const patches: [string, string, string][] = [
      ['json patch', 'application/json-patch+json', JSON.stringify([{ op: 'add', path: '/spec/template/spec/containers/0/securityContext', value: { privileged: true } }])],
      [
        'json patch via copy',
        'application/json-patch+json',
        JSON.stringify([
          { op: 'add', path: '/spec/template/spec/initContainers', value: [] },
          { op: 'copy', from: '/spec/template/spec/containers/0', path: '/spec/template/spec/initContainers/0' },
          { op: 'replace', path: '/spec/template/spec/initContainers/0/name', value: 'i' },
          { op: 'add', path: '/spec/template/spec/initContainers/0/securityContext', value: { privileged: true } },
        ]),
      ],
      ['merge patch', 'application/merge-patch+json', JSON.stringify({ spec: { template: { spec: { containers: [container] } } } })],
      ['strategic merge', 'application/strategic-merge-patch+json', JSON.stringify({ spec: { template: { spec: { containers: [{ name: 'c', ...privileged }] } } } })],
      ['$patch: replace', 'application/strategic-merge-patch+json', JSON.stringify({ spec: { template: { spec: { containers: [container, { $patch: 'replace' }] } } } })],
      ['$retainKeys', 'application/strategic-merge-patch+json', JSON.stringify({ spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' }, template: { spec: { hostNetwork: true } } } })],
      ['$setElementOrder', 'application/strategic-merge-patch+json', JSON.stringify({ spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'c' }], containers: [{ name: 'c', ...privileged }] } } } })],
      ['apply (YAML)', 'application/apply-patch+yaml', stringify(deployment('dep', privileged))],
      ['apply (JSON in YAML)', 'application/apply-patch+yaml', JSON.stringify(deployment('dep', privileged))],
    ];
    for (const [label, contentType, body] of patches) {
      tally.attempts++;
      const query = label.startsWith('apply') ? '?fieldManager=agent&force=true' : '';
      const j = judge(await send('PATCH', path + query, { 'content-type': contentType }, body));
      expect(j.status, `${label}: ${JSON.stringify(j)}`).toBe(403);
      expect(['privileged-containers', 'host-namespaces'], label).toContain(j.rule);
      tally.blocked++;
    }
    const after = await direct('GET', path);
    const spec = JSON.stringify((after.json.spec as { template: unknown }).template);
    expect(spec).not.toContain('privileged');
    expect(spec).not.toContain('hostNetwork');
  });

  it('stringData is judged as the data the API server stores', async () => {
    const path = `/api/v1/namespaces/${O}/secrets`;
    const secret = (name: string, extra: Record<string, unknown>) => JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name }, ...extra });
    const canonical = judge(await send('POST', path, { 'content-type': 'application/json' }, secret('sd-canonical', { data: { forbidden: 'eA==' } })));
    expect(canonical.rule).toBe('forbidden-secret-key');
    expectRefusedOrSame(await send('POST', path, { 'content-type': 'application/json' }, secret('sd-string', { stringData: { forbidden: 'x' } })), canonical, 'stringData');
    expectRefusedOrSame(await send('POST', path, { 'content-type': 'application/json' }, secret('sd-both', { data: { ok: 'eA==' }, stringData: { forbidden: 'x' } })), canonical, 'data and stringData');
    expectRefusedOrSame(await send('POST', path, { 'content-type': 'application/yaml' }, `apiVersion: v1\nkind: Secret\nmetadata: {name: sd-yaml}\nstringData: {forbidden: x}\n`), canonical, 'stringData in YAML');
    for (const name of ['sd-canonical', 'sd-string', 'sd-both', 'sd-yaml']) expect(await exists(`${path}/${name}`), name).toBe(false);
  });

  it('the deprecated serviceAccount alias is judged as the serviceAccountName the API server stores', async () => {
    // The premise, read from the API server itself: the alias is stored as serviceAccountName.
    const probe = await direct('POST', `/api/v1/namespaces/${O}/pods?dryRun=All`, pod('alias-probe', {}, { serviceAccount: 'forbidden-sa' }));
    expect((probe.json.spec as { serviceAccountName?: string }).serviceAccountName).toBe('forbidden-sa');
    const path = `/api/v1/namespaces/${O}/pods`;
    const canonical = judge(await send('POST', path, { 'content-type': 'application/json' }, JSON.stringify(pod('sa-canonical', {}, { serviceAccountName: 'forbidden-sa' }))));
    expect(canonical.rule).toBe('forbidden-service-account');
    expectRefusedOrSame(await send('POST', path, { 'content-type': 'application/json' }, JSON.stringify(pod('sa-alias', {}, { serviceAccount: 'forbidden-sa' }))), canonical, 'pod alias');
    expectRefusedOrSame(
      await send('POST', `/apis/apps/v1/namespaces/${O}/deployments`, { 'content-type': 'application/json' }, JSON.stringify(deployment('sa-dep', {}, { serviceAccount: 'forbidden-sa' }))),
      canonical,
      'deployment template alias',
    );
    expectRefusedOrSame(
      await send('PATCH', `/apis/apps/v1/namespaces/${O}/deployments/dep`, { 'content-type': 'application/merge-patch+json' }, JSON.stringify({ spec: { template: { spec: { serviceAccount: 'forbidden-sa' } } } })),
      canonical,
      'patched alias',
    );
    expect(await exists(`${path}/sa-alias`)).toBe(false);
    expect(await exists(`/apis/apps/v1/namespaces/${O}/deployments/sa-dep`)).toBe(false);
  });

  it('protobuf, huge, deeply nested and invalid UTF-8 bodies', async () => {
    await create('proto', 'application/vnd.kubernetes.protobuf', JSON.stringify(pod('proto', privileged)));
    const huge = JSON.stringify({ ...pod('huge', privileged), metadata: { name: 'huge', annotations: { pad: 'x'.repeat(4 * 1024 * 1024) } } });
    await create('huge', 'application/json', huge);
    const deep = JSON.stringify(pod('deep', privileged)).replace('"spec":{', `"spec":{"x":${'['.repeat(100_000)}${']'.repeat(100_000)},`);
    await create('deep', 'application/json', deep);
    const utf8 = Buffer.concat([Buffer.from(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"bad-utf8","annotations":{"a":"`), Buffer.from([0xff, 0xfe, 0xc0, 0x80]), Buffer.from(`"}},"spec":${JSON.stringify(pod('x', privileged).spec)}}`)]);
    await create('bad-utf8', 'application/json', utf8);
    // The gateway is still up and judging.
    expect(judge(await send('GET', `/api/v1/namespaces/${L}/secrets/s1`)).rule).toBe('locked-secret-reads');
  });

  it('a write that asks for an upgrade is not forwarded with its body', async () => {
    tally.attempts++;
    const body = JSON.stringify(pod('upgrade-pod', privileged));
    await send('POST', `/api/v1/namespaces/${O}/pods`, { 'content-type': 'application/json', Connection: 'Upgrade', Upgrade: 'websocket' }, body, 5000);
    expect(await exists(`/api/v1/namespaces/${O}/pods/upgrade-pod`)).toBe(false);
    tally.blocked++;
  });
});

describe('masked Secret reads in every representation', () => {
  const plainBody = (r: RawReply): string => (r.headers['content-encoding'] === 'gzip' && r.body.length > 0 ? gunzipSync(r.body) : r.body).toString('latin1');
  const table = 'application/json;as=Table;g=meta.k8s.io;v=v1';
  const partial = (kind: string) => `application/json;as=${kind};g=meta.k8s.io;v=v1`;
  const attempts = (): [string, string, Record<string, string>][] => [
    ['canonical get', `/api/v1/namespaces/${O}/secrets/s2`, {}],
    ['protobuf', `/api/v1/namespaces/${O}/secrets/s2`, { Accept: 'application/vnd.kubernetes.protobuf' }],
    ['yaml', `/api/v1/namespaces/${O}/secrets/s2`, { Accept: 'application/yaml' }],
    ['cbor', `/api/v1/namespaces/${O}/secrets/s2`, { Accept: 'application/cbor' }],
    ['gzip', `/api/v1/namespaces/${O}/secrets/s2`, { 'Accept-Encoding': 'gzip' }],
    ['table with objects', `/api/v1/namespaces/${O}/secrets/s2?includeObject=Object`, { Accept: table }],
    ['table list with objects', `/api/v1/namespaces/${O}/secrets?includeObject=Object`, { Accept: table }],
    ['partial metadata', `/api/v1/namespaces/${O}/secrets/s2`, { Accept: partial('PartialObjectMetadata') }],
    ['partial metadata list', `/api/v1/namespaces/${O}/secrets`, { Accept: partial('PartialObjectMetadataList') }],
    ['list', `/api/v1/namespaces/${O}/secrets`, {}],
    ['list by field selector', `/api/v1/namespaces/${O}/secrets?fieldSelector=metadata.name%3Ds2`, {}],
    ['watch', `/api/v1/namespaces/${O}/secrets?watch=1`, {}],
    ['watch one by field selector', `/api/v1/namespaces/${O}/secrets?watch=1&fieldSelector=metadata.name%3Ds2`, {}],
    ['watch as table', `/api/v1/namespaces/${O}/secrets?watch=1&includeObject=Object`, { Accept: table }],
  ];

  it('no representation carries the value in clear or in base64', async () => {
    for (const [label, target, headers] of attempts()) {
      tally.attempts++;
      const r = await send('GET', target, headers, undefined, 3000);
      const body = plainBody(r);
      expect(body, label).not.toContain(SECRET_B64);
      expect(body, label).not.toContain(SECRET_PLAIN);
      if (label === 'canonical get') expect(r.status).toBe(200);
      tally.blocked++;
    }
  });
});

describe('approval grants', () => {
  it('a grant does not cover the same request with a repeated parameter reordered (Go reads them in order)', async () => {
    const approver = await identity(gateway, 'alice', O, { kind: 'human', groups: 'gatehouse:approvers' });
    const body = JSON.stringify(pod('granted', privileged));
    const path = `/api/v1/namespaces/${O}/pods`;
    const held = await send('POST', `${path}?fieldManager=first&fieldManager=second`, { 'content-type': 'application/json' }, body);
    expect(judge(held)).toMatchObject({ status: 403, rule: 'privileged-containers' });
    const id = /(apr_[\w-]+)/.exec(held.body.toString('utf8'))?.[1];
    expect(id).toBeDefined();
    const approved = await approver.approvals(['approve', id!, '-m', 'first, then second']);
    expect(approved.code, approved.stderr).toBe(0);

    tally.attempts++;
    const replay = await send('POST', `${path}?fieldManager=second&fieldManager=first`, { 'content-type': 'application/json' }, body);
    expect(judge(replay)).toMatchObject({ status: 403, rule: 'privileged-containers' });
    expect(await exists(`${path}/granted`)).toBe(false);
    tally.blocked++;

    // The approved request itself goes through, as approved.
    expect((await send('POST', `${path}?fieldManager=first&fieldManager=second`, { 'content-type': 'application/json' }, body)).status).toBe(201);
    const stored = await direct('GET', `${path}/granted`);
    expect(JSON.stringify((stored.json.metadata as { managedFields: unknown }).managedFields)).toContain('"manager":"first"');
  });
});

describe('smuggling on one connection', () => {
  it('a refused upgrade closes the connection, so a pipelined request behind it never reaches the API server', async () => {
    tally.attempts++;
    const first = httpRequest('GET', '/version', { ...auth, Connection: 'Upgrade', Upgrade: 'websocket' }).toString('latin1').replace('Connection: close\r\n', '');
    const second = `DELETE /api/v1/namespaces/${L}/configmaps/cm1 HTTP/1.1\r\nHost: x\r\n\r\n`;
    await sendRaw(gateway.url, caPem, first + second, 5000);
    expect(await exists(`/api/v1/namespaces/${L}/configmaps/cm1`)).toBe(true);
    tally.blocked++;
  });

  it('keep-alive pipelining: every request on the connection passes the pipeline', async () => {
    tally.attempts++;
    const one = `GET /version HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gateway.adminToken}\r\n\r\n`;
    const two = `DELETE /api/v1/namespaces/${L}/configmaps/cm1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gateway.adminToken}\r\nConnection: close\r\n\r\n`;
    const r = await sendRaw(gateway.url, caPem, one + two, 5000, true);
    expect(r.body.toString('utf8')).toContain('locked-deletes');
    expect(await exists(`/api/v1/namespaces/${L}/configmaps/cm1`)).toBe(true);
    tally.blocked++;
  });

  it('a body of unknown length is framed upstream: a request hidden in it never reaches the API server', async () => {
    // Without framing, the body's bytes follow the carrier on the gateway's connection to the API server, and the
    // hidden request runs as the gateway's credential (here a client certificate: the connection is the identity).
    const hidden = `DELETE /api/v1/namespaces/${L}/configmaps/cm1 HTTP/1.1\r\nHost: x\r\n\r\n`;
    const chunked = Buffer.from(`${hidden.length.toString(16)}\r\n${hidden}\r\n0\r\n\r\n`, 'latin1');
    for (const [method, target] of [
      ['GET', `/api/v1/namespaces/${O}/configmaps`],
      ['DELETE', `/api/v1/namespaces/${O}/configmaps/absent-${suffix}`],
      ['OPTIONS', `/api/v1/namespaces/${O}/configmaps`],
    ] as const) {
      tally.attempts++;
      const head = httpRequest(method, target, { ...auth, 'Transfer-Encoding': 'chunked' });
      const r = await sendRaw(gateway.url, caPem, Buffer.concat([head, chunked]), 5000);
      expect(r.status, `${method} carrier`).toBeGreaterThan(0);
      expect(await exists(`/api/v1/namespaces/${L}/configmaps/cm1`), `${method} carrier`).toBe(true);
      tally.blocked++;
    }
    // HTTP/2 has no chunks: a body without Content-Length has no length at all until its stream ends.
    tally.attempts++;
    const session = http2.connect(gateway.url, { ca: caPem });
    try {
      const stream = session.request({ ':method': 'DELETE', ':path': `/api/v1/namespaces/${O}/configmaps/absent-${suffix}`, ...auth }, { endStream: false });
      stream.end(hidden);
      stream.resume();
      const status = await new Promise<number>((resolve, reject) => {
        stream.once('response', (headers) => resolve(Number(headers[':status'])));
        stream.once('error', reject);
      });
      expect(status, 'HTTP/2 DELETE carrier').toBeGreaterThan(0);
      await new Promise((resolve) => stream.once('close', resolve));
    } finally {
      session.close();
    }
    expect(await exists(`/api/v1/namespaces/${L}/configmaps/cm1`), 'HTTP/2 DELETE carrier').toBe(true);
    tally.blocked++;
  });

  it('Content-Length with Transfer-Encoding is refused', async () => {
    tally.attempts++;
    const raw = `POST /api/v1/namespaces/${O}/pods HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gateway.adminToken}\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`;
    const r = await sendRaw(gateway.url, caPem, raw, 5000);
    // Node's parser refuses it; the connection is answered 400 or just closed.
    expect([0, 400]).toContain(r.status);
    tally.blocked++;
  });
});

describe('identity tricks', () => {
  const selfReview = JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' });
  const whoami = (headers: Record<string, string>) =>
    sendRaw(gateway.url, caPem, httpRequest('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { 'content-type': 'application/json', ...headers }, selfReview));
  const unauthenticated = (r: RawReply, label: string): void => {
    tally.attempts++;
    expect([400, 401], `${label}: ${r.body.toString('utf8').slice(0, 200)}`).toContain(r.status);
    tally.blocked++;
  };

  it('the canonical request runs as the gateway-authenticated principal', async () => {
    expect((await whoami(auth)).status).toBe(201);
  });

  it('client Impersonate-* headers are refused, in any case and on any write', async () => {
    const attempts: Record<string, string>[] = [{ 'Impersonate-User': 'system:admin' }, { 'impersonate-group': 'system:masters' }, { 'IMPERSONATE-UID': '1' }, { 'Impersonate-Extra-scopes': 'x' }];
    for (const h of attempts) {
      tally.attempts++;
      const r = await whoami({ ...auth, ...h });
      expect(judge(r)).toMatchObject({ status: 403, code: 'GH_IMPERSONATION_REFUSED' });
      tally.blocked++;
    }
  });

  it('tokens anywhere but a Bearer Authorization header are not accepted', async () => {
    unauthenticated(await whoami({}), 'no token');
    unauthenticated(await sendRaw(gateway.url, caPem, httpRequest('GET', `/api/v1/namespaces?access_token=${gateway.adminToken}`, {})), 'access_token query');
    unauthenticated(await whoami({ Authorization: `Basic ${Buffer.from(`admin:${gateway.adminToken}`).toString('base64')}` }), 'Basic');
    unauthenticated(await whoami({ Authorization: `Token ${gateway.adminToken}` }), 'Token scheme');
    unauthenticated(await whoami({ Authorization: `Bearer ${gateway.adminToken} extra` }), 'trailing junk');
    unauthenticated(await whoami({ Authorization: `Bearer ${gateway.adminToken}x` }), 'tampered');
    unauthenticated(await whoami({ Authorization: 'Bearer gh_0000000000000000000000000000000000' }), 'forged');
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"sub":"admin","exp":9999999999}').toString('base64url')}.`;
    unauthenticated(await whoami({ Authorization: `Bearer ${none}` }), 'alg none JWT');
  });

  it('the first of two Authorization headers decides, and a bad first one is not rescued by a good second', async () => {
    const raw = (first: string, second: string) =>
      `POST /apis/authentication.k8s.io/v1/selfsubjectreviews HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nAuthorization: ${first}\r\nAuthorization: ${second}\r\nContent-Length: ${selfReview.length}\r\n\r\n${selfReview}`;
    unauthenticated(await sendRaw(gateway.url, caPem, raw('Bearer forged', `Bearer ${gateway.adminToken}`)), 'bad first');
  });

  it('lowercase bearer is accepted, as the API server accepts it', async () => {
    expect((await whoami({ Authorization: `bearer ${gateway.adminToken}` })).status).toBe(201);
  });

  it('CR/LF and obs-fold header injection cannot smuggle an Impersonate header past the guard', async () => {
    const inject = (line: string) =>
      `POST /apis/authentication.k8s.io/v1/selfsubjectreviews HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nAuthorization: Bearer ${gateway.adminToken}\r\n${line}\r\nContent-Length: ${selfReview.length}\r\n\r\n${selfReview}`;
    for (const line of ['X-A: a\nImpersonate-User: system:admin', 'X-A: a\r\n Impersonate-User: system:admin', 'X-A: a\rImpersonate-User: system:admin', 'Impersonate-User : system:admin']) {
      tally.attempts++;
      const r = await sendRaw(gateway.url, caPem, inject(line));
      // Either the parser refuses the header block (400, or the connection is closed), or the guard sees the header.
      expect([0, 400, 403], JSON.stringify(line)).toContain(r.status);
      tally.blocked++;
    }
  });
});
