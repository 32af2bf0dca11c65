/**
 * LIST of 5 000 Secrets: the gateway masks every value (the guardrail
 * `secret-reads`), the API server and kubectl proxy answer unmasked. Time of
 * the whole answer, the gateway's main-thread CPU for it (what masking costs,
 * and less at the mercy of other load on a shared machine than the time), and
 * how much the gateway's memory grows while it masks.
 */
import { createMany, createNamespace, deleteNamespace, secret } from '../lib/objects.js';
import type { Bench } from '../lib/suite.js';
import { rotated } from '../lib/suite.js';
import { clientFor, mainThreadCpuMs, memoryOf, otherThreadsCpuMs, resetPeak } from '../lib/targets.js';

interface SecretList {
  items: Array<{ data: Record<string, string> }>;
}

export const secretsBench: Bench = {
  name: 'secrets',
  description: 'LIST of 5 000 Secrets, masked through the gateway vs unmasked direct (time, gateway peak RSS)',
  async run(ctx) {
    const count = ctx.quick ? 500 : 5000;
    const runs = ctx.quick ? 2 : 9;
    const warmRounds = ctx.quick ? 1 : 4;
    const gateway = await ctx.env.gateway();
    const targets = [ctx.env.direct, await ctx.env.proxy(), gateway];
    const ns = await createNamespace(ctx.env.admin, 'bench-secrets');
    const clients = new Map(targets.map((t) => [t.name, clientFor(t, 1)]));
    try {
      ctx.log(`  secrets: creating ${count} Secrets`);
      await createMany(ctx.env.admin, `/api/v1/namespaces/${ns}/secrets`, count, (i) => secret(`s-${i}`));
      const path = `/api/v1/namespaces/${ns}/secrets`;
      const times = new Map<string, number[]>(targets.map((t) => [t.name, []]));
      const growth: number[] = [];
      const cpu: number[] = [];
      // The gateway's other threads (V8's GC helpers, the audit thread, libuv's pool) compete for the same cores.
      const otherCpu: number[] = [];
      const peaks: number[] = [];
      let bodyMb = 0;
      let clear = '';
      // Rounds first that are not counted, as the other suites warm up: on a fresh gateway V8 compiles the masking code
      // over the first LISTs (233, 114, 81, 65 ms, then 48–70, with its compiler threads busy 194, 77, 33, 16 ms of
      // CPU, then 1–9), and the heap grows to its working size.
      for (let r = 0; r < warmRounds; r++) {
        for (const target of targets) if ((await clients.get(target.name)!.request(path)).status !== 200) throw new Error(`${target.name} LIST secrets failed`);
      }
      for (let r = 0; r < runs; r++) {
        for (const target of rotated(targets, r)) {
          const client = clients.get(target.name)!;
          // The gateway's memory and CPU are what this measures (kubectl proxy has a pid too).
          const pid = target === gateway ? gateway.pid : undefined;
          const before = pid === undefined ? undefined : memoryOf(pid);
          if (pid !== undefined) resetPeak(pid);
          const cpu0 = pid === undefined ? 0 : mainThreadCpuMs(pid);
          const others0 = pid === undefined ? 0 : otherThreadsCpuMs(pid);
          const t0 = performance.now();
          const res = await client.request(path);
          times.get(target.name)!.push(performance.now() - t0);
          if (pid !== undefined) {
            cpu.push(mainThreadCpuMs(pid) - cpu0);
            otherCpu.push(otherThreadsCpuMs(pid) - others0);
          }
          if (res.status !== 200) throw new Error(`${target.name} LIST secrets: HTTP ${res.status}`);
          const first = (JSON.parse(res.body.toString()) as SecretList).items[0]?.data.password ?? '';
          if (target.name === 'direct') {
            clear = first;
            bodyMb = res.body.length / 1e6;
          }
          if (before !== undefined && pid !== undefined) {
            const peak = memoryOf(pid).peakMb;
            peaks.push(peak);
            growth.push(peak - before.rssMb);
          }
        }
        const each = targets.map((t) => `${t.name} ${times.get(t.name)!.at(-1)!.toFixed(0)} ms`).join(', ');
        ctx.log(`  secrets: run ${r + 1}/${runs} ${each} (gateway CPU: main thread ${cpu.at(-1)!.toFixed(0)} ms, others ${otherCpu.at(-1)!.toFixed(0)} ms)`);
      }
      // The comparison only means something if the gateway really masked.
      const masked = JSON.parse((await clients.get('gateway')!.request(path)).body.toString()) as SecretList;
      if (masked.items[0]?.data.password === clear) throw new Error('the gateway returned Secret values unmasked');
      for (const t of targets) ctx.add('secrets', 'LIST ms', t.name, 'lower', times.get(t.name)!);
      ctx.add('secrets', 'main-thread CPU ms per LIST', 'gateway', 'lower', cpu);
      ctx.add('secrets', 'other threads CPU ms per LIST', 'gateway', 'lower', otherCpu);
      ctx.add('secrets', 'gateway peak RSS MB', 'gateway', 'lower', peaks);
      ctx.add('secrets', 'RSS growth MB', 'gateway', 'lower', growth);
      ctx.add('secrets', 'RSS growth ÷ body size', 'gateway', 'lower', growth.map((g) => g / bodyMb));
      ctx.add('secrets', 'body MB (unmasked)', 'direct', 'lower', [bodyMb]);
    } finally {
      for (const client of clients.values()) await client.close();
      await deleteNamespace(ctx.env.admin, ns);
    }
  },
};
