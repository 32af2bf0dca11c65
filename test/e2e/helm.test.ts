import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MASK_BASE64 } from '../../src/masking/index.js';
import { packageRoot } from '../../src/harness/binaries.js';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { identity } from './helpers/identities.js';
import { kubectlFor, run } from './helpers/run.js';
import type { Kubectl, RunResult } from './helpers/run.js';

// Helm (built from the Go module proxy by scripts/helm.sh) through the gateway with the built-in guardrails: Helm
// keeps each release's record in a Secret, which secret-reads masks; Helm's own reads of its records are left out
// for people and CI, and an agent's helm is refused with a message saying why (agent-helm-releases).
const cluster = inject('cluster');
const ns = `helm-${randomBytes(3).toString('hex')}`;
const work = mkdtempSync(join(tmpdir(), 'gatehouse-helm-'));
let direct: Kubectl;
let gateway: GatewayProcess;
let helmBin = '';
let chart = '';

const helm = (kubeconfig: string, args: string[]): Promise<RunResult> => run(helmBin, [...args, '--kubeconfig', kubeconfig, '-n', ns], { timeoutMs: 120_000 });

beforeAll(async () => {
  direct = kubectlFor(cluster.adminKubeconfig);
  const built = await run('bash', [join(await packageRoot(), 'scripts', 'helm.sh'), '--build'], { timeoutMs: 900_000 });
  if (built.code !== 0) throw new Error(`scripts/helm.sh --build failed:\n${built.stderr}`);
  helmBin = built.stdout.trim().split('\n').pop() ?? '';
  // `helm create`'s starter chart: a Deployment of nginx (tag pinned by the chart's appVersion), a Service, a ServiceAccount.
  const created = await run(helmBin, ['create', join(work, 'web')]);
  if (created.code !== 0) throw new Error(`helm create failed: ${created.stderr}`);
  chart = join(work, 'web');
  await direct.ok(['create', 'namespace', ns]);
  gateway = await startGatewayProcess(cluster.adminKubeconfig, ['--approval-hold', '0']);
}, 960_000);
afterAll(async () => {
  await direct?.(['delete', 'namespace', ns, '--wait=false']);
  await gateway?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('helm through the gateway', () => {
  it('installs, lists, upgrades, rolls back and uninstalls a release as a person; other reads of its records stay masked', async () => {
    const kubeconfig = gateway.adminKubeconfig;
    const installed = await helm(kubeconfig, ['install', 'shop', chart]);
    expect(installed.code, installed.stderr).toBe(0);
    expect(installed.stdout).toContain('STATUS: deployed');

    const listed = await helm(kubeconfig, ['list', '-o', 'json']);
    expect(listed.code, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as { name: string; revision: string; status: string }[]).map((r) => [r.name, r.revision, r.status])).toEqual([['shop', '1', 'deployed']]);

    // An upgrade reads the last release's record (with its manifest, for the three-way merge) and writes two.
    const upgraded = await helm(kubeconfig, ['upgrade', 'shop', chart, '--set', 'replicaCount=2']);
    expect(upgraded.code, upgraded.stderr).toBe(0);
    expect(upgraded.stdout).toContain('REVISION: 2');
    const history = await helm(kubeconfig, ['history', 'shop', '-o', 'json']);
    expect((JSON.parse(history.stdout) as { revision: number; status: string }[]).map((r) => [r.revision, r.status])).toEqual([
      [1, 'superseded'],
      [2, 'deployed'],
    ]);
    expect(await direct.ok(['-n', ns, 'get', 'deployment', 'shop-web', '-o', 'jsonpath={.spec.replicas}'])).toBe('2');
    const rolledBack = await helm(kubeconfig, ['rollback', 'shop', '1']);
    expect(rolledBack.code, rolledBack.stderr).toBe(0);
    expect(await direct.ok(['-n', ns, 'get', 'deployment', 'shop-web', '-o', 'jsonpath={.spec.replicas}'])).toBe('1');
    const status = await helm(kubeconfig, ['status', 'shop', '-o', 'json']);
    expect(JSON.parse(status.stdout)).toMatchObject({ name: 'shop', version: 3, info: { status: 'deployed' } });

    // A record read by name is Helm's kind of read (helm get reads it so): as stored. A list of the namespace's
    // Secrets, or a Secret's write, is like any other: masked.
    const asPerson = kubectlFor(kubeconfig);
    expect(await asPerson.ok(['-n', ns, 'get', 'secret', 'sh.helm.release.v1.shop.v2', '-o', 'jsonpath={.data.release}'])).not.toBe(MASK_BASE64);
    expect((await asPerson.ok(['-n', ns, 'get', 'secrets', '-o', 'jsonpath={.items[*].data.release}'])).split(' ')).toEqual([MASK_BASE64, MASK_BASE64, MASK_BASE64]);

    const uninstalled = await helm(kubeconfig, ['uninstall', 'shop']);
    expect(uninstalled.code, uninstalled.stderr).toBe(0);
    expect((await direct(['-n', ns, 'get', 'deployment', 'shop-web'])).code).toBe(1);
  }, 300_000);

  it("refuses an agent's helm every read of a release record, with a message that says why", async () => {
    const agent = await identity(gateway, 'helm-agent', ns, { kind: 'agent', groups: 'ai-agents' });
    const listed = await helm(agent.kubeconfig, ['list']);
    expect(listed.code).toBe(1);
    expect(listed.stderr).toContain('denied by policy rule "agent-helm-releases"');
    expect(listed.stderr).toContain('run helm from CI or as a person');
    // An install only writes (Helm takes a failed look for an earlier release as "none"): it goes through.
    const installed = await helm(agent.kubeconfig, ['install', 'agent-shop', chart]);
    expect(installed.code, installed.stderr).toBe(0);
    const upgraded = await helm(agent.kubeconfig, ['upgrade', 'agent-shop', chart, '--set', 'replicaCount=3']);
    expect(upgraded.code).toBe(1);
    expect(upgraded.stderr).toContain('agent-helm-releases');
    expect(await direct.ok(['-n', ns, 'get', 'deployment', 'agent-shop-web', '-o', 'jsonpath={.spec.replicas}'])).toBe('1');
    // A person can take it from there.
    const uninstalled = await helm(gateway.adminKubeconfig, ['uninstall', 'agent-shop']);
    expect(uninstalled.code, uninstalled.stderr).toBe(0);
  }, 300_000);
});
