import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chainHash } from '../../../src/audit/chain.js';
import { loadAuditSigner } from '../../../src/audit/checkpoint.js';
import { createAuditWriter } from '../../../src/audit/writer.js';
import { registerAudit } from '../../../src/cli/audit.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import { sampleEvent } from './stores.js';
import { runCli } from '../../helpers/cli.js';
import type { CliRun } from '../../helpers/cli.js';

/** Runs `gatehouse audit …` in this process, capturing its output and exit code. */
function gatehouse(...args: string[]): Promise<CliRun> {
  const program = new Command('gatehouse');
  registerAudit(program);
  return runCli(program, args);
}

describe('gatehouse audit', () => {
  let dataDir: string;
  const db = () => join(dataDir, 'gatehouse.db');

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-cli-'));
    const store = openSqliteStore(db());
    const writer = createAuditWriter(store.audit, { signer: loadAuditSigner(dataDir), checkpointEvery: 5 });
    for (let i = 0; i < 12; i++) await writer.append(sampleEvent(i));
    await writer.close();
    await store.close();
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('verify says OK with the range and the checkpoints, and exits 0', async () => {
    const run = await gatehouse('audit', 'verify', '--data-dir', dataDir);
    expect(run.error).toBeUndefined();
    expect(run.exitCode).toBeUndefined();
    expect(run.stdout).toBe('OK: 12 events (seq 1–12), 4 signed checkpoint(s) hold\n');
    expect(run.stderr).toContain(`verifying the audit record in ${db()}`);
  });

  it('verify names the first broken link and exits 1', async () => {
    const store = openSqliteStore(db());
    store.db.prepare('DELETE FROM audit_events WHERE seq = 4').run();
    await store.close();
    const run = await gatehouse('audit', 'verify', '--data-dir', dataDir);
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(/^BROKEN at seq 4 \(deleted\): seq 4 is missing: the chain jumps from 3 to 5\n {2}checked before the break: 3 events \(seq 1–3\)\n$/);
  });

  it('verify with --public-key trusts only that key', async () => {
    const other = mkdtempSync(join(tmpdir(), 'gatehouse-other-key-'));
    try {
      const keyFile = join(other, 'other.pub');
      writeFileSync(keyFile, loadAuditSigner(other).publicKeyPem);
      const run = await gatehouse('audit', 'verify', '--db', db(), '--public-key', keyFile);
      expect(run.exitCode).toBe(1);
      expect(run.stdout).toMatch(/^BROKEN at seq 1 \(bad-signature\).*not a trusted key/);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('public-key prints the PEM that verifies the checkpoints', async () => {
    const run = await gatehouse('audit', 'public-key', '--data-dir', dataDir);
    expect(run.stdout).toBe(loadAuditSigner(dataDir).publicKeyPem);
  });

  it('search filters and prints a table, newest first; --json gives the records', async () => {
    const table = await gatehouse('audit', 'search', '--data-dir', dataDir, '--principal', 'oidc:alice@example.com');
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^SEQ +TIME +PRINCIPAL +VERB +RESOURCE +NAMESPACE +NAME +DECISION +STATUS$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['10', '7', '4', '1']);
    expect(lines[1]).toMatch(/^10 +2025-01-01T00:00:09Z +oidc:alice@example.com +patch +deployments +team-a +web-9 +review \(writes-need-review\) +200$/);

    const json = await gatehouse('audit', 'search', '--data-dir', dataDir, '--verb', 'list', '--decision', 'allow', '--limit', '2', '--json');
    const records = JSON.parse(json.stdout) as Array<{ seq: number; event: { request: { verb: string } } }>;
    expect(records.map((r) => r.seq)).toEqual([11, 9]);
    expect(records[0]!.event.request.verb).toBe('list');

    const none = await gatehouse('audit', 'search', '--data-dir', dataDir, '--since', '2h');
    expect(none.stderr).toContain('no recorded request matches');
  });

  it('export --format jsonl writes records whose hashes anyone can recompute', async () => {
    const out = join(dataDir, 'audit.jsonl');
    const run = await gatehouse('audit', 'export', '--data-dir', dataDir, '--until', '2025-01-01T00:00:05Z', '-o', out);
    expect(run.stderr).toContain(`exported 5 event(s) to ${out}`);
    const records = readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { seq: number; prevHash: string; hash: string; event: unknown });
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    for (const [i, r] of records.entries()) {
      expect(chainHash(r.prevHash, r.seq, r.event)).toBe(r.hash);
      if (i > 0) expect(r.prevHash).toBe(records[i - 1]!.hash);
    }
  });

  it('export --format k8s writes an audit.k8s.io/v1 EventList with the decision in annotations', async () => {
    const run = await gatehouse('audit', 'export', '--data-dir', dataDir, '--format', 'k8s', '--namespace', 'team-a');
    const list = JSON.parse(run.stdout) as { kind: string; apiVersion: string; items: Array<Record<string, unknown>> };
    expect(list).toMatchObject({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1' });
    expect(list.items).toHaveLength(6);
    expect(list.items[0]).toMatchObject({
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: 'RequestResponse',
      auditID: 'req-1',
      stage: 'ResponseComplete',
      requestURI: '/apis/apps/v1/namespaces/team-a/deployments/web-1',
      verb: 'patch',
      user: { username: 'token:cursor-bob', groups: ['dev'], extra: { 'gatehouse.dev/via': ['token'], 'gatehouse.dev/token-id': ['tok-1'] } },
      sourceIPs: ['127.0.0.1'],
      userAgent: 'kubectl/v1.33.0',
      objectRef: { resource: 'deployments', namespace: 'team-a', name: 'web-1', apiGroup: 'apps', apiVersion: 'v1' },
      responseStatus: { metadata: {}, code: 200 },
      requestObject: { spec: { replicas: 1 } },
      requestReceivedTimestamp: '2025-01-01T00:00:01.000000Z',
      stageTimestamp: '2025-01-01T00:00:01.000000Z',
      annotations: {
        'authorization.k8s.io/decision': 'allow',
        'gatehouse.dev/decision': 'review',
        'gatehouse.dev/rule': 'writes-need-review',
        'gatehouse.dev/seq': '2',
        'gatehouse.dev/kubectl-command': 'kubectl patch',
      },
    });
  });

  it('prune --older-than seals and deletes old events; verify still passes', async () => {
    const run = await gatehouse('audit', 'prune', '--data-dir', dataDir, '--older-than', '1d');
    expect(run.stdout).toMatch(/^pruned 12 event\(s\) through seq 12, sealed at /);
    const verify = await gatehouse('audit', 'verify', '--data-dir', dataDir);
    expect(verify.stdout).toBe('OK: no events, 1 signed checkpoint(s) hold\n');
  });

  it('says where it looked when there is no store', async () => {
    const run = await gatehouse('audit', 'verify', '--data-dir', join(dataDir, 'nowhere'));
    expect(run.error?.message).toContain(`no store at ${join(dataDir, 'nowhere', 'gatehouse.db')}`);
  });

  describe('replay --session', () => {
    /** A kubectl session `session-exec` by bob: a get, then an exec whose stdout came in two chunks 50 ms apart. */
    async function recordExecSession(): Promise<void> {
      const store = openSqliteStore(db());
      const writer = createAuditWriter(store.audit, { signer: loadAuditSigner(dataDir) });
      const headers = { 'kubectl-session': 'session-exec', 'kubectl-command': 'kubectl exec' };
      await writer.append(sampleEvent(20, { headers, timeMicros: Date.UTC(2025, 0, 2) * 1000 }));
      const stream = writer.openStream({ kind: 'exec', sessionId: 'exec-1', maxBytes: 1024 });
      void stream.write('stdout', Buffer.from('$ uname\r\n'));
      await new Promise((r) => setTimeout(r, 50));
      void stream.write('stdout', Buffer.from('Linux\r\n'));
      const ref = await stream.end();
      await writer.append(sampleEvent(22, { headers, stream: ref, result: { status: 101 }, timeMicros: Date.UTC(2025, 0, 2) * 1000 + 5_000_000 }));
      await writer.close();
      await store.close();
    }

    it("prints a kubectl session's calls in order, and names the other sessions of that id", async () => {
      const run = await gatehouse('audit', 'replay', '--data-dir', dataDir, '--session', 'session-1');
      expect(run.error).toBeUndefined();
      // session-1 holds events 1, 5 (bob) and 9 (alice): alice's is the latest.
      expect(run.stdout).toMatch(/^session session-1 by oidc:alice@example.com \(kubectl patch\): 1 call\(s\)/);
      expect(run.stdout).toMatch(/TIME +VERB +RESOURCE +DECISION +STATUS +APPROVAL/);
      expect(run.stdout).toMatch(/00:00:09\.000 +patch +deployments\/web-9 \(team-a\) +review \(writes-need-review\) +200 +-/);
      expect(run.stderr).toMatch(/has 1 earlier session\(s\) too.*\n {2}--session \S+ +2025-01-01T00:00:01\.000Z +2 call\(s\)/);
      const other = /--session (\S+)/.exec(run.stderr)![1]!;
      const bob = await gatehouse('audit', 'replay', '--data-dir', dataDir, '--session', other, '--json');
      const parsed = JSON.parse(bob.stdout) as { session: { subject: string; events: number }; events: Array<{ seq: number; event: { requestId: string } }> };
      expect(parsed.session).toMatchObject({ subject: 'token:cursor-bob', events: 2 });
      expect(parsed.events.map((e) => e.event.requestId)).toEqual(['req-1', 'req-5']);
    });

    it("takes a principal (its latest session) and plays the session's recordings in place", async () => {
      await recordExecSession();
      const log = await gatehouse('audit', 'replay', '--data-dir', dataDir, '--session', 'oidc:alice@example.com');
      // The exec session of sample 22 is bob's; alice's latest is her own.
      expect(log.stdout).toMatch(/^session session-/);
      const run = await gatehouse('audit', 'replay', '--data-dir', dataDir, '--session', 'session-exec', '--play', '--speed', '2');
      expect(run.error).toBeUndefined();
      const lines = run.stdout.split('\n');
      expect(lines[0]).toMatch(/^session session-exec by token:cursor-bob \(kubectl exec\): 2 call\(s\)/);
      expect(lines.findIndex((l) => l.includes('exec exec-1'))).toBeLessThan(run.stdout.split('\n').indexOf('$ uname\r'));
      expect(run.stdout).toContain('$ uname\r\nLinux\r\n');
      const alone = await gatehouse('audit', 'replay', '--data-dir', dataDir, 'exec-1', '--play');
      expect(alone.stdout).toBe('$ uname\r\nLinux\r\n');
    });

    it('says so when nothing matches, and wants a recording or --session', async () => {
      expect((await gatehouse('audit', 'replay', '--data-dir', dataDir, '--session', 'nobody')).error?.message).toContain('no session, kubectl session or principal nobody');
      expect((await gatehouse('audit', 'replay', '--data-dir', dataDir)).error?.message).toContain('give a recording id or --session');
      expect((await gatehouse('audit', 'replay', '--data-dir', dataDir, '--session', 'x', '--speed', '0')).error?.message).toContain('greater than 0');
    });
  });
});
