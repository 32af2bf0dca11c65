/**
 * Many concurrent watches: the gateway's memory while they are open, and how
 * long a burst of changes takes to reach every watcher, through the gateway
 * and straight from the API server.
 */
import { configMap, createNamespace, deleteNamespace, expectCreated } from '../lib/objects.js';
import { summarize } from '../lib/stats.js';
import { perRun } from '../lib/suite.js';
import type { Bench, BenchContext } from '../lib/suite.js';
import { clientFor, http2Streams, memoryOf, openStream, streamPool } from '../lib/targets.js';
import type { StreamOpener, Target } from '../lib/targets.js';

const BURST = 20;

interface WatchRound {
  /** ms from the create request being sent to each watcher seeing the object. */
  delays: number[];
  /** Gateway RSS with every watch open, before the burst; undefined for the API server. */
  openRssMb: number | undefined;
  /**
   * Gateway RSS after the burst; undefined for the API server. Mostly garbage V8 has not collected yet (the
   * records and copies of 20 000 events), so this is the figure a container's memory limit must allow for.
   */
  rssMb: number | undefined;
  /**
   * Watches that ended before they saw the whole burst: kube-apiserver closes a watcher that does not take its
   * events fast enough (its client, or the gateway, is slow). Their missing events are not waited for.
   */
  closedEarly: number;
  /** How many of those ended with an ERROR event. */
  endedWithError: number;
}

/** How the client carries its watches: streams of a few HTTP/2 connections (client-go), or one HTTP/1.1 connection each. */
type Carriage = 'HTTP/2' | 'HTTP/1.1';

/** Opens `watchers` watches on `ns`, creates {@link BURST} ConfigMaps at once, waits until every watcher saw each. */
async function watchRound(ctx: BenchContext, target: Target, ns: string, watchers: number, carriage: Carriage, round: number): Promise<WatchRound> {
  // The LIST a watch starts from goes through the target, as client-go's informers send it: a gateway with watches
  // open has served requests, so its audit append thread runs (~10 MB) before the watches open, not during the burst.
  const lister = clientFor(target);
  const list = await lister.request(`/api/v1/namespaces/${ns}/configmaps`).finally(() => lister.close());
  if (list.status !== 200) throw new Error(`${target.name}: listing the watched ConfigMaps answered ${list.status}: ${list.body.toString().slice(0, 200)}`);
  const rv = (JSON.parse(list.body.toString()) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
  const prefix = `burst-${target.name}-${carriage === 'HTTP/2' ? 'h2' : 'h1'}-${round}-`;
  const sentAt = new Map<string, number>();
  const delays: number[] = [];
  let seen = 0;
  // Watches the API server closed before they saw the whole burst, and the events they will therefore never see.
  let closedEarly = 0;
  let unseen = 0;
  // Of those, the ones whose last event was an ERROR event (the gateway's "watch again", or the API server's own).
  let endedWithError = 0;
  let allSeen: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allSeen = resolve));
  const check = (): void => {
    if (seen + unseen === watchers * BURST) allSeen();
  };

  const pool = carriage === 'HTTP/1.1' ? streamPool(target, watchers) : undefined;
  const http2 = carriage === 'HTTP/2' ? http2Streams(target) : undefined;
  const open: StreamOpener = pool ? (path, onChunk, onClosed) => openStream(pool, target, path, onChunk, onClosed) : http2!.open;
  const closers: Array<() => void> = [];
  try {
    const path = `/api/v1/namespaces/${ns}/configmaps?watch=1&resourceVersion=${rv}`;
    let opened = 0;
    // Opened 50 at a time, as a fleet of controllers starting would.
    while (opened < watchers) {
      const batch = Math.min(50, watchers - opened);
      const streams = await Promise.all(
        Array.from({ length: batch }, () => {
          let pending = '';
          let lastLine = '';
          let mine = 0;
          const onClosed = (): void => {
            if (mine === BURST) return;
            closedEarly += 1;
            if ((pending || lastLine).includes('"type":"ERROR"')) endedWithError += 1;
            unseen += BURST - mine;
            check();
          };
          return open(path, (chunk) => {
            const now = performance.now();
            pending += chunk.toString();
            let nl: number;
            while ((nl = pending.indexOf('\n')) >= 0) {
              const line = pending.slice(0, nl);
              lastLine = line;
              pending = pending.slice(nl + 1);
              const name = /"name":"([^"]+)"/.exec(line)?.[1];
              const sent = name?.startsWith(prefix) ? sentAt.get(name) : undefined;
              if (sent === undefined) continue;
              delays.push(now - sent);
              mine += 1;
              seen += 1;
              check();
            }
          }, onClosed);
        }),
      );
      closers.push(...streams);
      opened += batch;
    }
    const openRssMb = target.pid === undefined ? undefined : memoryOf(target.pid).rssMb;
    ctx.log(`  watch: ${watchers} watches open on ${target.name} (${carriage}); creating ${BURST} ConfigMaps at once`);
    await Promise.all(
      Array.from({ length: BURST }, (_, i) => {
        const name = `${prefix}${i}`;
        sentAt.set(name, performance.now());
        return expectCreated(ctx.env.admin, `/api/v1/namespaces/${ns}/configmaps`, configMap(name));
      }),
    );
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`${target.name}: only ${seen} of ${watchers * BURST} watch events arrived within 60 s (${closedEarly} watches closed early)`)),
        60_000,
      ).unref(),
    );
    await Promise.race([done, timeout]);
    return { delays, openRssMb, rssMb: target.pid === undefined ? undefined : memoryOf(target.pid).rssMb, closedEarly, endedWithError };
  } finally {
    for (const close of closers) close();
    await pool?.destroy();
    http2?.close();
  }
}

export const watchBench: Bench = {
  name: 'watch',
  description: '1 000 concurrent watches: RSS of a fresh gateway and delivery delay of a burst of 20 changes, over HTTP/2 and HTTP/1.1',
  async run(ctx) {
    const watchers = ctx.quick ? 50 : 1000;
    // A round's memory figure swings by ~10 MB with when V8 last collected; three fresh gateways give a median.
    const rounds = ctx.quick ? 1 : 3;
    const ns = await createNamespace(ctx.env.admin, 'bench-watch');
    try {
      // As client-go carries them (the goal's figure), then one connection per watch, each round on a fresh gateway.
      for (const carriage of ['HTTP/2', 'HTTP/1.1'] as const) {
        // Figures of the HTTP/1.1 rounds are named for it; the others are client-go's way.
        const named = (metric: string): string => (carriage === 'HTTP/2' ? metric : `${metric} (HTTP/1.1 clients)`);
        const figures = perRun(ctx, 'watch', 'lower');
        for (let r = 0; r < rounds; r++) {
          const gateway = await ctx.env.freshGateway();
          figures.keep(named('gateway idle RSS MB'), 'gateway', memoryOf(gateway.pid!).rssMb);
          for (const target of [ctx.env.direct, gateway]) {
            const round = await watchRound(ctx, target, ns, watchers, carriage, r);
            const s = summarize(round.delays);
            const rss = round.rssMb === undefined ? '' : `; RSS ${round.openRssMb!.toFixed(0)} MB open, ${round.rssMb.toFixed(0)} MB after the burst`;
            ctx.log(`  watch: round ${r + 1}/${rounds} ${target.name} (${carriage}) delivery p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms${rss}`);
            figures.keep(named('delivery p50 ms'), target.name, s.p50);
            figures.keep(named('delivery p99 ms'), target.name, s.p99);
            if (round.openRssMb !== undefined) figures.keep(named('gateway RSS MB, watches open'), target.name, round.openRssMb);
            if (round.rssMb !== undefined) figures.keep(named('gateway RSS MB'), target.name, round.rssMb);
            figures.keep(named('watches closed early'), target.name, round.closedEarly);
            if (round.closedEarly > 0) {
              ctx.note(
                `watch: ${round.closedEarly} of ${watchers} watches on ${target.name} (${carriage}, round ${r + 1}) ended before they saw the whole burst (${round.endedWithError} with an ERROR event); ` +
                  'kube-apiserver closes watchers that do not take their events fast enough; delays are of the events that arrived',
              );
            }
          }
        }
        figures.add();
      }
      ctx.note(
        `watch: ${watchers} watches per side, burst of ${BURST} creates; delay = create sent → event received by each watcher. ` +
          'HTTP/2: streams of a few connections, as client-go sends them; HTTP/1.1: a connection per watch. Each round on a fresh gateway',
      );
    } finally {
      await deleteNamespace(ctx.env.admin, ns);
    }
  },
};
