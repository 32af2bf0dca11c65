import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/schema.js';
import type { GatehouseConfig, GatehouseConfigInput } from '../../../src/config/schema.js';
import type { Handling, PolicyParts } from '../../../src/gateway/handling.js';
import { createReloader } from '../../../src/gateway/reload.js';
import { createSlot } from '../../../src/gateway/slot.js';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { idleMetricsSources } from '../metrics/idle-sources.js';
import type { WatchedPolicy } from '../../../src/policy/watch.js';

const base: GatehouseConfigInput = { upstream: { kubeconfig: '/etc/gatehouse/kubeconfig' }, dataDir: '/var/lib/gatehouse' };

/** A policy handle whose next reload succeeds or not, as the test says. */
function policyHandle(reloads = true): WatchedPolicy & { closed: boolean } {
  const h = {
    closed: false,
    current: () => ({ rules: [], budgets: [], files: [], defaultAction: 'deny' }) as unknown as ReturnType<WatchedPolicy['current']>,
    reload: () => reloads,
    close: () => void (h.closed = true),
  };
  return h;
}

function setup(start: GatehouseConfigInput = {}) {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>), done()) }));
  const built: (Handling & { closed: boolean })[] = [];
  const build = (config: GatehouseConfig, loaded: PolicyParts): Handling => {
    if (config.upstream?.kubeconfig === '/unreadable') throw new Error('cannot read kubeconfig /unreadable');
    const h = { config, ...loaded, closed: false, close: () => void (h.closed = true) } as unknown as Handling & { closed: boolean };
    built.push(h);
    return h;
  };
  const startPolicy = policyHandle();
  const slot = createSlot(build(parseConfig({ ...base, ...start }), { policy: startPolicy, shadow: undefined }));
  let file: unknown = { ...base, ...start };
  const opened: (WatchedPolicy & { closed: boolean })[] = [];
  const metrics = createMetrics(idleMetricsSources());
  const reload = createReloader({
    slot,
    load: () => parseConfig(file, 'gatehouse.yaml'),
    openPolicy: (c) => {
      if (c.policy.paths.includes('/broken')) throw new Error('invalid policy (1 problem):\n  /broken/p.yaml:3:5: unknown field');
      const p = policyHandle();
      opened.push(p);
      return { policy: p, shadow: undefined };
    },
    build,
    log,
    metrics,
  });
  const metric = async (name: string) => (await metrics.registry.getSingleMetricAsString(name)).split('\n').filter((l) => !l.startsWith('#'));
  return { slot, reload, lines, built, startPolicy, opened, metric, write: (next: unknown) => (file = next) };
}

describe('config reload', () => {
  it('swaps in a request path built from the new live settings', async () => {
    const t = setup();
    t.write({ ...base, limits: { maxBodyBytes: 1024 }, log: { level: 'debug' } });
    const result = t.reload('signal');
    expect(result).toEqual({ ok: true, trigger: 'signal', changed: ['limits', 'log'], restartNeeded: [] });
    expect(t.slot.current().config.limits.maxBodyBytes).toBe(1024);
    expect(t.built[0]!.closed).toBe(true);
    // The policy settings did not change: the same handle, reloaded rather than reopened.
    expect(t.slot.current().policy).toBe(t.startPolicy);
    expect(t.opened).toEqual([]);
    expect(t.lines.find((l) => l.msg === 'config reloaded: limits, log changed')).toMatchObject({ trigger: 'signal' });
    expect(await t.metric('gatehouse_config_reloads_total')).toContain('gatehouse_config_reloads_total{trigger="signal",result="success"} 1');
  });

  it('rejects an invalid file with its path and reason, and keeps the previous request path', async () => {
    const t = setup();
    const before = t.built[0]!;
    t.write({ ...base, limits: { maxBodyBytes: -1 } });
    const result = t.reload('file');
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toMatch(/invalid gatehouse\.yaml:\n {2}limits\.maxBodyBytes: /);
    expect(t.slot.current()).toBe(before);
    expect(before.closed).toBe(false);
    expect(t.lines.find((l) => l.level === 50)?.msg).toMatch(/config reload rejected, the previous configuration stays in force/);
    expect(await t.metric('gatehouse_config_reloads_total')).toContain('gatehouse_config_reloads_total{trigger="file",result="failure"} 1');
  });

  it('rejects a config whose new policy or clusters cannot be loaded, closing what it had opened', () => {
    const t = setup();
    const before = t.slot.current();
    t.write({ ...base, policy: { paths: ['/broken'] } });
    const broken = t.reload('signal');
    expect(!broken.ok && broken.reason).toMatch('/broken/p.yaml:3:5');
    t.write({ ...base, upstream: { kubeconfig: '/unreadable' }, policy: { paths: ['/fine'] } });
    expect(t.reload('signal')).toMatchObject({ ok: false, reason: 'cannot read kubeconfig /unreadable' });
    expect(t.opened[0]!.closed).toBe(true);
    expect(t.slot.current()).toBe(before);
  });

  it('opens a changed policy and retires the old handle', () => {
    const t = setup();
    t.write({ ...base, policy: { paths: ['/fine'] } });
    expect(t.reload('file')).toMatchObject({ ok: true, changed: ['policy'] });
    expect(t.slot.current().policy).toBe(t.opened[0]);
    expect(t.startPolicy.closed).toBe(true);
  });

  it('rejects a SIGHUP when the unchanged policy files no longer load', () => {
    const t = setup();
    const before = t.slot.current();
    (t.startPolicy as { reload: () => boolean }).reload = () => false;
    t.write({ ...base, limits: { maxBodyBytes: 1024 } });
    const result = t.reload('signal');
    expect(!result.ok && result.reason).toMatch(/policy files are invalid/);
    expect(t.slot.current()).toBe(before);
    expect(t.built.at(-1)!.closed).toBe(true);
  });

  it('reports restart-only changes, applies the rest, and keeps reporting them until a restart', async () => {
    const t = setup();
    t.write({ ...base, listen: { port: 7443 }, timeouts: { connectMs: 500 } });
    const result = t.reload('signal');
    expect(result).toMatchObject({ ok: true, changed: ['timeouts'], restartNeeded: [{ setting: 'listen' }] });
    expect(t.slot.current().config.listen.port).toBe(6443);
    expect(t.slot.current().config.timeouts.connectMs).toBe(500);
    expect(t.lines.find((l) => l.level === 40)?.msg).toBe('listen changed; takes effect after a restart');
    expect(await t.metric('gatehouse_config_restart_pending')).toContain('gatehouse_config_restart_pending 1');
    expect(t.reload('signal')).toMatchObject({ ok: true, changed: [], restartNeeded: [{ setting: 'listen' }] });
  });

  it('keeps the last reload with its time, and the settings waiting for a restart until the file puts them back', () => {
    const t = setup();
    expect(t.reload.status()).toEqual({ last: undefined, restartPending: [] });
    t.write({ ...base, listen: { port: 7443 } });
    t.reload('file');
    const applied = t.reload.status();
    expect(applied.last).toMatchObject({ ok: true, trigger: 'file', changed: [], restartNeeded: [{ setting: 'listen' }] });
    expect(Date.now() - Date.parse(applied.last!.at)).toBeLessThan(60_000);
    expect(applied.restartPending.map((r) => r.setting)).toEqual(['listen']);
    // A rejected reload is the last one; what an applied one left waiting still waits.
    t.write({ ...base, limits: { maxBodyBytes: -1 } });
    t.reload('signal');
    expect(t.reload.status()).toMatchObject({ last: { ok: false, trigger: 'signal', reason: expect.stringMatching(/limits\.maxBodyBytes/) as unknown }, restartPending: [{ setting: 'listen' }] });
    t.write(base);
    t.reload('file');
    expect(t.reload.status()).toMatchObject({ last: { ok: true }, restartPending: [] });
  });
});
