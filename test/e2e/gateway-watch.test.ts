import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { kubectlFor } from './helpers/run.js';
import type { Kubectl } from './helpers/run.js';
import { watchEvents } from './helpers/watch-events.js';

// Watches stream through the gateway as the API server sends them: kubectl's
// JSON watch, a client library's watch, and a protobuf watch stream.
const cluster = inject('cluster');
const ns = `watch-${randomBytes(3).toString('hex')}`;
let gateway: GatewayProcess;
let direct: Kubectl;

beforeAll(async () => {
  gateway = await startGatewayProcess(cluster.adminKubeconfig);
  direct = kubectlFor(cluster.adminKubeconfig);
  await direct.ok(['create', 'namespace', ns]);
});
afterAll(async () => {
  await direct?.(['delete', 'namespace', ns, '--wait=false']);
  await gateway?.stop();
});

/** Established TCP connections of process `pid` to a port, from its socket descriptors and the kernel's tables. */
function tcpConnectionsTo(pid: number, port: number): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed while we looked
    }
  }
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  let n = 0;
  for (const table of ['tcp', 'tcp6']) {
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // f[2]: remote address:port, f[3]: state (01 = ESTABLISHED), f[9]: inode.
      if (f.length > 9 && f[2]!.endsWith(`:${hexPort}`) && f[3] === '01' && inodes.has(f[9]!)) n += 1;
    }
  }
  return n;
}

/** Resolves when `predicate` holds for the accumulated text, rejects after a generous safety timeout. */
function waitForText(read: () => string, predicate: (text: string) => boolean, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = (): void => {
      if (predicate(read())) resolve();
      else if (Date.now() - started > 60_000) reject(new Error(`timed out waiting for ${what}; got:\n${read()}`));
      else setTimeout(tick, 50);
    };
    tick();
  });
}

describe('watch', () => {
  it('delivers kubectl get -w events through the gateway', async () => {
    const child = spawn('kubectl', ['-n', ns, 'get', 'configmaps', '-w', '-o', 'name'], { env: { ...process.env, KUBECONFIG: gateway.adminKubeconfig } });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    try {
      // Whether these land in the initial list or arrive as events, both must show up.
      await direct.ok(['-n', ns, 'create', 'configmap', 'first']);
      await direct.ok(['-n', ns, 'create', 'configmap', 'second']);
      await waitForText(() => out, (t) => t.includes('configmap/first') && t.includes('configmap/second'), 'watch events');
    } finally {
      child.kill();
    }
  });

  it('answers kubectl watches from one resourceVersion as the API server does, each ended by its own timeoutSeconds', async () => {
    const list = JSON.parse(await direct.ok(['get', '--raw', `/api/v1/namespaces/${ns}/configmaps`])) as { metadata: { resourceVersion: string } };
    // Ended by the API server's timeout (direct) and by the gateway's own for each client (shared).
    const path = `/api/v1/namespaces/${ns}/configmaps?watch=1&resourceVersion=${list.metadata.resourceVersion}&timeoutSeconds=3`;
    const throughGateway = kubectlFor(gateway.adminKubeconfig);
    const watches = [throughGateway.ok(['get', '--raw', path]), throughGateway.ok(['get', '--raw', path])];
    await direct.ok(['-n', ns, 'create', 'configmap', 'raw-shared']);
    await direct.ok(['-n', ns, 'delete', 'configmap', 'raw-shared']);
    const events = (text: string): string[] =>
      watchEvents(text)
        .filter((e) => e.object.metadata.name === 'raw-shared')
        .map((e) => e.type);
    const own = events(await direct.ok(['get', '--raw', path]));
    expect(own).toEqual(['ADDED', 'DELETED']);
    for (const answer of await Promise.all(watches)) expect(events(answer)).toEqual(own);
  });

  it('serves a @kubernetes/client-node watch', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(gateway.adminKubeconfig);
    const events: { type: string; name: string }[] = [];
    const watch = new Watch(kc);
    const controller = await watch.watch(
      `/api/v1/namespaces/${ns}/configmaps`,
      { allowWatchBookmarks: false },
      (type: string, obj: { metadata: { name: string } }) => events.push({ type, name: obj.metadata.name }),
      () => undefined,
    );
    try {
      await direct.ok(['-n', ns, 'create', 'configmap', 'from-library']);
      await waitForText(() => JSON.stringify(events), (t) => t.includes('from-library'), 'client-node event');
      await direct.ok(['-n', ns, 'delete', 'configmap', 'from-library']);
      await waitForText(() => JSON.stringify(events), () => events.some((e) => e.type === 'DELETED' && e.name === 'from-library'), 'DELETED event');
      expect(events.filter((e) => e.name === 'from-library').map((e) => e.type)).toEqual(['ADDED', 'DELETED']);
    } finally {
      controller.abort();
    }
  });

  it('carries many watches to the API server as streams of a few HTTP/2 connections', async () => {
    const caPem = readFileSync(join(gateway.dataDir, 'ca.crt'), 'utf8');
    // One client connection per watch, as separate kubectl processes would open them.
    const agent = new Agent({ keepAlive: true, maxSockets: Infinity, ca: caPem });
    const count = 150;
    const apiPort = Number(new URL(cluster.server).port);
    // Connections already there: keep-alive ones of earlier requests, an HTTP/2 session of an earlier watch.
    const before = tcpConnectionsTo(gateway.pid, apiPort);
    const seen = Array.from({ length: count }, () => '');
    const requests = await Promise.all(
      seen.map(
        (_, i) =>
          new Promise<ReturnType<typeof request>>((resolve, reject) => {
            const req = request(`${gateway.url}/api/v1/namespaces/${ns}/configmaps?watch=1&resourceVersion=0`, {
              agent,
              headers: { authorization: `Bearer ${gateway.adminToken}` },
            });
            req.on('response', (res) => {
              expect(res.statusCode).toBe(200);
              res.setEncoding('utf8').on('data', (d: string) => (seen[i] += d));
              resolve(req);
            });
            req.on('error', reject);
            req.end();
          }),
      ),
    );
    try {
      // HTTP/1.1 would need a connection per watch; kube-apiserver allows 100 streams per HTTP/2 connection.
      expect(tcpConnectionsTo(gateway.pid, apiPort) - before).toBeLessThanOrEqual(3);
      await direct.ok(['-n', ns, 'create', 'configmap', 'seen-by-all']);
      await waitForText(() => String(seen.filter((t) => t.includes('seen-by-all')).length), (n) => n === String(count), 'the event on every watch');
    } finally {
      for (const req of requests) req.destroy();
      agent.destroy();
    }
  });

  it('streams a protobuf watch unchanged', async () => {
    const caPem = readFileSync(join(gateway.dataDir, 'ca.crt'), 'utf8');
    const url = new URL(gateway.url);
    const frames: Buffer[] = [];
    let pending = Buffer.alloc(0);
    const req = request({
      hostname: url.hostname,
      port: url.port,
      path: `/api/v1/namespaces/${ns}/configmaps?watch=true`,
      headers: { authorization: `Bearer ${gateway.adminToken}`, accept: 'application/vnd.kubernetes.protobuf;stream=watch' },
      ca: caPem,
    });
    const contentType = new Promise<string>((resolve, reject) => {
      req.on('response', (res) => {
        res.on('data', (chunk: Buffer) => {
          // Length-prefixed frames: 4-byte big-endian size, then a protobuf WatchEvent.
          pending = Buffer.concat([pending, chunk]);
          while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
            frames.push(pending.subarray(4, 4 + pending.readUInt32BE(0)));
            pending = pending.subarray(4 + pending.readUInt32BE(0));
          }
        });
        resolve(res.headers['content-type'] ?? '');
      });
      req.on('error', reject);
    });
    req.end();
    try {
      expect(await contentType).toContain('application/vnd.kubernetes.protobuf;stream=watch');
      await direct.ok(['-n', ns, 'create', 'configmap', 'protobuf-event']);
      await waitForText(() => frames.map((f) => f.toString('latin1')).join('|'), (t) => t.includes('protobuf-event'), 'a protobuf frame');
      const frame = frames.find((f) => f.toString('latin1').includes('protobuf-event'))!;
      // The event's object is a runtime.Unknown that starts with the k8s\0 magic.
      expect(frame.toString('latin1')).toContain('k8s\u0000');
      expect(frame.toString('latin1')).toContain('ADDED');
    } finally {
      req.destroy();
    }
  });
});
