/**
 * The durability guarantee, tested the hard way: a process appending
 * through the writer is killed with SIGKILL mid-burst; every event whose
 * append had resolved (and been printed) must be in the store, at the seq it
 * was given, and the chain must verify.
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trustedKeysFromPem } from '../../../src/audit/checkpoint.js';
import { auditEventSchema } from '../../../src/audit/event.js';
import { verifyAuditStore } from '../../../src/audit/verify.js';
import { startPostgres } from '../../../src/harness/postgres.js';
import type { PostgresServer } from '../../../src/harness/postgres.js';
import { openStore } from '../../../src/store/open.js';
import type { StoreLocation } from '../../../src/store/open.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const signingKeyPem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

async function killDuringBurst(location: StoreLocation, acknowledged: number): Promise<Map<number, string>> {
  const script = `
    const { runnerImport } = await import('vite');
    const { module } = await runnerImport(${JSON.stringify(join(root, 'test/unit/audit/append-child.ts'))});
    await module.appendUntilKilled(JSON.parse(process.env.LOCATION), process.env.SIGNING_KEY);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: root, env: { ...process.env, LOCATION: JSON.stringify(location), SIGNING_KEY: signingKeyPem }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const acked = new Map<number, string>();
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const [seq, id] = line.split(' ');
      if (id === undefined) return;
      acked.set(Number(seq), id);
      if (acked.size === acknowledged) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    void exited.then(() => reject(new Error(`the appending process exited early:\n${stderr}`)));
  });
  expect(await exited).toBe('SIGKILL');
  return acked;
}

async function expectAllDurable(location: StoreLocation, acked: Map<number, string>): Promise<void> {
  const store = await openStore(location);
  try {
    const head = await store.audit.head();
    const rows = await store.audit.readAfter(0, head.seq + 10);
    const byId = new Map(rows.map((r) => [auditEventSchema.parse(JSON.parse(r.eventJson)).id, r.seq]));
    for (const [seq, id] of acked) expect(byId.get(id)).toBe(seq);
    expect(head.seq).toBeGreaterThanOrEqual(Math.max(...acked.keys()));
    const report = await verifyAuditStore(store.audit, trustedKeysFromPem(signingKeyPem));
    expect(report).toMatchObject({ ok: true, events: head.seq });
    expect(report.checkpoints).toBeGreaterThan(10);
  } finally {
    await store.close();
  }
}

describe('an appending gateway killed with SIGKILL', () => {
  let dir: string;
  let pg: PostgresServer;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-kill-'));
    pg = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await pg.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses no acknowledged event: SQLite', async () => {
    const location = { sqlite: join(dir, 'g.db') };
    const acked = await killDuringBurst(location, 3000);
    await expectAllDurable(location, acked);
  }, 60_000);

  it('loses no acknowledged event: PostgreSQL', async () => {
    const location = { postgres: await pg.createDatabase('killed') };
    const acked = await killDuringBurst(location, 3000);
    await expectAllDurable(location, acked);
  }, 60_000);
});
