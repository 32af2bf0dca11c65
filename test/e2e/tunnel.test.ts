import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startCluster } from '../../src/harness/index.js';
import type { Cluster } from '../../src/harness/index.js';
import { kubeconfigYaml } from '../../src/harness/kubeconfig.js';
import { freePorts } from '../../src/harness/ports.js';
import { startAgentProcess, waitForAgents } from './helpers/agent.js';
import type { AgentProcess } from './helpers/agent.js';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { rawRequest } from './helpers/https.js';
import { gatehouse } from './helpers/identities.js';
import { startLongRunning } from './helpers/long-running.js';
import { createNetworkNamespace } from './helpers/netns.js';
import { kubectlFor, run } from './helpers/run.js';
import type { Kubectl } from './helpers/run.js';
import { streamingScenarios } from './helpers/scenarios.js';

// Two clusters behind one gateway: "prod" (the shared e2e control plane) reached only through `gatehouse agent`
// processes that dial out to the gateway with the shipped least-privilege RBAC (impersonation mode), and
// "staging" (a second control plane started here) reached directly. Real kubectl throughout.
const prod = inject('cluster');
const ns = `tunnel-${randomBytes(3).toString('hex')}`;
const work = mkdtempSync(join(tmpdir(), 'gatehouse-tunnel-'));
let staging: Cluster;
let gateway: GatewayProcess;
let directProd: Kubectl;
let directStaging: Kubectl;
let viaProd: Kubectl;
let viaStaging: Kubectl;
let tokenFile = '';
let agentKubeconfig = '';
const agents: AgentProcess[] = [];
let pod = '';

/** A watch read as raw bytes; `ended` says whether the stream ended cleanly (its terminating chunk) or was cut. */
function streamWatch(path: string): { text: () => string; ended: Promise<{ text: string; clean: boolean }> } {
  let text = '';
  const base = new URL(gateway.url);
  const ended = new Promise<{ text: string; clean: boolean }>((resolve) => {
    const req = httpsRequest(
      { hostname: base.hostname, port: base.port, path, headers: { authorization: `Bearer ${gateway.adminToken}` }, ca: readFileSync(join(gateway.dataDir, 'ca.crt')) },
      (res) => {
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ text, clean: true }));
        res.on('error', () => resolve({ text, clean: false }));
      },
    );
    req.on('error', () => resolve({ text, clean: false }));
    req.end();
  });
  return { text: () => text, ended };
}

const startAgent = async (): Promise<AgentProcess> => {
  const agent = await startAgentProcess({ gateway, cluster: 'prod', tokenFile, kubeconfig: agentKubeconfig });
  agents.push(agent);
  return agent;
};

beforeAll(async () => {
  staging = await startCluster({ binDir: prod.binDir, log: () => undefined });
  directProd = kubectlFor(prod.adminKubeconfig);
  directStaging = kubectlFor(staging.adminKubeconfig);

  // The agent's identity in prod: the shipped namespace, ServiceAccount and RBAC, applied for real.
  const manifests = join(process.cwd(), 'deploy/kubernetes/agent');
  await directProd.ok(['apply', '-f', join(manifests, 'namespace.yaml'), '-f', join(manifests, 'serviceaccount.yaml'), '-f', join(manifests, 'rbac.yaml')]);
  const saToken = (await directProd.ok(['-n', 'gatehouse-agent', 'create', 'token', 'gatehouse-agent', '--duration=2h'])).trim();
  agentKubeconfig = join(work, 'agent.kubeconfig');
  writeFileSync(agentKubeconfig, kubeconfigYaml('prod', prod.server, prod.caPem, { token: saToken }));

  // The impersonated admin's rights in each cluster's test namespace come from that cluster's RBAC.
  for (const k of [directProd, directStaging]) {
    await k.ok(['create', 'namespace', ns]);
    await k.ok(['-n', ns, 'create', 'rolebinding', 'gatehouse-admins', '--clusterrole=admin', '--group=gatehouse:admins']);
  }
  await directProd.ok(['-n', ns, 'create', 'deployment', 'web', '--image=registry.invalid/web:1']);
  await directProd.ok(['-n', ns, 'rollout', 'status', 'deployment/web', '--timeout=90s'], { timeoutMs: 100_000 });
  pod = (await directProd.ok(['-n', ns, 'get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();

  const policy = join(work, 'clusters-policy.yaml');
  writeFileSync(
    policy,
    [
      'apiVersion: gatehouse.dev/v1alpha1',
      'kind: Policy',
      'metadata: { name: per-cluster }',
      'spec:',
      '  rules:',
      '    - name: keep-prod-configmaps',
      '      match: { clusters: [prod], verbs: [delete], resources: [{ group: "", resource: configmaps }] }',
      '      action: deny',
      '      message: configmaps in prod are not deleted through Gatehouse',
      '',
    ].join('\n'),
  );
  const config = join(work, 'gatehouse.yaml');
  writeFileSync(config, ['upstream:', '  name: staging', 'clusters:', '  - name: prod', '    agent: { waitSeconds: 8 }', ''].join('\n'));
  gateway = await startGatewayProcess(staging.adminKubeconfig, ['--config', config, '--impersonate', '--policy', policy]);

  tokenFile = join(work, 'prod.token');
  const added = await gatehouse(['clusters', 'add', 'prod', '--kubeconfig', gateway.adminKubeconfig, '--description', 'e2e', '-o', tokenFile]);
  expect(added.code, added.stderr).toBe(0);
  expect(added.stderr).toContain('gatehouse agent --gateway');
  await startAgent();
  await waitForAgents(gateway, 'prod', 1);

  const kubeconfigFor = async (cluster: string | undefined): Promise<string> => {
    const out = join(work, `${cluster ?? 'default'}.kubeconfig`);
    const args = ['kubeconfig', '--server', gateway.url, '--data-dir', gateway.dataDir, '--token', gateway.adminToken, '-o', out];
    const r = await gatehouse(cluster === undefined ? args : [...args, '--cluster', cluster]);
    expect(r.code, r.stderr).toBe(0);
    return out;
  };
  viaProd = kubectlFor(await kubeconfigFor('prod'));
  viaStaging = kubectlFor(await kubeconfigFor(undefined));
}, 300_000);

afterAll(async () => {
  for (const a of agents) await a.kill('SIGTERM');
  await gateway?.stop();
  await directProd?.(['delete', 'namespace', ns, '--wait=false']);
  await directProd?.(['delete', '-f', join(process.cwd(), 'deploy/kubernetes/agent/rbac.yaml'), '--ignore-not-found']);
  await staging?.stop();
  rmSync(work, { recursive: true, force: true });
}, 120_000);

describe('two clusters behind one gateway', () => {
  it('routes by the kubeconfig: /clusters/prod through the agent, the default cluster directly', async () => {
    const tag = randomBytes(3).toString('hex');
    await viaProd.ok(['-n', ns, 'create', 'configmap', `in-prod-${tag}`]);
    await viaStaging.ok(['-n', ns, 'create', 'configmap', `in-staging-${tag}`]);
    const names = async (k: Kubectl) => (await k.ok(['-n', ns, 'get', 'configmaps', '-o', 'name'])).split('\n');
    expect(await names(directProd)).toContain(`configmap/in-prod-${tag}`);
    expect(await names(directProd)).not.toContain(`configmap/in-staging-${tag}`);
    expect(await names(directStaging)).toContain(`configmap/in-staging-${tag}`);
    expect(await names(directStaging)).not.toContain(`configmap/in-prod-${tag}`);
    expect(await names(viaProd)).toContain(`configmap/in-prod-${tag}`);
  });

  it('lets policy match on the cluster name', async () => {
    const tag = randomBytes(3).toString('hex');
    await viaProd.ok(['-n', ns, 'create', 'configmap', `keep-${tag}`]);
    await viaStaging.ok(['-n', ns, 'create', 'configmap', `keep-${tag}`]);
    const refused = await viaProd(['-n', ns, 'delete', 'configmap', `keep-${tag}`]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('configmaps in prod are not deleted through Gatehouse');
    await viaStaging.ok(['-n', ns, 'delete', 'configmap', `keep-${tag}`]);
  });

  it('answers an unknown cluster with a 404 Status naming the ones it has', async () => {
    const res = await rawRequest(gateway.url, {
      path: '/clusters/nope/api/v1/namespaces',
      headers: { authorization: `Bearer ${gateway.adminToken}` },
      caPem: readFileSync(join(gateway.dataDir, 'ca.crt'), 'utf8'),
    });
    expect(res.status).toBe(404);
    const status = JSON.parse(res.body.toString()) as { kind: string; reason: string; message: string };
    expect(status).toMatchObject({ kind: 'Status', reason: 'NotFound' });
    expect(status.message).toBe('this gateway has no cluster "nope"; it serves staging, prod');
  });

  it('records the cluster of every request and shows the agent to admins', async () => {
    const listed = await waitForAgents(gateway, 'prod', 1);
    expect(listed.mode).toBe('agent');
    expect(listed.agents[0]?.kubernetesVersion).toMatch(/^v1\./);
    const text = await gatehouse(['clusters', '--kubeconfig', gateway.adminKubeconfig]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/prod\s+agent\s+\S*\s*https:\/\/127\.0\.0\.1:\d+\s+1\s+connected/);
    expect(text.stdout).toMatch(/staging\s+direct\s+yes/);

    await viaProd.ok(['-n', ns, 'get', 'configmaps']);
    await viaStaging.ok(['-n', ns, 'get', 'configmaps']);
    const exported = await gatehouse(['audit', 'export', '--data-dir', gateway.dataDir, '--format', 'jsonl']);
    expect(exported.code, exported.stderr).toBe(0);
    const events = exported.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { event: { request: { cluster?: string; namespace: string; resource: string; verb: string } } }).event);
    const lists = events.filter((e) => e.request.namespace === ns && e.request.resource === 'configmaps' && e.request.verb === 'list');
    expect(new Set(lists.map((e) => e.request.cluster))).toEqual(new Set(['prod', 'staging']));
  });
});

describe('the full kubectl scenario through the agent tunnel', () => {
  it('creates, reads, patches, watches and deletes', async () => {
    const name = `tunnel-${randomBytes(3).toString('hex')}`;
    const watcher = startLongRunning('kubectl', ['-n', ns, 'get', 'configmaps', '-w', '-o', 'name'], { KUBECONFIG: viaProd.kubeconfig });
    try {
      await viaProd.ok(['-n', ns, 'create', 'configmap', name, '--from-literal=a=1']);
      await expect(watcher.nextLine(new RegExp(`configmap/${name}`))).resolves.toBe(`configmap/${name}`);
      await viaProd.ok(['-n', ns, 'patch', 'configmap', name, '-p', '{"data":{"a":"2"}}']);
      expect(await viaProd.ok(['-n', ns, 'get', 'configmap', name, '-o', 'jsonpath={.data.a}'])).toBe('2');
      await viaProd.ok(['-n', ns, 'label', 'configmap', name, 'seen=yes']);
      expect(await directProd.ok(['-n', ns, 'get', 'configmap', name, '-o', 'jsonpath={.metadata.labels.seen}'])).toBe('yes');
      // A body far larger than one tunnel frame.
      const big = randomBytes(400 * 1024).toString('base64');
      writeFileSync(join(work, 'big.txt'), big);
      await viaProd.ok(['-n', ns, 'create', 'configmap', `${name}-big`, `--from-file=big=${join(work, 'big.txt')}`]);
      expect(await viaProd.ok(['-n', ns, 'get', 'configmap', `${name}-big`, '-o', 'jsonpath={.data.big}'])).toBe(big);
    } finally {
      watcher.stop();
    }
  });

  streamingScenarios({ kubectl: () => viaProd, cluster: prod, namespace: () => ns, pod: () => pod });
});

describe('agent failures', () => {
  it('ends a watch cleanly when its agent dies, waits for the agent to come back, and shares load over two agents', async () => {
    // A raw watch, to see the bytes: the events so far, then an ERROR event and a clean end of the stream. It starts
    // now, so the agent dies between events (a watch cut inside one, e.g. the 400 KiB ConfigMap above, is cut).
    const rv = await directProd.ok(['-n', ns, 'get', 'configmaps', '-o', 'jsonpath={.metadata.resourceVersion}']);
    const watched = streamWatch(`/clusters/prod/api/v1/namespaces/${ns}/configmaps?watch=1&resourceVersion=${rv}`);
    await viaProd.ok(['-n', ns, 'create', 'configmap', `before-agent-dies-${randomBytes(3).toString('hex')}`]);
    await expect.poll(() => watched.text(), { timeout: 30_000, interval: 100 }).toContain('"type":"ADDED"');
    const [first] = agents.splice(0);
    await first!.kill('SIGKILL');
    const { text, clean } = await watched.ended;
    expect(clean).toBe(true);
    const last = JSON.parse(text.trim().split('\n').at(-1)!) as { type: string; object: { kind: string; code: number; message: string } };
    expect(last.type).toBe('ERROR');
    expect(last.object).toMatchObject({ kind: 'Status', code: 503 });
    expect(last.object.message).toMatch(/^the watch was cut off: .*the tunnel to the cluster agent closed.*; watch again$/);
    // …and its record says who cut it (a read: recorded just after its answer ended; the latest such watch).
    const cutWatch = async (): Promise<unknown> => {
      const exported = await gatehouse(['audit', 'export', '--data-dir', gateway.dataDir, '--format', 'jsonl']);
      return exported.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { event: { request: { path: string; query: string; verb: string }; result: { status: number; cut?: string } } }).event)
        .filter((e) => e.request.verb === 'watch' && e.request.path.endsWith(`/namespaces/${ns}/configmaps`) && e.request.query === `watch=1&resourceVersion=${rv}`)
        .at(-1)?.result;
    };
    await expect.poll(cutWatch, { timeout: 30_000, interval: 200 }).toMatchObject({ status: 200, cut: 'upstream' });

    // With no agent, a request waits (agent.waitSeconds) for one to connect instead of failing at once.
    const waiting = viaProd(['-n', ns, 'get', 'configmaps', '-o', 'name'], { timeoutMs: 60_000 });
    await startAgent();
    const answered = await waiting;
    expect(answered.code, answered.stderr).toBe(0);
    expect(answered.stdout).toContain('configmap/');

    // A second agent: both connected; killing one leaves the other serving at once.
    await startAgent();
    await waitForAgents(gateway, 'prod', 2);
    const victim = agents.shift()!;
    await victim.kill('SIGKILL');
    await waitForAgents(gateway, 'prod', 1);
    await viaProd.ok(['-n', ns, 'get', 'configmaps']);
  });

  it('answers 503 with the reason when no agent comes within the wait', async () => {
    for (const a of agents.splice(0)) await a.kill('SIGKILL');
    await waitForAgents(gateway, 'prod', 0);
    const res = await rawRequest(gateway.url, {
      path: `/clusters/prod/api/v1/namespaces/${ns}/configmaps`,
      headers: { authorization: `Bearer ${gateway.adminToken}` },
      caPem: readFileSync(join(gateway.dataDir, 'ca.crt'), 'utf8'),
    });
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect((JSON.parse(res.body.toString()) as { message: string }).message).toMatch(/no cluster agent is connected for cluster "prod" \(the last one left at .*\); start `gatehouse agent --cluster prod`/);
    await startAgent();
    await waitForAgents(gateway, 'prod', 1);
  }, 120_000);

  it('refuses an agent with a revoked or foreign join token', async () => {
    const listed = await gatehouse(['clusters', 'tokens', 'prod', '--kubeconfig', gateway.adminKubeconfig, '--json']);
    const [token] = JSON.parse(listed.stdout) as { id: string }[];
    const revoked = await gatehouse(['clusters', 'revoke', 'prod', token!.id, '--kubeconfig', gateway.adminKubeconfig]);
    expect(revoked.code, revoked.stderr).toBe(0);
    const [port] = await freePorts(1);
    const refused = await startAgentProcess({ gateway, cluster: 'prod', tokenFile, kubeconfig: agentKubeconfig, healthListen: `127.0.0.1:${port}` });
    agents.push(refused);
    const deadline = Date.now() + 30_000;
    while (!/401|revoked|join token/i.test(refused.stderr()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(refused.stderr()).toMatch(/401|join token/i);
    // The health listener may open a moment after the first refused attempt is logged.
    const readyz = async (): Promise<number | undefined> => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status;
    await expect.poll(readyz, { timeout: 15_000, interval: 100 }).toBe(503);
  });
});

describe('a gateway with no route to the cluster', () => {
  it('serves the cluster through an agent that dials out, while it cannot reach the API server itself', async () => {
    const netns = await createNetworkNamespace();
    let isolated: GatewayProcess | undefined;
    let agent: AgentProcess | undefined;
    try {
      const config = join(work, 'isolated.yaml');
      writeFileSync(config, ['clusters:', '  - name: prod', '    agent: { waitSeconds: 8 }', ''].join('\n'));
      isolated = await startGatewayProcess(undefined, ['--config', config, '--impersonate', '--listen', `${netns.nsIp}:0`], { prefix: netns.exec });
      expect(isolated.url).toContain(netns.nsIp);

      // From inside the gateway's namespace the API server's address leads nowhere.
      const apiPort = new URL(prod.server).port;
      const probe = await run(netns.exec[0]!, [...netns.exec.slice(1), process.execPath, '-e', `require('net').connect(${apiPort}, '127.0.0.1').on('connect', () => process.exit(0)).on('error', (e) => { console.error(e.code); process.exit(3); })`]);
      expect(probe.code, probe.stderr).toBe(3);
      expect(probe.stderr).toContain('ECONNREFUSED');

      const token = join(work, 'isolated.token');
      const added = await gatehouse(['clusters', 'add', 'prod', '--kubeconfig', isolated.adminKubeconfig, '-o', token]);
      expect(added.code, added.stderr).toBe(0);
      agent = await startAgentProcess({ gateway: isolated, cluster: 'prod', tokenFile: token, kubeconfig: agentKubeconfig });
      await waitForAgents(isolated, 'prod', 1);

      const k = kubectlFor(isolated.adminKubeconfig);
      const tag = randomBytes(3).toString('hex');
      await k.ok(['-n', ns, 'create', 'configmap', `isolated-${tag}`]);
      expect(await directProd.ok(['-n', ns, 'get', 'configmap', `isolated-${tag}`, '-o', 'name'])).toBe(`configmap/isolated-${tag}\n`);
      expect(await k.ok(['-n', ns, 'exec', pod, '--', 'echo', 'through the tunnel'])).toBe('through the tunnel\n');
    } finally {
      await agent?.kill('SIGTERM');
      await isolated?.stop();
      await netns.destroy();
    }
  });
});
