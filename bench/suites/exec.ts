/**
 * exec over WebSocket (v5.channel.k8s.io): round trip of a keystroke-sized
 * frame through `cat` in a pod, straight to the API server and through the
 * gateway (which records the session). kubectl proxy refuses exec by default
 * (--reject-paths), so it is not a side here.
 */
import WebSocket from 'ws';
import { createNamespace, deleteNamespace, expectCreated, waitUntil } from '../lib/objects.js';
import { summarize } from '../lib/stats.js';
import type { Bench } from '../lib/suite.js';
import { rotated } from '../lib/suite.js';
import type { Target } from '../lib/targets.js';

const STDIN = 0;
const STDOUT = 1;

/** Round trips (ms) of `count` one-byte stdin frames echoed back on stdout, after `warm` unmeasured ones. */
async function roundTrips(target: Target, path: string, count: number, warm: number): Promise<number[]> {
  const url = `${target.origin.replace(/^http/, 'ws')}${path}`;
  const ws = new WebSocket(url, ['v5.channel.k8s.io'], {
    ca: target.caPem,
    headers: target.token === undefined ? {} : { authorization: `Bearer ${target.token}` },
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`${target.name} exec: HTTP ${res.statusCode}`)));
  });
  let received: (() => void) | undefined;
  ws.on('message', (data: Buffer) => {
    if (data[0] === STDOUT && data.length > 1) received?.();
  });
  const samples: number[] = [];
  try {
    for (let i = 0; i < warm + count; i++) {
      const echoed = new Promise<void>((resolve) => (received = resolve));
      const t0 = performance.now();
      ws.send(Buffer.from([STDIN, 0x61 + (i % 26)]));
      await echoed;
      if (i >= warm) samples.push(performance.now() - t0);
    }
  } finally {
    ws.close();
  }
  return samples;
}

export const execBench: Bench = {
  name: 'exec',
  description: 'exec: round trip of a 1-byte stdin frame (WebSocket v5.channel.k8s.io) through cat',
  async run(ctx) {
    const count = ctx.quick ? 50 : 500;
    const runs = ctx.quick ? 1 : 3;
    const gateway = await ctx.env.gateway();
    const admin = ctx.env.admin;
    const ns = await createNamespace(admin, 'bench-exec');
    try {
      await expectCreated(admin, `/api/v1/namespaces/${ns}/pods`, {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'shell' },
        spec: { containers: [{ name: 'c', image: 'registry.example.com/app:1' }] },
      });
      await waitUntil('the exec pod to run', async () => {
        const pod = JSON.parse((await admin.request(`/api/v1/namespaces/${ns}/pods/shell`)).body.toString()) as { status?: { phase?: string } };
        return pod.status?.phase === 'Running';
      });
      const path = `/api/v1/namespaces/${ns}/pods/shell/exec?command=cat&stdin=true&stdout=true&stderr=true`;
      const targets = [ctx.env.direct, gateway];
      const perSide = { direct: { p50: [] as number[], p99: [] as number[] }, gateway: { p50: [] as number[], p99: [] as number[] } };
      for (let r = 0; r < runs; r++) {
        for (const target of rotated(targets, r)) {
          const s = summarize(await roundTrips(target, path, count, 20));
          const side = perSide[target.name === 'direct' ? 'direct' : 'gateway'];
          side.p50.push(s.p50);
          side.p99.push(s.p99);
        }
        ctx.log(`  exec: run ${r + 1}/${runs} direct p50 ${perSide.direct.p50.at(-1)!.toFixed(3)} ms, gateway p50 ${perSide.gateway.p50.at(-1)!.toFixed(3)} ms`);
      }
      for (const side of ['direct', 'gateway'] as const) {
        ctx.add('exec', 'frame round trip p50 ms', side, 'lower', perSide[side].p50);
        ctx.add('exec', 'frame round trip p99 ms', side, 'lower', perSide[side].p99);
      }
      ctx.add('exec', 'added p50 µs per frame', 'gateway', 'lower', perSide.gateway.p50.map((g, i) => (g - perSide.direct.p50[i]!) * 1000));
    } finally {
      await deleteNamespace(admin, ns);
    }
  },
};
