import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { normalizeAges } from './helpers/normalize.js';
import { kubectlFor, run } from './helpers/run.js';
import type { Kubectl } from './helpers/run.js';

// The same kubectl scenario runs directly against the API server and through
// the gateway; the outputs must be the same.
const cluster = inject('cluster');
const ns = `parity-${randomBytes(3).toString('hex')}`;
let gateway: GatewayProcess;
let direct: Kubectl;
let via: Kubectl;

beforeAll(async () => {
  gateway = await startGatewayProcess(cluster.adminKubeconfig);
  direct = kubectlFor(cluster.adminKubeconfig);
  via = kubectlFor(gateway.adminKubeconfig);
  await direct.ok(['create', 'namespace', ns]);
});

afterAll(async () => {
  await direct?.(['delete', 'namespace', ns, '--wait=false']);
  await gateway?.stop();
});

/** Runs the same arguments both ways and returns both outputs. */
async function both(args: string[]): Promise<[string, string]> {
  const a = await direct.ok(args);
  const b = await via.ok(args);
  return [a, b];
}

describe('discovery and reads', () => {
  it('reports the same server version', async () => {
    const [a, b] = await both(['version', '-o', 'json']);
    const serverA = (JSON.parse(a) as { serverVersion: unknown }).serverVersion;
    const serverB = (JSON.parse(b) as { serverVersion: { gitVersion: string } }).serverVersion;
    expect(serverB).toEqual(serverA);
    expect(serverB.gitVersion).toBe('v1.33.13');
  });

  it('lists the same api-resources', async () => {
    const [a, b] = await both(['api-resources']);
    expect(b).toBe(a);
    expect(b).toMatch(/deployments\s+deploy\s+apps\/v1\s+true\s+Deployment/);
  });

  it('prints the same server-side tables, YAML and JSON', async () => {
    await direct.ok(['-n', ns, 'create', 'configmap', 'reads', '--from-literal=colour=blue']);
    for (const args of [
      ['get', 'namespaces'],
      ['-n', ns, 'get', 'configmaps'],
      ['-n', ns, 'get', 'configmap', 'reads', '-o', 'yaml'],
      ['-n', ns, 'get', 'configmap', 'reads', '-o', 'json'],
      ['get', 'clusterroles', '--chunk-size=5', '-o', 'name'],
      ['-n', ns, 'describe', 'configmap', 'reads'],
    ]) {
      const [a, b] = await both(args);
      expect(normalizeAges(b), args.join(' ')).toBe(normalizeAges(a));
    }
  });

  it('answers auth can-i as the cluster does when policy allows, and whoami for the caller, not the gateway-held credential', async () => {
    const [a, b] = await both(['auth', 'can-i', 'create', 'pods', '-n', ns]);
    expect(b).toBe(a);
    expect(b.trim()).toBe('yes');
    // Upstream, whoami would name the gateway's credential; the gateway names the caller (its bootstrap admin here).
    const [whoA, whoB] = await both(['auth', 'whoami', '-o', 'json']);
    type Review = { status: { userInfo: { username: string; groups: string[] } } };
    const upstream = (JSON.parse(whoA) as Review).status.userInfo;
    expect((JSON.parse(whoB) as Review).status.userInfo).toMatchObject({ username: 'gatehouse-admin', groups: ['gatehouse:admins'] });
    expect(upstream.username).not.toBe('gatehouse-admin');
  });
});

describe('writes', () => {
  const manifest = (name: string, replicas: number, image = 'registry.example/web:1'): string =>
    JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: ns, labels: { app: name } },
      spec: {
        replicas,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'web', image }] } },
      },
    });

  it('applies client-side: created, unchanged, configured', async () => {
    for (const [kubectl, name] of [
      [direct, 'apply-d'],
      [via, 'apply-g'],
    ] as const) {
      expect(await kubectl.ok(['apply', '-f', '-'], { input: manifest(name, 1) })).toBe(`deployment.apps/${name} created\n`);
      expect(await kubectl.ok(['apply', '-f', '-'], { input: manifest(name, 1) })).toBe(`deployment.apps/${name} unchanged\n`);
      expect(await kubectl.ok(['apply', '-f', '-'], { input: manifest(name, 1, 'registry.example/web:2') })).toBe(
        `deployment.apps/${name} configured\n`,
      );
    }
    const image = await direct.ok(['-n', ns, 'get', 'deploy', 'apply-g', '-o', 'jsonpath={.spec.template.spec.containers[0].image}']);
    expect(image).toBe('registry.example/web:2');
  });

  it('applies server-side with a field manager', async () => {
    const out = await via.ok(['apply', '--server-side', '--field-manager=gatehouse-e2e', '-f', '-'], { input: manifest('ssa', 1) });
    expect(out).toBe('deployment.apps/ssa serverside-applied\n');
    const managers = await direct.ok(['-n', ns, 'get', 'deploy', 'ssa', '--show-managed-fields', '-o', 'jsonpath={.metadata.managedFields[*].manager}']);
    expect(managers.split(' ')).toContain('gatehouse-e2e');
  });

  it('patches with JSON, merge and strategic merge patches', async () => {
    await via.ok(['-n', ns, 'create', 'configmap', 'patched', '--from-literal=a=1']);
    expect(await via.ok(['-n', ns, 'patch', 'configmap', 'patched', '--type=json', '-p', '[{"op":"add","path":"/data/b","value":"2"}]'])).toBe(
      'configmap/patched patched\n',
    );
    await via.ok(['-n', ns, 'patch', 'configmap', 'patched', '--type=merge', '-p', '{"data":{"c":"3"}}']);
    await via.ok(['apply', '-f', '-'], { input: manifest('strategic', 1) });
    await via.ok(['-n', ns, 'patch', 'deploy', 'strategic', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"registry.example/side:1"}]}}}}']);
    const data = JSON.parse(await direct.ok(['-n', ns, 'get', 'configmap', 'patched', '-o', 'jsonpath={.data}'])) as unknown;
    expect(data).toEqual({ a: '1', b: '2', c: '3' });
    const names = await direct.ok(['-n', ns, 'get', 'deploy', 'strategic', '-o', 'jsonpath={.spec.template.spec.containers[*].name}']);
    expect(names.split(' ').sort()).toEqual(['sidecar', 'web']);
  });

  it('edits through KUBE_EDITOR', async () => {
    await via.ok(['-n', ns, 'create', 'configmap', 'edited', '--from-literal=mood=calm']);
    const out = await via.ok(['-n', ns, 'edit', 'configmap', 'edited'], { env: { KUBE_EDITOR: "sed -i -e 's/mood: calm/mood: edited/'" } });
    expect(out).toBe('configmap/edited edited\n');
    expect(await direct.ok(['-n', ns, 'get', 'configmap', 'edited', '-o', 'jsonpath={.data.mood}'])).toBe('edited');
  });

  it('scales a deployment and waits for its rollout', async () => {
    await via.ok(['apply', '-f', '-'], { input: manifest('scaled', 1) });
    expect(await via.ok(['-n', ns, 'scale', 'deploy/scaled', '--replicas=2'])).toBe('deployment.apps/scaled scaled\n');
    const status = await via.ok(['-n', ns, 'rollout', 'status', 'deploy/scaled', '--timeout=90s'], { timeoutMs: 100_000 });
    expect(status).toContain('successfully rolled out');
    expect(await direct.ok(['-n', ns, 'get', 'deploy', 'scaled', '-o', 'jsonpath={.status.readyReplicas}'])).toBe('2');
  });

  it('deletes', async () => {
    await via.ok(['-n', ns, 'create', 'configmap', 'doomed']);
    expect(await via.ok(['-n', ns, 'delete', 'configmap', 'doomed'])).toBe('configmap "doomed" deleted\n');
    const gone = await direct(['-n', ns, 'get', 'configmap', 'doomed']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('NotFound');
  });

  it('relays API server errors unchanged', async () => {
    const a = await direct(['-n', ns, 'get', 'configmap', 'never-existed']);
    const b = await via(['-n', ns, 'get', 'configmap', 'never-existed']);
    expect(b.code).toBe(1);
    expect(b.stderr).toBe(a.stderr);
    expect(b.stderr).toContain('Error from server (NotFound): configmaps "never-existed" not found');
  });
});

describe('gatehouse kubeconfig', () => {
  it('writes a kubeconfig that kubectl uses through the gateway', async () => {
    const out = join(gateway.dataDir, 'written.kubeconfig');
    const written = await run(process.execPath, [
      'bin/gatehouse.js',
      'kubeconfig',
      '--token-env',
      'GH_TOKEN',
      '--server',
      gateway.url,
      '--data-dir',
      gateway.dataDir,
      '--namespace',
      ns,
      '-o',
      out,
    ], { env: { GH_TOKEN: gateway.adminToken } });
    expect(written.code, written.stderr).toBe(0);
    await direct.ok(['-n', ns, 'create', 'configmap', 'via-written-kubeconfig']);
    // The context's namespace applies: no -n needed.
    expect(await kubectlFor(out).ok(['get', 'configmap', 'via-written-kubeconfig', '-o', 'name'])).toBe('configmap/via-written-kubeconfig\n');
  });
});

describe('large bodies', () => {
  it('forwards a 1 MiB object and returns it intact', async () => {
    const value = 'x'.repeat(1024 * 1024);
    const cm = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'large', namespace: ns }, data: { blob: value } });
    expect(await via.ok(['create', '-f', '-'], { input: cm })).toBe('configmap/large created\n');
    const back = await via.ok(['-n', ns, 'get', 'configmap', 'large', '-o', 'jsonpath={.data.blob}']);
    expect(back.length).toBe(value.length);
    expect(back).toBe(value);
  });
});
