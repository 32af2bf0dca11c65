import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { auditEventSchema } from '../../src/audit/event.js';
import type { AuditEvent } from '../../src/audit/event.js';
import { openStore } from '../../src/store/open.js';
import { startGatewayProcess } from './helpers/gateway.js';
import type { GatewayProcess } from './helpers/gateway.js';
import { kubectlFor, run } from './helpers/run.js';

// The durability promise (docs/audit.md) through the real gateway process: a
// client that received a write's 201 has its event in the store, even when
// the gateway is killed with SIGKILL in the middle of a burst of writes, and
// the hash chain still verifies afterwards.
const cluster = inject('cluster');
const ns = `audit-kill-${randomBytes(3).toString('hex')}`;
const BURST = 200;
const KILL_AFTER = 60;
const direct = kubectlFor(cluster.adminKubeconfig);
let gateway: GatewayProcess;
let agent: Agent;

beforeAll(async () => {
  await direct.ok(['create', 'namespace', ns]);
  gateway = await startGatewayProcess(cluster.adminKubeconfig);
  // Keep-alive connections, as kubectl and client libraries use: many writes in flight at once.
  agent = new Agent({ connect: { ca: readFileSync(join(gateway.dataDir, 'ca.crt'), 'utf8') }, connections: 16 });
});
afterAll(async () => {
  await agent?.close();
  await gateway?.stop();
  await direct(['delete', 'namespace', ns, '--wait=false']);
});

interface Answer {
  name: string;
  status: number;
  auditId: string | undefined;
}

describe('a gateway killed with SIGKILL during a burst of writes', () => {
  it('loses no event whose response the client received, and the chain verifies', async () => {
    const answered: Answer[] = [];
    let failed = 0;
    let killed: Promise<NodeJS.Signals | null> | undefined;
    const create = async (i: number): Promise<void> => {
      const name = `burst-${i}`;
      try {
        const res = await request(`${gateway.url}/api/v1/namespaces/${ns}/configmaps`, {
          method: 'POST',
          dispatcher: agent,
          headers: { authorization: `Bearer ${gateway.adminToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { i: String(i) } }),
        });
        // The whole body, or a rejection: a body cut short by the kill is no answer.
        await res.body.text();
        const auditId = res.headers['audit-id'];
        answered.push({ name, status: res.statusCode, auditId: typeof auditId === 'string' ? auditId : undefined });
        if (res.statusCode === 201 && answered.filter((a) => a.status === 201).length === KILL_AFTER) killed = gateway.kill('SIGKILL');
      } catch {
        // The connection died with the gateway: the client got no answer, so nothing is promised.
        failed += 1;
      }
    };
    await Promise.all(Array.from({ length: BURST }, (_, i) => create(i)));
    expect(await killed).toBe('SIGKILL');

    const created = answered.filter((a) => a.status === 201);
    // Killed mid-burst: some writes were answered, some never were.
    expect(created.length).toBeGreaterThanOrEqual(KILL_AFTER);
    expect(failed).toBeGreaterThan(0);
    expect(answered.every((a) => a.status === 201), JSON.stringify(answered.filter((a) => a.status !== 201))).toBe(true);

    const store = await openStore({ sqlite: join(gateway.dataDir, 'gatehouse.db') });
    let events: AuditEvent[];
    try {
      const head = await store.audit.head();
      events = (await store.audit.readAfter(0, head.seq + 1)).map((row) => auditEventSchema.parse(JSON.parse(row.eventJson)));
    } finally {
      await store.close();
    }
    const byRequest = new Map(events.map((e) => [e.requestId, e]));
    const missing = created.filter((a) => {
      const event = a.auditId === undefined ? undefined : byRequest.get(a.auditId);
      return !(event?.result.status === 201 && event.request.verb === 'create' && event.bodies.request?.data.includes(`"name":"${a.name}"`));
    });
    expect(missing.map((a) => a.name)).toEqual([]);

    const verify = await run(process.execPath, ['bin/gatehouse.js', 'audit', 'verify', '--data-dir', gateway.dataDir]);
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(new RegExp(`^OK: ${events.length} events \\(seq 1–${events.length}\\)`));
  });
});
