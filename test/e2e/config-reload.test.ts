import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { kubectlFor } from './helpers/run.js';
import type { Kubectl } from './helpers/run.js';
import { waitFor } from './helpers/wait.js';

// SIGHUP and edits of gatehouse.yaml reload the configuration: live settings
// change for the next request, an invalid file is rejected while the previous
// configuration keeps serving, restart-only settings are reported.
const cluster = inject('cluster');
const ns = `reload-${randomBytes(3).toString('hex')}`;
const configFile = join(tmpdir(), `gatehouse-reload-${ns}.yaml`);
let gateway: GatewayProcess;
let direct: Kubectl;
let via: Kubectl;
let metricsUrl: string;

/** 20 KB of configmap data: over the 4 KiB limit set below, far under the default. */
const bigValue = 'x'.repeat(20_000);


/** {@link waitFor}, and on a timeout the gateway's last log lines. */
const untilLogged = <T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> => waitFor(what, probe, 30_000, () => gateway.stderr().slice(-4000));

/** Log lines (JSON) printed after `from` characters of stderr. */
const logLines = (from: number): Record<string, unknown>[] =>
  gateway
    .stderr()
    .slice(from)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

async function sample(name: string): Promise<number> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

/** Writes the file (and, for a signal, sends SIGHUP), then waits for the reload's outcome in the log. */
async function reloadWith(config: object | string, how: 'signal' | 'file'): Promise<Record<string, unknown>> {
  const from = gateway.stderr().length;
  writeFileSync(configFile, typeof config === 'string' ? config : stringify(config));
  if (how === 'signal') process.kill(gateway.pid, 'SIGHUP');
  return untilLogged(`a ${how} reload`, () => logLines(from).find((l) => l.trigger === how && /^config reload/.test(String(l.msg))));
}

const createBig = (name: string) => via(['create', 'configmap', name, '-n', ns, `--from-literal=blob=${bigValue}`]);
const viaSecond = (args: string[]) => via([`--server=${gateway.url}/clusters/second`, ...args]);

beforeAll(async () => {
  direct = kubectlFor(cluster.adminKubeconfig);
  await direct.ok(['create', 'namespace', ns]);
  writeFileSync(configFile, stringify({ log: { level: 'info' } }));
  gateway = await startGatewayProcess(cluster.adminKubeconfig, ['--config', configFile, '--metrics-listen', '127.0.0.1:0']);
  via = kubectlFor(gateway.adminKubeconfig);
  metricsUrl = /metrics at (http:\/\/\S+)\/metrics/.exec(gateway.stderr())![1]!;
}, 120_000);
afterAll(async () => {
  await direct?.(['delete', 'namespace', ns, '--wait=false']);
  await gateway?.stop();
});

describe('config reload', () => {
  it('applies a new body limit and a new cluster on SIGHUP', async () => {
    expect((await createBig('before')).code).toBe(0);
    // Not configured yet: the gateway answers 404 for the unknown cluster.
    const unknown = await viaSecond(['get', 'namespace', ns]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/NotFound/);

    // A watch open across the reload keeps the request path it started on (and its upstream connection).
    const watch = spawn('kubectl', ['get', 'configmaps', '-n', ns, '--watch-only', '-o', 'name'], { env: { ...process.env, KUBECONFIG: gateway.adminKubeconfig } });
    let watched = '';
    watch.stdout.setEncoding('utf8').on('data', (d: string) => (watched += d));
    await untilLogged('the watch to be open', async () => ((await sample('gatehouse_open_watches')) === 1 ? true : undefined));

    const outcome = await reloadWith({ limits: { maxBodyBytes: 4096 }, clusters: [{ name: 'second', kubeconfig: cluster.adminKubeconfig }] }, 'signal');
    expect(outcome.msg).toBe('config reloaded: clusters, limits changed');
    await direct.ok(['create', 'configmap', 'made-after-reload', '-n', ns]);
    await untilLogged('the watch to see it', () => (watched.includes('configmap/made-after-reload') ? true : undefined));
    watch.kill();

    const refused = await createBig('after');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/exceeds the gateway limit of 4096 bytes/);
    expect(await viaSecond(['get', 'namespace', ns, '-o', 'name'])).toMatchObject({ code: 0, stdout: `namespace/${ns}\n` });
    expect(await sample('gatehouse_config_reloads_total{trigger="signal",result="success"}')).toBeGreaterThanOrEqual(1);
    expect(await sample('gatehouse_config_last_reload_successful')).toBe(1);
  });

  it('rejects an invalid file with its path and reason; requests keep being served under the previous config', async () => {
    const failuresBefore = await sample('gatehouse_config_reloads_total{trigger="signal",result="failure"}');
    const outcome = await reloadWith({ limits: { maxBodyBytes: 'lots' } }, 'signal');
    expect(outcome.level).toBe(50);
    expect(outcome.msg).toMatch(/config reload rejected, the previous configuration stays in force/);
    expect(outcome.reason).toMatch(new RegExp(`invalid ${configFile.replaceAll('.', '\\.')}:\\n {2}limits\\.maxBodyBytes: `));
    expect(await sample('gatehouse_config_reloads_total{trigger="signal",result="failure"}')).toBe(failuresBefore + 1);
    expect(await sample('gatehouse_config_last_reload_successful')).toBe(0);

    const yaml = await reloadWith('limits: [unclosed\n', 'signal');
    expect(yaml.reason).toMatch(/invalid YAML in .* at line \d+, column \d+/);

    // Still the 4 KiB limit and the second cluster of the last good config.
    expect((await createBig('still-refused')).stderr).toMatch(/exceeds the gateway limit of 4096 bytes/);
    expect((await viaSecond(['get', 'namespace', ns])).code).toBe(0);
    expect((await via(['get', 'configmaps', '-n', ns])).code).toBe(0);
  });

  it('picks up an edit of the file by itself and reports a restart-only change while applying the rest', async () => {
    const from = gateway.stderr().length;
    writeFileSync(configFile, stringify({ store: { sqlite: { path: 'elsewhere.db' } } }));
    // Matched by content: a watch event of an earlier write may still report its own (rejected or no-op) reload.
    await untilLogged('the file reload', () => logLines(from).find((l) => l.trigger === 'file' && l.msg === 'config reloaded: clusters, limits changed'));
    const warning = await untilLogged('the restart warning', () => logLines(from).find((l) => l.msg === 'store changed; takes effect after a restart'));
    expect(warning).toMatchObject({ level: 40, setting: 'store', trigger: 'file' });
    expect(await sample('gatehouse_config_restart_pending')).toBe(1);
    expect(await sample('gatehouse_config_last_reload_successful')).toBe(1);
    // The default limit is back and the second cluster is gone.
    expect((await createBig('after-edit')).code).toBe(0);
    expect((await viaSecond(['get', 'namespace', ns])).code).not.toBe(0);
  });
});
