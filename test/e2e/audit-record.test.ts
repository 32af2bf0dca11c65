import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { createRunningPod } from './helpers/pods.js';
import { kubectlFor, run } from './helpers/run.js';
import type { Kubectl } from './helpers/run.js';

// Every request through the gateway lands in the tamper-evident record:
// reads, writes, refusals and exec sessions, with principal and decision,
// and `gatehouse audit verify` notices when the store is edited behind its back.
const cluster = inject('cluster');
const ns = `audit-${randomBytes(3).toString('hex')}`;
let gateway: GatewayProcess;
let direct: Kubectl;
let via: Kubectl;

interface Recorded {
  seq: number;
  event: {
    requestId: string;
    principal?: { subject: string };
    request: { verb: string; resource: string; namespace: string; name: string; subresource: string };
    decision?: { action: string; rule?: string };
    approval?: { id: string; state: string; decisions: unknown[] };
    stream?: { sessionId: string; kind: string; chunks?: number; truncated?: boolean };
    result: { status: number; code?: string };
    client: { kubectlSession?: string; kubectlCommand?: string };
    bodies: { request?: { encoding: 'utf8' | 'base64'; data: string } };
  };
}

const gatehouse = (args: string[]) => run(process.execPath, ['bin/gatehouse.js', ...args, '--data-dir', gateway.dataDir]);

beforeAll(async () => {
  gateway = await startGatewayProcess(cluster.adminKubeconfig, ['--approval-hold', '0']);
  direct = kubectlFor(cluster.adminKubeconfig);
  via = kubectlFor(gateway.adminKubeconfig);
  await createRunningPod(direct, ns, 'web');
}, 150_000);
afterAll(async () => {
  await direct?.(['delete', 'namespace', ns, '--wait=false']);
  await gateway?.stop();
});

describe('the audit record', () => {
  it('records a kubectl session in order: reads, a write with its body, a refusal, an exec', async () => {
    const k = (args: string[], input?: string) => via(args, input === undefined ? {} : { input });
    expect((await k(['-n', ns, 'get', 'pods'])).code).toBe(0);
    const cm = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'recorded', namespace: ns }, data: { colour: 'green' } });
    expect((await k(['apply', '-f', '-'], cm)).code).toBe(0);
    const privileged = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'nope', namespace: ns },
      spec: { containers: [{ name: 'c', image: 'registry.invalid/x:1', securityContext: { privileged: true } }] },
    });
    expect((await k(['create', '-f', '-'], privileged)).code).toBe(1);
    const pod = (await direct.ok(['-n', ns, 'get', 'pods', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
    expect((await k(['-n', ns, 'exec', pod, '--', 'echo', 'hi'])).stdout).toBe('hi\n');

    const r = await gatehouse(['audit', 'search', '--namespace', ns, '--limit', '500', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const parsed = JSON.parse(r.stdout) as Recorded[] | { events: Recorded[] };
    const events = (Array.isArray(parsed) ? parsed : parsed.events).sort((a, b) => a.seq - b.seq);
    const summary = events.map((e) => `${e.event.request.verb} ${e.event.request.resource}${e.event.request.subresource ? '/' + e.event.request.subresource : ''} ${e.event.result.status}`);
    const order = ['list pods 200', 'create configmaps 201', 'create pods 403', 'create pods/exec 101'];
    let at = -1;
    for (const wanted of order) {
      const found = summary.findIndex((s, i) => i > at && s === wanted);
      expect(found, `${wanted} after position ${at} in:\n${summary.join('\n')}`).toBeGreaterThan(at);
      at = found;
    }
    const write = events.find((e) => e.event.request.resource === 'configmaps' && e.event.request.verb === 'create')!;
    expect(write.event.principal?.subject).toBe('gatehouse-admin');
    expect(write.event.decision?.action).toBe('allow');
    // kubectl may send JSON or protobuf; either way the value is in the recorded body.
    const body = write.event.bodies.request!;
    expect(body.encoding === 'utf8' ? body.data : Buffer.from(body.data, 'base64').toString('latin1')).toContain('green');
    expect(write.event.client.kubectlCommand).toBe('kubectl apply');
    const refused = events.find((e) => e.event.result.status === 403)!;
    expect(refused.event.decision).toMatchObject({ action: 'review', rule: 'privileged-containers' });
    expect(refused.event.result.code).toBe('GH_APPROVAL_PENDING');
    expect(refused.event.approval).toMatchObject({ id: expect.stringMatching(/^apr_/) as unknown, state: 'pending', decisions: [] });
  });

  it('records pod logs and watches as timestamped chunks that replay and verify', async () => {
    const pod = (await direct.ok(['-n', ns, 'get', 'pods', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
    const logs = await via.ok(['-n', ns, 'logs', pod]);
    expect(logs.length).toBeGreaterThan(0);
    // A watch the API server ends by itself after a second, with one event in it.
    await direct.ok(['-n', ns, 'create', 'configmap', 'watched', '--from-literal=k=v']);
    const watched = await via.ok(['get', '--raw', `/api/v1/namespaces/${ns}/configmaps?watch=1&timeoutSeconds=1&fieldSelector=metadata.name%3Dwatched`]);
    expect(watched).toContain('"type":"ADDED"');

    const r = await gatehouse(['audit', 'search', '--namespace', ns, '--limit', '500', '--json']);
    const parsed = JSON.parse(r.stdout) as Recorded[] | { events: Recorded[] };
    const events = Array.isArray(parsed) ? parsed : parsed.events;
    for (const [kind, expected] of [
      ['log', logs.split('\n')[0]!],
      ['watch', '"type":"ADDED"'],
    ] as const) {
      const e = events.find((x) => x.event.stream?.kind === kind);
      expect(e, `an event with a ${kind} stream`).toBeDefined();
      expect(e!.event.stream).toMatchObject({ sessionId: e!.event.requestId, truncated: false, chunks: expect.any(Number) as unknown });
      const cast = await gatehouse(['audit', 'replay', e!.event.requestId]);
      expect(cast.code, cast.stderr).toBe(0);
      const output = cast.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((line) => JSON.parse(line) as [number, string, string])
        .filter(([, code]) => code === 'o')
        .map(([, , data]) => data)
        .join('');
      expect(output).toContain(expected);
    }
  });

  it('verifies, then detects a record edited in the database', async () => {
    const ok = await gatehouse(['audit', 'verify']);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);

    const db = new Database(join(gateway.dataDir, 'gatehouse.db'));
    try {
      const row = db.prepare('SELECT seq FROM audit_events ORDER BY seq LIMIT 1 OFFSET 3').get() as { seq: number };
      db.prepare(`UPDATE audit_events SET event_json = replace(event_json, 'gatehouse-admin', 'someone-else') WHERE seq = ?`).run(row.seq);
      const edited = await gatehouse(['audit', 'verify']);
      expect(edited.code).toBe(1);
      expect(edited.stdout + edited.stderr).toMatch(/edited/i);
      expect(edited.stdout + edited.stderr).toContain(String(row.seq));
    } finally {
      db.close();
    }
  });
});
