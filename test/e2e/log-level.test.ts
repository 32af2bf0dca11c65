import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { kubectlFor, run } from './helpers/run.js';
import type { Kubectl } from './helpers/run.js';
import { waitFor } from './helpers/wait.js';

// An operator turns on debug logging of a running gateway with
// `gatehouse log-level debug`, chases a problem, and turns it off again.
const cluster = inject('cluster');
const ns = `loglevel-${randomBytes(3).toString('hex')}`;
let gateway: GatewayProcess;
let direct: Kubectl;
let via: Kubectl;

const cli = (args: string[]) => run(process.execPath, ['bin/gatehouse.js', ...args, '--kubeconfig', gateway.adminKubeconfig]);

/** Parsed log lines of debug level (20) about requests to this namespace. */
const debugLines = (): { requestId: string; url: string }[] =>
  gateway
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('{') && l.includes('"level":20') && l.includes(`/namespaces/${ns}/`))
    .map((l) => JSON.parse(l) as { requestId: string; url: string });


beforeAll(async () => {
  direct = kubectlFor(cluster.adminKubeconfig);
  await direct.ok(['create', 'namespace', ns]);
  gateway = await startGatewayProcess(cluster.adminKubeconfig);
  via = kubectlFor(gateway.adminKubeconfig);
}, 120_000);
afterAll(async () => {
  await direct?.(['delete', 'namespace', ns, '--wait=false']);
  await gateway?.stop();
});

describe('gatehouse log-level', () => {
  it('turns debug lines on and off in a running gateway, and the change is logged', async () => {
    const shown = await cli(['log-level']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toBe('info\n');

    await via.ok(['-n', ns, 'get', 'configmaps']);
    await waitFor('the access line', () => (gateway.stderr().includes(`"path":"/api/v1/namespaces/${ns}/configmaps"`) ? true : undefined), 15_000);
    expect(debugLines()).toHaveLength(0);

    const up = await cli(['log-level', 'debug']);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/: info → debug\n$/);
    expect((await cli(['log-level'])).stdout).toBe('debug\n');
    await via.ok(['-n', ns, 'get', 'configmaps']);
    const debug = await waitFor('a debug line', () => debugLines()[0], 15_000);
    expect(debug.url).toMatch(new RegExp(`^/api/v1/namespaces/${ns}/configmaps(\\?|$)`));
    const changed = gateway
      .stderr()
      .split('\n')
      .find((l) => l.includes('"msg":"log level changed"'));
    expect(JSON.parse(changed!)).toMatchObject({ level: 30, from: 'info', to: 'debug', by: 'gatehouse-admin' });

    const down = await cli(['log-level', 'info']);
    expect(down.code, down.stderr).toBe(0);
    const before = debugLines().length;
    await via.ok(['-n', ns, 'get', 'configmaps', 'x', '--ignore-not-found']);
    await waitFor('the last access line', () => (gateway.stderr().includes(`"path":"/api/v1/namespaces/${ns}/configmaps/x"`) ? true : undefined), 15_000);
    expect(debugLines()).toHaveLength(before);
  });

  it('refuses an unknown level before calling, and a caller who is not an admin', async () => {
    const bad = await cli(['log-level', 'loud']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('unknown log level "loud"');
    const stranger = await run(process.execPath, ['bin/gatehouse.js', 'log-level', 'debug', '--server', gateway.url, '--token', 'not-a-token', '--ca-file', `${gateway.dataDir}/ca.crt`]);
    expect(stranger.code).not.toBe(0);
    expect(stranger.stderr).toMatch(/401/);
    expect((await cli(['log-level'])).stdout).toBe('info\n');
  });
});
