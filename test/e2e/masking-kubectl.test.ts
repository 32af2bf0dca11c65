import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { appendPodLog } from '../../src/harness/index.js';
import { MASK_BASE64, MASK_TEXT } from '../../src/masking/index.js';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { startLongRunning } from './helpers/long-running.js';
import { kubectlFor, run } from './helpers/run.js';
import { sessionToken } from './helpers/session-masking.js';
import type { Kubectl } from './helpers/run.js';

// Issue 7's end-to-end scenarios, as named: real kubectl (and a Node.js watch
// client) through the gateway on the real API server. The guardrails mask
// Secret reads; a team policy masks pod reads, logs and Services in this
// namespace. None of the outputs shows the planted value, raw or base64; the
// audit records say masking happened and never hold the value; what has
// nothing to mask is byte for byte what the API server sent.
const cluster = inject('cluster');
const ns = `maskkc-${randomBytes(3).toString('hex')}`;
const value = `pl4nted-${randomBytes(6).toString('hex')}`;
const value64 = Buffer.from(value).toString('base64');
const token = sessionToken();
let gateway: GatewayProcess;
let direct: Kubectl;
let via: Kubectl;

const secret = (name: string, v: string) => JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns }, stringData: { password: v } });

/** True when `text` shows the planted value (raw or base64) or the token. */
const leaks = (text: string): boolean => text.includes(value) || text.includes(value64) || text.includes(token.slice(4));

beforeAll(async () => {
  direct = kubectlFor(cluster.adminKubeconfig);
  await direct.ok(['create', 'namespace', ns]);
  const policy = join(cluster.workDir, `${ns}-mask-pods.yaml`);
  writeFileSync(
    policy,
    stringify({
      apiVersion: 'gatehouse.dev/v1alpha1',
      kind: 'Policy',
      metadata: { name: 'mask-pods' },
      spec: {
        rules: [
          {
            name: 'mask-pod-reads',
            match: { verbs: ['get', 'list', 'watch'], namespaces: [ns], resources: ['pods', 'pods/log', 'services'].map((resource) => ({ group: '', resource })) },
            action: 'mask',
            message: 'pod specs, logs and services are masked',
          },
        ],
      },
    }),
  );
  gateway = await startGatewayProcess(cluster.adminKubeconfig, ['--policy', policy]);
  via = kubectlFor(gateway.adminKubeconfig);
  // Applied directly, so the last-applied annotation holds the value too.
  await direct.ok(['apply', '-f', '-'], { input: secret('creds', value) });
  await direct.ok(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'app', namespace: ns },
      spec: { containers: [{ name: 'c', image: 'registry.invalid/app:1', env: [{ name: 'DB_PASSWORD', value }, { name: 'MODE', value: 'plain' }] }] },
    }),
  });
  await direct.ok(['-n', ns, 'wait', '--for=condition=Ready', 'pod/app', '--timeout=90s'], { timeoutMs: 100_000 });
}, 150_000);
afterAll(async () => {
  await direct?.(['delete', 'namespace', ns, '--wait=false']);
  await gateway?.stop();
});

describe('kubectl through the gateway never shows the planted secret', () => {
  it('get secret -o yaml', async () => {
    const out = await via.ok(['-n', ns, 'get', 'secret', 'creds', '-o', 'yaml']);
    expect(out).toContain(`password: ${MASK_BASE64}`);
    expect(out).toContain('kubectl.kubernetes.io/last-applied-configuration');
    expect(leaks(out)).toBe(false);
    // The direct view is untouched.
    expect(leaks(await direct.ok(['-n', ns, 'get', 'secret', 'creds', '-o', 'yaml']))).toBe(true);
  });

  it('get secret -o json', async () => {
    const out = await via.ok(['-n', ns, 'get', 'secret', 'creds', '-o', 'json']);
    expect((JSON.parse(out) as { data: Record<string, string> }).data).toEqual({ password: MASK_BASE64 });
    expect(leaks(out)).toBe(false);
  });

  it('get secrets (table)', async () => {
    const out = await via.ok(['-n', ns, 'get', 'secrets']);
    expect(out).toMatch(/creds\s+Opaque\s+1\s/);
    expect(leaks(out)).toBe(false);
  });

  it('describe secret', async () => {
    const out = await via.ok(['-n', ns, 'describe', 'secret', 'creds']);
    expect(out).toMatch(new RegExp(`password:\\s+${MASK_TEXT.length} bytes`));
    expect(leaks(out)).toBe(false);
    expect(await direct.ok(['-n', ns, 'describe', 'secret', 'creds'])).toMatch(new RegExp(`password:\\s+${value.length} bytes`));
  });

  it('get secret -w, while a Secret is created and updated', async () => {
    const watch = startLongRunning('kubectl', ['-n', ns, 'get', 'secret', '-w', '-o', 'yaml'], { KUBECONFIG: gateway.adminKubeconfig });
    try {
      await watch.nextLine(/name: creds/);
      await direct.ok(['apply', '-f', '-'], { input: secret('watched', `${value}-new`) });
      await direct.ok(['apply', '-f', '-'], { input: secret('watched', `${value}-updated`) });
      // Two objects named watched (added, modified): both versions have passed by.
      await watch.nextLine(/^\s+name: watched$/);
      while (watch.lines().filter((l) => /^\s+name: watched$/.test(l)).length < 2) await new Promise((resolve) => setTimeout(resolve, 100));
      const out = watch.lines().join('\n');
      expect(out).toContain(`password: ${MASK_BASE64}`);
      expect(leaks(out)).toBe(false);
    } finally {
      watch.stop();
    }
  });

  it('get pod -o yaml, with a sensitive env value', async () => {
    const out = await via.ok(['-n', ns, 'get', 'pod', 'app', '-o', 'yaml']);
    expect(out).toMatch(new RegExp(`- name: DB_PASSWORD\\n\\s+value: ${MASK_TEXT}`));
    expect(out).toMatch(/- name: MODE\n\s+value: plain/);
    expect(leaks(out)).toBe(false);
  });

  it('logs of a pod printing a token', async () => {
    // kwok runs no containers: every pod's log is the harness's log file (test/e2e/helpers/scenarios.ts does the same).
    const marker = `mask-${randomBytes(4).toString('hex')}`;
    await appendPodLog(cluster, `${marker} cloning with ${token}`);
    const out = await via.ok(['-n', ns, 'logs', 'app']);
    expect(out).toContain(`${marker} cloning with <masked:github-token>\n`);
    expect(leaks(out)).toBe(false);
    expect(await direct.ok(['-n', ns, 'logs', 'app'])).toContain(token);
  });

  it('a paginated list (--chunk-size): every page is masked', async () => {
    for (let i = 0; i < 5; i++) await direct.ok(['apply', '-f', '-'], { input: secret(`page-${i}`, `${value}-${i}`) });
    const out = await via.ok(['-n', ns, 'get', 'secrets', '--chunk-size=2', '-o', 'json']);
    const list = JSON.parse(out) as { items: { metadata: { name: string }; data?: Record<string, string> }[] };
    const pages = list.items.filter((i) => i.metadata.name.startsWith('page-'));
    expect(pages).toHaveLength(5);
    for (const item of list.items) if (item.data) expect(item.data).toEqual({ password: MASK_BASE64 });
    expect(leaks(out)).toBe(false);
  });

  it('a client-node style watch (plain https, ?watch=1) of Secrets', async () => {
    await direct.ok(['apply', '-f', '-'], { input: secret('client-node', `${value}-cn`) });
    // A watch without a resourceVersion starts with an ADDED event per Secret; timeoutSeconds lets the API server end it,
    // as informers ask it to.
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(`${gateway.url}/api/v1/namespaces/${ns}/secrets?watch=1&timeoutSeconds=1`, {
        headers: { authorization: `Bearer ${gateway.adminToken}`, accept: 'application/json' },
        ca: readFileSync(join(gateway.dataDir, 'ca.crt'), 'utf8'),
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString()) : reject(new Error(`status ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end();
    });
    // Newline-delimited JSON events, as @kubernetes/client-node splits them.
    const events = body
      .trimEnd()
      .split('\n')
      .map((e) => JSON.parse(e) as { type: string; object: { metadata: { name: string }; data: Record<string, string> } });
    expect(events.map((e) => e.object.metadata.name)).toEqual(expect.arrayContaining(['creds', 'watched', 'client-node']));
    for (const e of events) expect(e.object.data).toEqual({ password: MASK_BASE64 });
    expect(leaks(body)).toBe(false);
  });
});

interface Event {
  request: { verb: string; resource: string; subresource: string; name: string; query: string };
  decision?: { action: string };
  bodies: { masked: boolean };
}

/** This namespace's audit events once `ready` holds for them (reads are recorded in the background). */
async function auditEvents(ready: (events: Event[]) => boolean): Promise<{ events: Event[]; raw: string }> {
  let events: Event[] = [];
  for (let i = 0; i < 50; i++) {
    const r = await run(process.execPath, ['bin/gatehouse.js', 'audit', 'search', '--namespace', ns, '--json', '--limit', '1000', '--data-dir', gateway.dataDir]);
    events = (JSON.parse(r.stdout) as { event: Event }[]).map((row) => row.event);
    if (ready(events)) return { events, raw: r.stdout };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the audit records never got complete: ${JSON.stringify(events.map((e) => e.request))}`);
}

describe('a masked value written back', () => {
  it('is refused, replace and server-side apply alike, and the real value stays; a change of other fields passes', async () => {
    const masked = await via.ok(['-n', ns, 'get', 'secret', 'creds', '-o', 'yaml']);
    expect(masked).toContain(`password: ${MASK_BASE64}`);
    for (const args of [['replace', '-f', '-'], ['apply', '--server-side', '--force-conflicts', '-f', '-']]) {
      const refused = await via(args, { input: masked });
      expect(refused.code, args.join(' ')).not.toBe(0);
      // Both the value and the last-applied annotation (which records it) are named.
      expect(refused.stderr).toMatch(/^Error from server \(BadRequest\): .*the request would store a value Gatehouse masked \(at data\.password, metadata\.annotations\["kubectl\.kubernetes\.io\/last-applied-configuration"\]\)/);
    }
    expect(leaks(await direct.ok(['-n', ns, 'get', 'secret', 'creds', '-o', 'yaml']))).toBe(true);
    await via.ok(['-n', ns, 'label', 'secret', 'creds', 'checked=yes']);
    expect(await direct.ok(['-n', ns, 'get', 'secret', 'creds', '-o', 'jsonpath={.metadata.labels.checked} {.data.password}'])).toBe(`yes ${value64}`);
  });
});

describe('the audit record', () => {
  it('shows that masking happened, and never the value', async () => {
    const of = (events: Event[], resource: string, verb: string, subresource = '') =>
      events.filter((e) => e.request.resource === resource && e.request.verb === verb && e.request.subresource === subresource);
    const { events, raw } = await auditEvents((all) => of(all, 'secrets', 'watch').length >= 2 && of(all, 'pods', 'get', 'log').length >= 1 && of(all, 'secrets', 'list').some((e) => e.request.query.includes('continue=')));
    const masked = (list: Event[]) => list.length > 0 && list.every((e) => e.decision?.action === 'mask' && e.bodies.masked);
    expect(masked(of(events, 'secrets', 'get').filter((e) => e.request.name === 'creds'))).toBe(true);
    expect(masked(of(events, 'pods', 'get').filter((e) => e.request.name === 'app'))).toBe(true);
    expect(masked(of(events, 'pods', 'get', 'log'))).toBe(true);
    // Every page of the --chunk-size list: the first (limit=2) and each continue.
    const pages = of(events, 'secrets', 'list').filter((e) => e.request.query.includes('limit=2'));
    expect(pages.length).toBeGreaterThanOrEqual(4);
    expect(pages.filter((e) => e.request.query.includes('continue=')).length).toBeGreaterThanOrEqual(3);
    expect(masked(pages)).toBe(true);
    // Both watches saw Secrets: the Node.js client's, which the API server ended, and kubectl -w's, which its client cut off.
    const watches = of(events, 'secrets', 'watch');
    expect(masked(watches)).toBe(true);
    expect(watches.some((e) => e.request.query.includes('timeoutSeconds=1'))).toBe(true);
    expect(watches.some((e) => !e.request.query.includes('timeoutSeconds=1'))).toBe(true);
    expect(leaks(raw)).toBe(false);
    // Nor anywhere in the store: the database and its write-ahead log, byte for byte.
    for (const file of readdirSync(gateway.dataDir).filter((f) => f.startsWith('gatehouse.db'))) {
      const bytes = readFileSync(join(gateway.dataDir, file));
      expect(bytes.includes(value), file).toBe(false);
      expect(bytes.includes(value64), file).toBe(false);
      expect(bytes.includes(token.slice(4)), file).toBe(false);
    }
  });
});

describe('what has nothing to mask', () => {
  // At an exact resourceVersion a LIST is the same whatever else the cluster wrote in between.
  const identical = async (resource: string, name: string) => {
    const base = `/api/v1/namespaces/${ns}/${resource}`;
    const first = JSON.parse(await direct.ok(['get', '--raw', base])) as { metadata: { resourceVersion: string } };
    for (const path of [`${base}/${name}`, `${base}?resourceVersion=${first.metadata.resourceVersion}&resourceVersionMatch=Exact`]) {
      const [a, b] = await Promise.all([direct.ok(['get', '--raw', path]), via.ok(['get', '--raw', path])]);
      expect(b, path).toBe(a);
      expect(a, path).toContain(name);
    }
  };

  it('a kind policy does not mask is byte-identical through the gateway and direct, GET and LIST', async () => {
    await direct.ok(['-n', ns, 'create', 'configmap', 'settings', '--from-literal=mode=plain', '--from-literal=region=eu-west-1']);
    await identical('configmaps', 'settings');
  });

  it('a kind policy masks, with nothing sensitive in it, is byte-identical too', async () => {
    await direct.ok(['-n', ns, 'create', 'service', 'clusterip', 'web', '--tcp=80:8080']);
    await identical('services', 'web');
  });
});
