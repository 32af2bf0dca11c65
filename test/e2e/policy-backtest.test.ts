import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { auditEventSchema } from '../../src/audit/event.js';
import type { AuditEvent } from '../../src/audit/event.js';
import type { BacktestReport } from '../../src/policy/backtest.js';
import { openStore } from '../../src/store/open.js';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { identity } from './helpers/identities.js';
import { kubectlFor, run } from './helpers/run.js';
import type { Kubectl } from './helpers/run.js';

// A mixed kubectl session (a person, an agent, CI) through a gateway running a shadow policy; then the
// record is backtested against a stricter policy and the shadow decisions read back.
const cluster = inject('cluster');
const ns = `backtest-${randomBytes(3).toString('hex')}`;
let gateway: GatewayProcess;
let direct: Kubectl;
let via: Kubectl;
let strict: string;
let events: AuditEvent[];
const baseline = join(process.cwd(), 'policies/baseline-allow.yaml');

const policyFile = (name: string, rules: unknown[]): string => {
  const file = join(cluster.workDir, `${ns}-${name}.yaml`);
  writeFileSync(file, stringify({ apiVersion: 'gatehouse.dev/v1alpha1', kind: 'Policy', metadata: { name }, spec: { rules } }));
  return file;
};
const gatehouse = (args: string[]) => run(process.execPath, ['bin/gatehouse.js', ...args, '--data-dir', gateway.dataDir]);
const privilegedPod = JSON.stringify({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'privileged', namespace: ns },
  spec: { containers: [{ name: 'c', image: 'registry.invalid/app:1', securityContext: { privileged: true } }] },
});

beforeAll(async () => {
  direct = kubectlFor(cluster.adminKubeconfig);
  await direct.ok(['create', 'namespace', ns]);
  strict = policyFile('strict', [{ name: 'no-configmap-creates', match: { verbs: ['create'], resources: [{ group: '', resource: 'configmaps' }], namespaces: [ns] }, action: 'deny' }]);
  const shadow = policyFile('shadow', [{ name: 'no-deletes', match: { verbs: ['delete'], namespaces: [ns] }, action: 'deny' }]);
  const config = join(cluster.workDir, `${ns}-gatehouse.yaml`);
  // The shadow policy is a whole policy: the guardrails and the baseline allow as enforced, plus the new rule.
  writeFileSync(config, stringify({ policy: { shadow: { paths: [baseline, shadow], builtinGuardrails: true } } }));
  gateway = await startGatewayProcess(cluster.adminKubeconfig, ['--config', config, '--approval-hold', '0']);
  via = kubectlFor(gateway.adminKubeconfig);

  // A mixed session: a person (the admin), an agent and CI, with reads, writes, execs, Secret reads, a denial and a review.
  const agent = await identity(gateway, 'cursor', ns, { kind: 'agent', groups: 'agents' });
  const ci = await identity(gateway, 'deployer', ns, { kind: 'ci', groups: 'ci' });
  await direct.ok(['-n', ns, 'create', 'rolebinding', 'all', '--clusterrole=admin', '--group=agents', '--group=ci']);
  await direct.ok(['-n', ns, 'create', 'deployment', 'web', '--image=registry.invalid/web:1']);
  await direct.ok(['-n', ns, 'create', 'secret', 'generic', 'db', '--from-literal=password=hunter2']);
  await direct.ok(['-n', ns, 'rollout', 'status', 'deployment/web', '--timeout=90s'], { timeoutMs: 100_000 });
  const pod = (await direct.ok(['-n', ns, 'get', 'pods', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
  await agent.kubectl.ok(['exec', pod, '--', 'echo', 'one']);
  await agent.kubectl.ok(['exec', pod, '--', 'echo', 'two']);
  await agent.kubectl.ok(['get', 'secret', 'db', '-o', 'yaml']);
  await ci.kubectl.ok(['get', 'secrets']);
  await ci.kubectl.ok(['create', 'configmap', 'from-ci', '--from-literal=b=2']);
  await via.ok(['-n', ns, 'get', 'pods']);
  await via.ok(['-n', ns, 'create', 'configmap', 'settings', '--from-literal=a=1']);
  await via.ok(['-n', ns, 'get', 'configmap', 'settings']);
  expect((await via(['create', '-f', '-'], { input: privilegedPod })).code).toBe(1);
  // The shadow policy denies deletes; the live answer must not change.
  expect(await via.ok(['-n', ns, 'delete', 'configmap', 'settings'])).toBe('configmap "settings" deleted\n');
  // SIGTERM: the gateway flushes its audit queue before it exits; the data directory stays until stop().
  await gateway.kill('SIGTERM');
  const store = await openStore({ sqlite: join(gateway.dataDir, 'gatehouse.db') });
  try {
    const rows = await store.audit.search({ namespace: ns, limit: 1000 });
    events = rows.map((r) => auditEventSchema.parse(JSON.parse(r.eventJson)));
  } finally {
    await store.close();
  }
});
afterAll(async () => {
  await direct?.(['delete', 'namespace', ns, '--wait=false']);
  await gateway?.stop();
});

describe('policy backtest on recorded kubectl traffic', () => {
  it('reports the recorded configmap create under a policy that denies it, and exits 3', async () => {
    const r = await gatehouse(['policy', 'backtest', '--builtin-guardrails', '--policy', baseline, strict, '--json']);
    expect(r.code, r.stderr).toBe(3);
    const report = JSON.parse(r.stdout) as BacktestReport;
    // The admin's and CI's configmap creates.
    expect(report.changed).toBe(2);
    expect(report.transitions).toHaveLength(1);
    expect(report.transitions[0]).toMatchObject({ key: 'allow→deny', count: 2 });
    const creates = events.filter((e) => e.request.verb === 'create' && e.request.resource === 'configmaps');
    expect(report.transitions[0]!.examples.map((e) => e.requestId).sort()).toEqual(creates.map((e) => e.requestId).sort());
    expect(report.transitions[0]!.examples.every((e) => e.after === 'deny (no-configmap-creates)' && e.namespace === ns)).toBe(true);
    expect(report.rules.map((g) => g.key)).toEqual(['no-configmap-creates allow→deny']);
    // The held privileged pod stays review, or is undetermined when kubectl sent it as protobuf; never a change.
    expect(report.unchanged + report.undetermined).toBe(report.evaluated - 2);

    const same = await gatehouse(['policy', 'backtest', '--builtin-guardrails', '--policy', baseline, '--since', '1h']);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout).toMatch(/changed: 0 /);
  });

  it('reports exactly the recorded execs in the namespace under a policy that denies exec there', async () => {
    const denyExec = policyFile('no-exec', [{ name: 'no-exec-here', match: { resources: [{ group: '', resource: 'pods/exec' }], namespaces: [ns] }, action: 'deny' }]);
    const r = await gatehouse(['policy', 'backtest', '--builtin-guardrails', '--policy', baseline, denyExec, '--json', '--examples', '10']);
    expect(r.code, r.stderr).toBe(3);
    const report = JSON.parse(r.stdout) as BacktestReport;
    // Each exec has a start event (with the decision) and an end event (with the recording): one request.
    const execs = events.filter((e) => e.request.subresource === 'exec' && e.stream === undefined);
    expect(execs).toHaveLength(2);
    expect(report.changed).toBe(2);
    // The agent's sessions were masked (agent-sessions): now denied.
    expect(report.rules.map((g) => [g.key, g.count])).toEqual([['no-exec-here mask→deny', 2]]);
    expect(report.transitions[0]!.examples.map((e) => e.requestId).sort()).toEqual(execs.map((e) => e.requestId).sort());
    expect(report.principals.map((g) => g.key)).toEqual(['token:cursor mask→deny']);
  });

  it('reports the recorded masked requests (Secret reads, and what the agent read and ran) as exposed by a policy without the masking rules', async () => {
    const r = await gatehouse(['policy', 'backtest', '--policy', baseline, '--json', '--examples', '10']);
    const report = JSON.parse(r.stdout) as BacktestReport;
    // One event per request: an exec's end event (with its recording) belongs to its start.
    const masked = events.filter((e) => e.decision?.action === 'mask' && e.stream === undefined);
    // CI's and the agent's Secret reads; the agent's other reads (the pod kubectl exec looks up first) and its execs.
    const secretReads = masked.filter((e) => e.request.resource === 'secrets' && ['get', 'list'].includes(e.request.verb));
    expect(secretReads.length).toBeGreaterThanOrEqual(2);
    const agentOnly = masked.filter((e) => e.request.resource !== 'secrets');
    expect(new Set(agentOnly.map((e) => e.decision?.rule))).toEqual(new Set(['agent-reads', 'agent-sessions']));
    expect(agentOnly.every((e) => e.principal?.subject === 'token:cursor')).toBe(true);
    expect(masked.length).toBeLessThanOrEqual(10);
    const exposed = report.transitions.find((g) => g.key === 'mask→allow');
    expect(exposed?.count).toBe(masked.length);
    expect(exposed!.examples.map((e) => e.requestId).sort()).toEqual(masked.map((e) => e.requestId).sort());
    expect(new Set(exposed!.examples.map((e) => e.principal))).toEqual(new Set(['token:cursor', 'token:deployer']));
  });

  it('records shadow decisions beside the real ones, and shadow-report shows the would-be denials', async () => {
    const del = events.find((e) => e.request.verb === 'delete')!;
    expect(del.result.status).toBe(200);
    expect(del.decision).toMatchObject({ action: 'allow' });
    expect(del.shadowDecision).toMatchObject({ action: 'deny', rule: 'no-deletes' });
    const held = events.find((e) => e.request.verb === 'create' && e.request.resource === 'pods' && e.request.subresource === '')!;
    expect(held.decision?.action).toBe('review');
    expect(events.filter((e) => e.decision !== undefined).every((e) => e.shadowDecision !== undefined)).toBe(true);

    const r = await gatehouse(['policy', 'shadow-report', '--principal', del.principal!.subject, '--json']);
    expect(r.code, r.stderr).toBe(3);
    const report = JSON.parse(r.stdout) as BacktestReport;
    expect(report.changed).toBe(1);
    expect(report.transitions[0]).toMatchObject({ key: 'allow→deny', count: 1, examples: [{ requestId: del.requestId, after: 'deny (no-deletes)' }] });
  });
});
