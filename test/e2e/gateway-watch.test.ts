import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { kubectlFor } from './helpers/run.js';
import type { Kubectl } from './helpers/run.js';

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
