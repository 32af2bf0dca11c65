import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startGatewayProcess } from '../e2e/helpers/gateway.js';
import type { GatewayProcess } from '../e2e/helpers/gateway.js';
import { kubectlFor, lostToKubectlRace } from '../e2e/helpers/run.js';
import { gatewayClient } from './helpers/status.js';
import { recordTally } from './helpers/tally.js';

// Bounded-time load through the real gateway: watches opened and dropped by
// the client, kubectl execs, and writes, all at once. Afterwards the gateway's
// open file descriptors (/proc/<pid>/fd) must come back to within a small
// margin of the baseline (no socket, stream or file left behind); peak RSS is
// reported and only checked against a generous bound (timing-free).
const cluster = inject('cluster');
const ns = `load-${randomBytes(3).toString('hex')}`;
const direct = kubectlFor(cluster.adminKubeconfig);
const LOAD_MS = 15_000;
const WATCHES = 8;
const WRITERS = 4;
const EXECS = 2;
/** Descriptors the gateway may keep open after the load beyond its baseline (pooled upstream connections, log files). */
const FD_MARGIN = 8;
let gateway: GatewayProcess;
let pod: string;

const fds = (): number => readdirSync(`/proc/${gateway.pid}/fd`).length;
const rssMiB = (): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${gateway.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  await direct.ok(['create', 'namespace', ns]);
  await direct.ok(['-n', ns, 'create', 'deployment', 'web', '--image=registry.invalid/web:1']);
  await direct.ok(['-n', ns, 'rollout', 'status', 'deployment/web', '--timeout=90s'], { timeoutMs: 100_000 });
  pod = (await direct.ok(['-n', ns, 'get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
  gateway = await startGatewayProcess(cluster.adminKubeconfig, ['--log-level', 'warn']);
}, 150_000);
afterAll(async () => {
  await gateway?.stop();
  await direct(['delete', 'namespace', ns, '--wait=false']);
});

describe('load with bounded resources', () => {
  it('watches, execs and writes at once leave no descriptor behind, and memory stays bounded', async () => {
    const kubectl = kubectlFor(gateway.adminKubeconfig);
    const ca = readFileSync(join(gateway.dataDir, 'ca.crt'), 'utf8');
    const auth = { authorization: `Bearer ${gateway.adminToken}` };
    const watch = async (agent: Agent, ms: number, counts: { events: number }): Promise<void> => {
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), ms);
      try {
        const res = await request(`${gateway.url}/api/v1/namespaces/${ns}/configmaps?watch=1`, { dispatcher: agent, headers: auth, signal: ac.signal });
        expect(res.statusCode).toBe(200);
        for await (const chunk of res.body) counts.events += String(chunk).split('\n').filter((l) => l !== '').length;
      } catch (err) {
        // The client hanging up mid-watch is the point; anything else is a failure.
        if (!ac.signal.aborted) throw err;
      } finally {
        clearTimeout(timer);
      }
    };

    // Warm up every path once, so lazily opened descriptors (upstream pools, the store) are in the baseline.
    const warm = gatewayClient(gateway);
    expect((await warm.send('POST', `/api/v1/namespaces/${ns}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'warm' } })).status).toBe(201);
    expect(await kubectl.ok(['-n', ns, 'exec', pod, '--', 'echo', 'hi'])).toBe('hi\n');
    const warmAgent = new Agent({ connect: { ca } });
    await watch(warmAgent, 500, { events: 0 });
    await warmAgent.close();
    await warm.close();
    await sleep(1000);
    const baselineFds = fds();
    const baselineRss = rssMiB();

    const until = Date.now() + LOAD_MS;
    const counts = { events: 0, watches: 0, execs: 0, clientRaces: 0, writes: 0, errors: [] as string[] };
    let peakFds = baselineFds;
    let peakRss = baselineRss;
    const sampler = setInterval(() => {
      peakFds = Math.max(peakFds, fds());
      peakRss = Math.max(peakRss, rssMiB());
    }, 250);
    const watchAgent = new Agent({ connect: { ca }, connections: WATCHES });
    const writes = gatewayClient(gateway, { connections: WRITERS });
    const watchers = Array.from({ length: WATCHES }, async (_, i) => {
      while (Date.now() < until) {
        await watch(watchAgent, 500 + ((i * 397) % 2000), counts);
        counts.watches++;
      }
    });
    const writers = Array.from({ length: WRITERS }, async (_, w) => {
      for (let i = 0; Date.now() < until; i++) {
        const name = `load-${w}-${i}`;
        const c = await writes.send('POST', `/api/v1/namespaces/${ns}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { i: String(i) } });
        const d = await writes.send('DELETE', `/api/v1/namespaces/${ns}/configmaps/${name}`);
        if (c.status !== 201 || d.status !== 200) counts.errors.push(`${name}: ${c.status} ${d.status} ${c.text.slice(0, 200)}`);
        counts.writes += 2;
      }
    });
    const execs = Array.from({ length: EXECS }, async () => {
      while (Date.now() < until) {
        const r = await kubectl(['-n', ns, 'exec', pod, '--', 'echo', 'hi']);
        counts.execs++;
        // kubectl's own race (lostToKubectlRace): counted, and the exec tried again.
        if (r.stdout !== 'hi\n' && lostToKubectlRace(r)) {
          counts.clientRaces++;
          continue;
        }
        if (r.code !== 0 || r.stdout !== 'hi\n') counts.errors.push(`exec: ${r.code} ${r.stderr.slice(0, 200)}`);
      }
    });
    await Promise.all([...watchers, ...writers, ...execs]);
    clearInterval(sampler);
    await watchAgent.close();
    await writes.close();

    // Every client connection is closed: the gateway's descriptors must come back (upstream keep-alive sockets may linger a moment).
    let after = fds();
    for (let i = 0; i < 40 && after > baselineFds + FD_MARGIN; i++) {
      await sleep(500);
      after = fds();
    }
    const afterRss = rssMiB();
    process.stderr.write(
      `[security] load ${LOAD_MS / 1000}s: ${counts.watches} watches (${counts.events} events), ${counts.execs} execs (${counts.clientRaces} lost to kubectl's own stream race), ${counts.writes} writes; ` +
        `fds baseline ${baselineFds}, peak ${peakFds}, after ${after}; RSS baseline ${baselineRss.toFixed(0)} MiB, peak ${peakRss.toFixed(0)} MiB, after ${afterRss.toFixed(0)} MiB\n`,
    );
    recordTally('load', { faultsSurvived: 1 });
    expect(counts.errors).toEqual([]);
    expect(counts.watches).toBeGreaterThan(WATCHES);
    expect(counts.execs - counts.clientRaces).toBeGreaterThan(0);
    expect(peakFds).toBeGreaterThan(baselineFds);
    expect(after, `descriptors: baseline ${baselineFds}, after ${after}: ${readdirSync(`/proc/${gateway.pid}/fd`).length}`).toBeLessThanOrEqual(baselineFds + FD_MARGIN);
    // Bounded, not tight: the load must not grow the heap without limit (a leak of bodies or events would).
    expect(peakRss).toBeLessThan(baselineRss + 400);
  });
});
