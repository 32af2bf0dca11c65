/**
 * Plain request costs, the same client on every side: latency of a GET of
 * one object and a LIST of 500, and throughput of small GETs at several
 * concurrencies.
 */
import { configMap, createMany, createNamespace, deleteNamespace, expectCreated } from '../lib/objects.js';
import { summarize } from '../lib/stats.js';
import type { Bench, BenchContext } from '../lib/suite.js';
import { rotated } from '../lib/suite.js';
import { clientFor, groupCpuMs, processCpuMs } from '../lib/targets.js';
import type { Client, Target } from '../lib/targets.js';
import type { ClusterInfo } from '../lib/env.js';

/**
 * The sides of a benchmark: the API server, kubectl proxy and the gateway,
 * and for small answers the bare Node.js proxy too. A LIST it only pipes,
 * piece by piece as undici reads them (~2 KiB each), which costs it more
 * than the gateway spends gathering them: no floor there.
 */
async function sidesFor(ctx: BenchContext, small: boolean): Promise<Target[]> {
  const reference = small ? [await ctx.env.nodeProxy()] : [];
  return [ctx.env.direct, await ctx.env.proxy(), ...reference, await ctx.env.gateway()];
}

async function expectOk(client: Client, path: string): Promise<void> {
  const res = await client.request(path);
  if (res.status !== 200) throw new Error(`${client.target.name} GET ${path}: HTTP ${res.status} ${res.body.toString().slice(0, 300)}`);
}

/**
 * Sequential requests on one keep-alive connection per side, `runs` times,
 * sides interleaved; records the p50 and p99 of each run. Each side first
 * answers the same requests, uncounted, for a few seconds: a gateway just
 * started runs its request path before V8 optimised it (over its first
 * 2 500 GETs its p50 fell from ~2.2 to ~1.25 ms and its main thread's CPU
 * per GET from ~1 050 to ~440 µs, with V8's compiler threads busy beside
 * it; session 11), while the API server and kubectl proxy are compiled Go.
 */
export async function latency(ctx: BenchContext, targets: readonly Target[], bench: string, label: string, path: string, perRun: number, runs: number): Promise<void> {
  const clients = new Map(targets.map((t) => [t.name, clientFor(t, 1)]));
  const perSide = new Map(targets.map((t) => [t.name, { p50: [] as number[], p99: [] as number[], cpu: new Map<ChainPart, number[]>() }]));
  const warmMs = ctx.quick ? 200 : 5000;
  try {
    for (const client of clients.values()) {
      const until = performance.now() + warmMs;
      for (let i = 0; i < Math.min(50, perRun) || performance.now() < until; i++) await expectOk(client, path);
    }
    for (let r = 0; r < runs; r++) {
      for (const target of rotated(targets, r)) {
        const client = clients.get(target.name)!;
        const samples: number[] = [];
        const cpu = chainCpu(ctx.env.cluster, target);
        for (let i = 0; i < perRun; i++) {
          const t0 = performance.now();
          await expectOk(client, path);
          samples.push(performance.now() - t0);
        }
        const s = summarize(samples);
        const side = perSide.get(target.name)!;
        side.p50.push(s.p50);
        side.p99.push(s.p99);
        for (const [part, ms] of cpu()) side.cpu.set(part, [...(side.cpu.get(part) ?? []), (ms * 1000) / perRun]);
      }
      ctx.log(`  ${bench}: run ${r + 1}/${runs} ${targets.map((t) => `${t.name} p50 ${perSide.get(t.name)!.p50.at(-1)!.toFixed(2)} ms`).join(', ')}`);
    }
  } finally {
    for (const client of clients.values()) await client.close();
  }
  for (const t of targets) {
    const side = perSide.get(t.name)!;
    ctx.add(bench, `${label} p50 ms`, t.name, 'lower', side.p50);
    ctx.add(bench, `${label} p99 ms`, t.name, 'lower', side.p99);
    for (const [part, values] of side.cpu) ctx.add(bench, `${label} CPU µs per request, ${part}`, t.name, 'lower', values);
  }
}

/** Whose CPU a request costs, as {@link chainCpu} adds it up. */
type ChainPart = 'whole chain' | 'kube-apiserver + etcd' | 'the side itself';

/**
 * Starts counting the CPU time a run costs every process on its path: this
 * client, the side's own process (gateway, kubectl proxy) and, when the
 * benchmark started the control plane, kube-apiserver and etcd. On a machine
 * with few cores a request's latency follows what the whole chain spends, and
 * a process in between also changes what the API server and etcd spend.
 * The returned function gives the ms spent since, per part.
 */
function chainCpu(cluster: ClusterInfo, target: Target): () => Map<ChainPart, number> {
  const upstream = (): number | undefined => (cluster.pids === undefined ? undefined : groupCpuMs(cluster.pids['kube-apiserver'], cluster.pids.etcd));
  const side = (): number => (target.pid === undefined ? 0 : processCpuMs(target.pid));
  const client = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const up0 = upstream();
  const side0 = side();
  const client0 = client();
  return () => {
    // The client first: reading /proc costs this process CPU too.
    const clientMs = client() - client0;
    const parts = new Map<ChainPart, number>();
    const up = upstream();
    const sideMs = side() - side0;
    if (target.pid !== undefined) parts.set('the side itself', sideMs);
    if (up === undefined || up0 === undefined) return parts;
    parts.set('kube-apiserver + etcd', up - up0);
    parts.set('whole chain', up - up0 + sideMs + clientMs);
    return parts;
  };
}

/**
 * Requests per second that `concurrency` callers sustain for `seconds`, each
 * waiting for its answer before the next, and the CPU the side's process
 * (gateway, kubectl proxy) spent per request meanwhile: on a shared machine
 * the rate follows the other load, the CPU per request much less.
 */
async function throughputOf(target: Target, path: string, concurrency: number, seconds: number): Promise<{ rps: number; cpuUs: number | undefined }> {
  const client = clientFor(target, concurrency);
  try {
    const loop = async (until: number): Promise<number> => {
      let n = 0;
      while (performance.now() < until) {
        await expectOk(client, path);
        n++;
      }
      return n;
    };
    // Warm-up: opens every connection and lets the JIT settle.
    const warm = performance.now() + 300;
    await Promise.all(Array.from({ length: concurrency }, () => loop(warm)));
    const cpu0 = target.pid === undefined ? 0 : processCpuMs(target.pid);
    const start = performance.now();
    const counts = await Promise.all(Array.from({ length: concurrency }, () => loop(start + seconds * 1000)));
    const requests = counts.reduce((a, b) => a + b, 0);
    const cpuUs = target.pid === undefined ? undefined : ((processCpuMs(target.pid) - cpu0) * 1000) / requests;
    return { rps: requests / ((performance.now() - start) / 1000), cpuUs };
  } finally {
    await client.close();
  }
}

/** A namespace with one small ConfigMap (`one`) for the GET benchmarks. */
export async function withOneObject(ctx: BenchContext, fn: (path: string) => Promise<void>): Promise<void> {
  const ns = await createNamespace(ctx.env.admin, 'bench-get');
  try {
    await expectCreated(ctx.env.admin, `/api/v1/namespaces/${ns}/configmaps`, configMap('one'));
    await fn(`/api/v1/namespaces/${ns}/configmaps/one`);
  } finally {
    await deleteNamespace(ctx.env.admin, ns);
  }
}

export const getBench: Bench = {
  name: 'get',
  description: 'latency of GET of one ConfigMap (p50/p99 per run), also as an AI agent (token, masked reads)',
  run: (ctx) =>
    withOneObject(ctx, async (path) => {
      const perRun = ctx.quick ? 100 : 500;
      const runs = ctx.quick ? 2 : 7;
      await latency(ctx, await sidesFor(ctx, true), 'get', 'GET', path, perRun, runs);
      // What an AI agent gets: its Gatehouse token is looked up in the store, and its reads go through the masker.
      await latency(ctx, [ctx.env.direct, await ctx.env.gatewayAsAgent()], 'get', 'GET as an agent (masked)', path, perRun, runs);
    }),
};

export const listBench: Bench = {
  name: 'list',
  description: 'latency of LIST of 500 ConfigMaps of 1 KiB (p50/p99 per run)',
  async run(ctx) {
    const ns = await createNamespace(ctx.env.admin, 'bench-list');
    try {
      ctx.log('  list: creating 500 ConfigMaps');
      await createMany(ctx.env.admin, `/api/v1/namespaces/${ns}/configmaps`, 500, (i) => configMap(`cm-${i}`, { bench: 'list' }));
      await latency(ctx, await sidesFor(ctx, false), 'list', 'LIST 500', `/api/v1/namespaces/${ns}/configmaps?labelSelector=bench%3Dlist`, ctx.quick ? 10 : 40, ctx.quick ? 2 : 5);
    } finally {
      await deleteNamespace(ctx.env.admin, ns);
    }
  },
};

export const throughputBench: Bench = {
  name: 'throughput',
  description: 'small-GET requests/s at concurrency 1, 16, 64, and CPU µs per request of the gateway, kubectl proxy and node-proxy',
  run: (ctx) =>
    withOneObject(ctx, async (path) => {
      const targets = await sidesFor(ctx, true);
      const runs = ctx.quick ? 1 : 3;
      const seconds = ctx.quick ? 1 : 4;
      for (const concurrency of [1, 16, 64]) {
        const rps = new Map<string, number[]>(targets.map((t) => [t.name, []]));
        const cpu = new Map<string, number[]>(targets.map((t) => [t.name, []]));
        for (let r = 0; r < runs; r++) {
          for (const target of rotated(targets, r)) {
            const measured = await throughputOf(target, path, concurrency, seconds);
            rps.get(target.name)!.push(measured.rps);
            if (measured.cpuUs !== undefined) cpu.get(target.name)!.push(measured.cpuUs);
          }
        }
        ctx.log(`  throughput c=${concurrency}: ${targets.map((t) => `${t.name} ${Math.round(rps.get(t.name)!.at(-1)!)}/s`).join(', ')}`);
        for (const t of targets) {
          ctx.add('throughput', `req/s c=${concurrency}`, t.name, 'higher', rps.get(t.name)!);
          if (cpu.get(t.name)!.length > 0) ctx.add('throughput', `CPU µs per request c=${concurrency}`, t.name, 'lower', cpu.get(t.name)!);
        }
      }
    }),
};
