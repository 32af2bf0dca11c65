import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, constants } from 'node:http2';
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { recordedChunks, storedStreamBytes } from './helpers/audit-store.js';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { kubectlFor, run } from './helpers/run.js';
import type { Kubectl } from './helpers/run.js';
import { waitFor } from './helpers/wait.js';
import { watchEvents } from './helpers/watch-events.js';

// The gateway offers HTTP/2 as kube-apiserver does: kubectl and client-go multiplex their requests and watches on
// one connection, and still upgrade (exec, attach, port-forward) over HTTP/1.1.
const cluster = inject('cluster');
const ns = `h2-${randomBytes(3).toString('hex')}`;
const METRICS_TOKEN = randomBytes(16).toString('hex');
let gateway: GatewayProcess;
let caPem: string;
let direct: Kubectl;
let session: ClientHttp2Session;

function configFile(name: string, content: object): string {
  const path = join(tmpdir(), `gatehouse-${name}-${ns}.yaml`);
  writeFileSync(path, stringify(content));
  return path;
}

beforeAll(async () => {
  direct = kubectlFor(cluster.adminKubeconfig);
  await direct.ok(['create', 'namespace', ns]);
  await direct.ok(['-n', ns, 'create', 'configmap', 'plain', '--from-literal=colour=blue']);
  await direct.ok(['-n', ns, 'create', 'secret', 'generic', 'db', '--from-literal=password=hunter2-h2']);
  gateway = await startGatewayProcess(cluster.adminKubeconfig, ['--config', configFile('h2', { metrics: { token: METRICS_TOKEN } })]);
  caPem = readFileSync(join(gateway.dataDir, 'ca.crt'), 'utf8');
  session = connect(gateway.url, { ca: caPem });
});
afterAll(async () => {
  session?.destroy();
  await direct?.(['delete', 'namespace', ns, '--wait=false']);
  await gateway?.stop();
});

interface Answer {
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request on the shared HTTP/2 connection; resolves with the whole answer. */
function get(path: string, token: string | undefined = gateway.adminToken): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), accept: 'application/json' });
    let body = '';
    let headers: IncomingHttpHeaders = {};
    stream.on('response', (h) => (headers = h));
    stream.setEncoding('utf8').on('data', (d: string) => (body += d));
    stream.on('end', () => resolve({ headers, body }));
    stream.on('error', reject);
    stream.end();
  });
}

/** The value of one sample of the gateway's metrics, scraped over the same HTTP/2 connection. */
async function metric(sample: string): Promise<number> {
  const { body } = await get('/metrics', METRICS_TOKEN);
  const line = body.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}

/** A watch of `collection` from the resourceVersion of a LIST of it now, as after a relist. */
async function watchPathFromNow(collection: string): Promise<string> {
  const list = JSON.parse((await get(collection)).body) as { metadata: { resourceVersion: string } };
  return `${collection}?watch=1&resourceVersion=${list.metadata.resourceVersion}`;
}

/** One watch on the shared HTTP/2 connection, as the admin; what it got so far is in the returned object. */
function openWatch(path: string, userAgent = 'gateway-http2-test') {
  const stream = session.request({ ':path': path, authorization: `Bearer ${gateway.adminToken}`, accept: 'application/json', 'user-agent': userAgent });
  const client = { stream, text: '', ended: false, status: 0 };
  stream.on('response', (h) => (client.status = Number(h[':status'])));
  stream.setEncoding('utf8').on('data', (d: string) => (client.text += d));
  stream.on('end', () => (client.ended = true));
  stream.end();
  return client;
}

interface Recorded {
  request: { verb: string };
  result: { status: number; cut?: string };
  stream?: { kind: string; sessionId: string };
}

/** A namespace's audit records (this file's, unless told). */
async function auditRecords(namespace = ns): Promise<Recorded[]> {
  const r = await run(process.execPath, ['bin/gatehouse.js', 'audit', 'search', '--namespace', namespace, '--json', '--limit', '1000', '--data-dir', gateway.dataDir]);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { event: Recorded }[]).map((row) => row.event);
}

/** The access log line of the request whose path ends with `suffix`. */
function accessLine(suffix: string): { http: string; status: number } | undefined {
  const line = gateway
    .stderr()
    .split('\n')
    .find((l) => l.includes('"msg":"access"') && l.includes(`${suffix}"`));
  return line === undefined ? undefined : (JSON.parse(line) as { http: string; status: number });
}

describe('HTTP/2 towards clients', () => {
  it('is what kubectl speaks to the gateway, as to the API server', async () => {
    const kubectl = kubectlFor(gateway.adminKubeconfig);
    expect(await kubectl.ok(['-n', ns, 'get', 'configmap', 'plain', '-o', 'jsonpath={.data.colour}'])).toBe('blue');
    const line = await waitFor('the access log line', () => accessLine(`/namespaces/${ns}/configmaps/plain`));
    expect(line).toMatchObject({ http: '2.0', status: 200 });
  });

  it('answers GETs, masks Secrets and refuses with a Status on one multiplexed connection', async () => {
    const [plain, secret, refused] = await Promise.all([
      get(`/api/v1/namespaces/${ns}/configmaps/plain`),
      get(`/api/v1/namespaces/${ns}/secrets/db`),
      get(`/api/v1/namespaces/${ns}/configmaps/plain`, 'not-a-token'),
    ]);
    expect(plain.headers[':status']).toBe(200);
    expect((JSON.parse(plain.body) as { data: Record<string, string> }).data).toEqual({ colour: 'blue' });
    expect(plain.headers['audit-id']).toMatch(/^[0-9a-f-]{36}$/);
    // No HTTP/1.1 framing leaks into an HTTP/2 answer (Node refuses to send one that has it).
    expect(plain.headers['transfer-encoding']).toBeUndefined();
    expect(plain.headers.connection).toBeUndefined();

    expect(secret.headers[':status']).toBe(200);
    const password = (JSON.parse(secret.body) as { data: Record<string, string> }).data.password!;
    expect(Buffer.from(password, 'base64').toString()).not.toContain('hunter2-h2');
    expect(secret.body).not.toContain(Buffer.from('hunter2-h2').toString('base64'));

    expect(refused.headers[':status']).toBe(401);
    expect(JSON.parse(refused.body)).toMatchObject({ kind: 'Status', code: 401 });
    expect(await waitFor('the access log line', () => accessLine(`/namespaces/${ns}/secrets/db`))).toMatchObject({ http: '2.0', status: 200 });
  });

  it('grants 250 streams per connection and carries 120 watches on one, ending each when its client cancels it', async () => {
    await waitFor('the server settings', () => (session.remoteSettings.maxConcurrentStreams === 250 ? true : undefined));
    const count = 120;
    const seen = Array.from({ length: count }, () => '');
    const streams: ClientHttp2Stream[] = await Promise.all(
      seen.map(
        (_, i) =>
          new Promise<ClientHttp2Stream>((resolve, reject) => {
            const stream = session.request({ ':path': `/api/v1/namespaces/${ns}/configmaps?watch=1&resourceVersion=0`, authorization: `Bearer ${gateway.adminToken}` });
            stream.on('response', (h) => (h[':status'] === 200 ? resolve(stream) : reject(new Error(`watch ${i}: HTTP ${h[':status']}`))));
            stream.setEncoding('utf8').on('data', (d: string) => (seen[i] += d));
            stream.on('error', reject);
            stream.end();
          }),
      ),
    );
    try {
      expect(await metric('gatehouse_open_watches')).toBe(count);
      await direct.ok(['-n', ns, 'create', 'configmap', 'seen-by-all']);
      await waitFor('the event on every watch', () => (seen.every((t) => t.includes('seen-by-all')) ? true : undefined));
    } finally {
      for (const stream of streams) stream.close(constants.NGHTTP2_CANCEL);
    }
    // RST_STREAM(CANCEL) is all the gateway hears of a cancelled watch: the connection stays, the upstream watches
    // are cancelled in turn and each watch is recorded with what it streamed.
    await waitFor('the watches to end', async () => ((await metric('gatehouse_open_watches')) === 0 ? true : undefined));
    await waitFor('the upstream streams to close', async () => ((await metric('gatehouse_upstream_http2_streams{cluster="default"}')) === 0 ? true : undefined));
    expect(session.closed).toBe(false);
    const watches = await waitFor('the watch records', async () => {
      const found = (await auditRecords()).filter((e) => e.request.verb === 'watch');
      return found.length === count ? found : undefined;
    });
    for (const w of watches) {
      expect(w.result).toMatchObject({ status: 200, cut: 'client' });
      expect(w.stream).toMatchObject({ kind: 'watch' });
    }
  });

  it('serves watches from one resourceVersion with one watch to the API server, each client with its own timeout and record', async () => {
    const shared = `${ns}-shared`;
    await direct.ok(['create', 'namespace', shared]);
    // kube-controller-manager adds the namespace's root CA ConfigMap shortly after: in the LIST below, not the watches.
    await waitFor('the namespace\'s kube-root-ca.crt', async () => ((await direct(['-n', shared, 'get', 'configmap', 'kube-root-ca.crt'])).code === 0 ? true : undefined));
    // The events a client has whole so far (a large one arrives in pieces).
    const names = (text: string): string[] => watchEvents(text).map((e) => `${e.type} ${e.object.metadata.name}`);
    const path = await watchPathFromNow(`/api/v1/namespaces/${shared}/configmaps`);
    const shares = async (): Promise<[number, number]> => [
      await metric('gatehouse_upstream_shared_watches{cluster="default"}'),
      await metric('gatehouse_upstream_shared_watch_clients{cluster="default"}'),
    ];
    // Watches from the list's resourceVersion, as after a relist; who the client is does not matter. More of them than
    // the shared watch hands a 16 KB chunk (an HTTP/2 frame from the API server) to per turn of the event loop.
    const CLIENTS = 24;
    const clients = Array.from({ length: CLIENTS }, (_, i) => openWatch(path, `client-${i}`));
    const all = [...clients];
    let own = '';
    try {
      await waitFor('the watches to answer', () => (clients.every((c) => c.status === 200) ? true : undefined));
      expect(await shares()).toEqual([1, CLIENTS]);
      await direct.ok(['-n', shared, 'create', 'configmap', 'first']);
      await waitFor('the event on every watch', () => (clients.every((c) => names(c.text).includes('ADDED first')) ? true : undefined));

      // A later client from the same resourceVersion is told what it missed; one with a timeout of its own ends then,
      // cleanly, and the others go on.
      const late = openWatch(path, 'late');
      const brief = openWatch(`${path}&timeoutSeconds=1`, 'brief');
      all.push(late, brief);
      await waitFor('the late client to catch up', () => (names(late.text).includes('ADDED first') ? true : undefined));
      await waitFor('the brief watch to end', () => (brief.ended ? true : undefined));
      expect(brief.status).toBe(200);
      expect(names(brief.text)).toEqual(['ADDED first']);
      // A large event: the shared watch hands it to its clients a few at a time, across turns of the event loop.
      const large = configFile('large-patch', { data: { k: 'v'.repeat(300 * 1024) } });
      await direct.ok(['-n', shared, 'patch', 'configmap', 'first', '--patch-file', large]);
      await direct.ok(['-n', shared, 'delete', 'configmap', 'first']);
      const everyone = [...clients, late];
      await waitFor('the later events on every watch', () => (everyone.every((c) => names(c.text).includes('DELETED first')) ? true : undefined));
      expect(await shares()).toEqual([1, CLIENTS + 1]);

      // What the API server answers a watch of its own from that resourceVersion (ended by its timeout).
      own = await direct.ok(['get', '--raw', `${path}&timeoutSeconds=1`]);
      expect(names(own)).toEqual(['ADDED first', 'MODIFIED first', 'DELETED first']);
      for (const c of everyone) expect(watchEvents(c.text)).toEqual(watchEvents(own));

      // Not shared: a watch from "any" resourceVersion begins with the state when it starts.
      all.push(openWatch(`/api/v1/namespaces/${shared}/configmaps?watch=1&resourceVersion=0`, 'any'));
      await waitFor('the unshared watch upstream', async () => ((await metric('gatehouse_upstream_http2_streams{cluster="default"}')) >= 1 ? true : undefined));
      expect((await shares())[0]).toBe(1);
    } finally {
      for (const c of all) c.stream.close(constants.NGHTTP2_CANCEL);
    }
    await waitFor('the shared watch to close with its last client', async () => ((await shares()).join() === '0,0' ? true : undefined));
    await waitFor('the upstream streams to close', async () => ((await metric('gatehouse_upstream_http2_streams{cluster="default"}')) === 0 ? true : undefined));
    // Each client's watch is recorded on its own, with what it was sent.
    const records = await waitFor('the watch records', async () => {
      const found = (await auditRecords(shared)).filter((e) => e.request.verb === 'watch');
      return found.length === CLIENTS + 3 ? found : undefined;
    });
    expect(records.filter((r) => r.result.cut === undefined)).toHaveLength(1);
    // Every client that stayed recorded the whole watch, and the store keeps the bytes they were all sent about once:
    // the 300 KB object came in two events to 25 clients.
    const recordings = records.map((r) => Buffer.concat(recordedChunks(gateway, r.stream!.sessionId).map((c) => c.data)));
    const whole = JSON.stringify(watchEvents(own));
    expect(recordings.filter((text) => JSON.stringify(watchEvents(text.toString())) === whole)).toHaveLength(CLIENTS + 1);
    const recordedBytes = recordings.reduce((n, b) => n + b.length, 0);
    expect(recordedBytes).toBeGreaterThan((CLIENTS + 1) * 2 * 300 * 1024);
    const stored = storedStreamBytes(gateway);
    expect(stored.references).toBeGreaterThanOrEqual(CLIENTS * 2);
    expect(stored.own + stored.shared).toBeLessThan(recordedBytes / 20);
    await direct(['delete', 'namespace', shared, '--wait=false']);
  });

  it('masks every client of a shared Secret watch on its own', async () => {
    const path = await watchPathFromNow(`/api/v1/namespaces/${ns}/secrets`);
    const clients = [0, 1, 2].map(() => openWatch(path));
    try {
      await waitFor('the watches to share one upstream watch', async () => ((await metric('gatehouse_upstream_shared_watch_clients{cluster="default"}')) === 3 ? true : undefined));
      expect(await metric('gatehouse_upstream_shared_watches{cluster="default"}')).toBe(1);
      await direct.ok(['-n', ns, 'create', 'secret', 'generic', 'watched', '--from-literal=password=shared-watch-secret']);
      await waitFor('the event on every watch', () => (clients.every((c) => c.text.includes('"watched"')) ? true : undefined));
      for (const c of clients) {
        const event = JSON.parse(c.text.split('\n').find((l) => l.includes('"watched"'))!) as { type: string; object: { data: Record<string, string> } };
        expect(event.type).toBe('ADDED');
        expect(Buffer.from(event.object.data.password!, 'base64').toString()).not.toContain('shared-watch-secret');
        expect(c.text).not.toContain(Buffer.from('shared-watch-secret').toString('base64'));
      }
    } finally {
      for (const c of clients) c.stream.close(constants.NGHTTP2_CANCEL);
    }
    await waitFor('the shared watch to close', async () => ((await metric('gatehouse_upstream_shared_watches{cluster="default"}')) === 0 ? true : undefined));
  });

  it('is HTTP/1.1 only with listen.http2 off', async () => {
    const h1 = await startGatewayProcess(cluster.adminKubeconfig, ['--config', configFile('h1', { listen: { http2: false } })]);
    try {
      await kubectlFor(h1.adminKubeconfig).ok(['-n', ns, 'get', 'configmap', 'plain']);
      const line = await waitFor('the access log line', () => h1.stderr().split('\n').find((l) => l.includes('"msg":"access"') && l.includes('/configmaps/plain"')));
      expect(JSON.parse(line)).toMatchObject({ http: '1.1', status: 200 });
    } finally {
      await h1.stop();
    }
  });

  it('closes connections idle for listen.idleTimeoutSeconds; an open watch keeps its connection', async () => {
    const other = await startGatewayProcess(cluster.adminKubeconfig, ['--config', configFile('idle', { listen: { idleTimeoutSeconds: 1 } })]);
    const ca = readFileSync(join(other.dataDir, 'ca.crt'), 'utf8');
    const unused = connect(other.url, { ca });
    const watching = connect(other.url, { ca });
    try {
      const closed = (s: ClientHttp2Session, which: string): Promise<true> =>
        waitFor(`the gateway to close the ${which} connection`, () => (s.closed || s.destroyed ? true : undefined), 15_000);
      const watch = watching.request({ ':path': `/api/v1/namespaces/${ns}/configmaps?watch=1`, authorization: `Bearer ${other.adminToken}` });
      await once(watch, 'response');
      watch.resume();
      // A connection that never carried a stream goes; the one with a watch open stays past the idle time.
      await closed(unused, 'unused');
      await new Promise((r) => setTimeout(r, 2500));
      expect(watching.closed || watching.destroyed).toBe(false);
      watch.close(constants.NGHTTP2_CANCEL);
      await closed(watching, 'watch');

      // HTTP/1.1: a keep-alive connection goes once idle. A raw socket, as Node's own client would end it itself
      // on the server's `Keep-Alive: timeout=1`: here only the gateway can close it.
      const socket = tlsConnect({ host: '127.0.0.1', port: Number(new URL(other.url).port), ca, servername: 'localhost', ALPNProtocols: ['http/1.1'] });
      let answer = '';
      socket.setEncoding('utf8').on('data', (d: string) => (answer += d));
      const ended = once(socket, 'end');
      await once(socket, 'secureConnect');
      socket.write(`GET /api/v1/namespaces/${ns}/configmaps/plain HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${other.adminToken}\r\nConnection: keep-alive\r\n\r\n`);
      await ended;
      expect(answer).toMatch(/^HTTP\/1\.1 200 /);
      expect(answer).toMatch(/keep-alive: timeout=1/i);
      socket.destroy();
    } finally {
      unused.destroy();
      watching.destroy();
      await other.stop();
    }
  });

  it('sends GOAWAY when it drains, and ends the watches still open', async () => {
    const other = await startGatewayProcess(cluster.adminKubeconfig, ['--config', configFile('drain', { shutdown: { delaySeconds: 0, drainSeconds: 5 } })]);
    const client = connect(other.url, { ca: readFileSync(join(other.dataDir, 'ca.crt'), 'utf8') });
    try {
      const goaway = new Promise<void>((resolve) => client.once('goaway', () => resolve()));
      const watch = client.request({ ':path': `/api/v1/namespaces/${ns}/configmaps?watch=1`, authorization: `Bearer ${other.adminToken}` });
      await new Promise((resolve, reject) => {
        watch.once('response', resolve);
        watch.once('error', reject);
      });
      const ended = new Promise<void>((resolve) => watch.once('close', () => resolve()));
      watch.resume();
      watch.end();
      process.kill(other.pid, 'SIGTERM');
      await goaway;
      await ended;
    } finally {
      client.destroy();
      await other.stop();
    }
  });
});
