import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAuditSigner } from '../../../src/audit/checkpoint.js';
import { buildAuditEvent, captureBody } from '../../../src/audit/event.js';
import type { AuditEventInput, DecisionLike } from '../../../src/audit/event.js';
import { createAuditWriter } from '../../../src/audit/writer.js';
import { EXIT_TOO_MANY_CHANGES, registerPolicy } from '../../../src/cli/policy.js';
import type { Principal } from '../../../src/identity/principal.js';
import type { BacktestReport } from '../../../src/policy/backtest.js';
import { kubeRequestFor } from '../../../src/policy/kinds.js';
import type { RequestLine } from '../../../src/policy/kinds.js';
import { startPostgres } from '../../../src/harness/postgres.js';
import { openPostgresStore } from '../../../src/store/postgres.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import { runCli } from '../../helpers/cli.js';
import type { CliRun } from '../../helpers/cli.js';

function gatehouse(...args: string[]): Promise<CliRun> {
  const program = new Command('gatehouse');
  registerPolicy(program);
  return runCli(program, args);
}

const who = (subject: string, kind: Principal['kind'] = 'human'): Principal => ({ subject, groups: [], kind, via: 'token', tokenId: undefined });
const allowAll: DecisionLike = { action: 'allow', rule: 'allow-all', matched: [{ rule: 'allow-all', action: 'allow' }] };
const T0 = Date.parse('2025-06-01T10:00:00Z') * 1000;

/** One recorded request: the request line, who, the recorded decision and the request body (JSON unless given). */
function recorded(n: number, line: Omit<RequestLine, 'version' | 'group'> & { group?: string }, principal: Principal | undefined, decision: DecisionLike | undefined, body?: { data: string; max?: number; type?: string }, extra: Partial<AuditEventInput> = {}) {
  const request = kubeRequestFor({ group: '', version: 'v1', ...line });
  return buildAuditEvent({
    requestId: `req-${n}`,
    method: request.verb === 'create' ? 'POST' : request.verb === 'patch' ? 'PATCH' : request.verb === 'delete' ? 'DELETE' : 'GET',
    path: request.path,
    principal,
    request,
    decision,
    clientAddress: '127.0.0.1',
    headers: {},
    result: { status: decision?.action === 'deny' ? 403 : 200 },
    bodies: body && { request: captureBody(Buffer.from(body.data), body.type ?? 'application/json', body.max ?? 65_536) },
    timeMicros: T0 + n * 1_000_000,
    ...extra,
  });
}

const CURRENT = `apiVersion: gatehouse.dev/v1alpha1
kind: Policy
metadata: { name: current }
spec:
  rules:
    - name: deny-delete
      match: { verbs: [delete] }
      action: deny
    - name: mask-secrets
      match: { resources: [{ group: "", resource: secrets }] }
      action: mask
    - name: allow-all
      action: allow
`;

const PROPOSED = `apiVersion: gatehouse.dev/v1alpha1
kind: Policy
metadata: { name: proposed }
spec:
  rules:
    - name: no-bad-configmaps
      match: { verbs: [create, patch], resources: [{ group: "", resource: configmaps }] }
      when: has(object.data) && has(object.data.mode) && object.data.mode == "bad"
      action: deny
    - name: review-exec
      match: { resources: [{ group: "", resource: pods/exec }] }
      action: review
    - name: labelled-teams
      match: { verbs: [get], namespaces: ["team-*"], namespaceSelector: { matchLabels: { locked: "yes" } } }
      action: deny
    - name: allow-all
      action: allow
`;

let events: ReturnType<typeof recorded>[] = [];

describe('gatehouse policy backtest and shadow-report', () => {
  let dir: string;
  const db = () => join(dir, 'gatehouse.db');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-backtest-'));
    writeFileSync(join(dir, 'current.yaml'), CURRENT);
    writeFileSync(join(dir, 'proposed.yaml'), PROPOSED);
    const cm = (mode: string) => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${mode}` }, data: { mode } });
    events = [
      recorded(1, { verb: 'get', resource: 'pods', namespace: 'default', name: 'web' }, who('alice'), allowAll),
      recorded(2, { verb: 'create', resource: 'configmaps', namespace: 'default', name: '' }, who('ci-bot', 'ci'), allowAll, { data: cm('bad') }),
      recorded(3, { verb: 'create', resource: 'configmaps', namespace: 'default', name: '' }, who('agent', 'agent'), allowAll, { data: cm('bad'), max: 20 }),
      recorded(4, { verb: 'patch', resource: 'configmaps', namespace: 'default', name: 'cm-x' }, who('agent', 'agent'), allowAll, { data: '{"data":{"mode":"bad"}}', type: 'application/merge-patch+json' }),
      recorded(5, { verb: 'delete', resource: 'pods', namespace: 'default', name: 'web' }, who('bob'), { action: 'deny', rule: 'deny-delete', matched: [{ rule: 'deny-delete', action: 'deny' }, { rule: 'allow-all', action: 'allow' }] }),
      recorded(6, { verb: 'get', resource: 'secrets', namespace: 'default', name: 'db' }, who('alice'), { action: 'mask', rule: 'mask-secrets', matched: [{ rule: 'mask-secrets', action: 'mask' }, { rule: 'allow-all', action: 'allow' }] }),
      recorded(7, { verb: 'create', resource: 'pods/exec', namespace: 'prod', name: 'web' }, who('alice'), allowAll),
      recorded(8, { verb: 'get', resource: 'pods', namespace: 'default', name: 'x' }, who('alice'), { action: 'deny', rule: 'allow-all', matched: [], errors: [{ rule: 'allow-all', error: 'when: boom' }] }),
      recorded(9, { verb: 'get', resource: 'pods', namespace: 'default', name: 'x' }, undefined, undefined),
      recorded(10, { verb: 'get', resource: 'pods', namespace: 'team-a', name: 'x' }, who('alice'), { ...allowAll, namespaceLabels: { locked: 'yes' } }),
      recorded(11, { verb: 'get', resource: 'pods', namespace: 'team-b', name: 'x' }, who('alice'), allowAll),
    ];
    const store = openSqliteStore(db());
    const writer = createAuditWriter(store.audit, { signer: loadAuditSigner(dir) });
    for (const e of events) await writer.append(e);
    await writer.close();
    await store.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const backtest = async (...args: string[]) => {
    const run = await gatehouse('policy', 'backtest', '--db', db(), '--json', ...args);
    expect(run.error).toBeUndefined();
    return { run, report: JSON.parse(run.stdout) as BacktestReport };
  };
  const counts = (groups: BacktestReport['transitions']) => Object.fromEntries(groups.map((g) => [g.key, g.count]));

  it('reports each transition, the undetermined requests and why, and exits 3 above --max-changes', async () => {
    const { run, report } = await backtest('--policy', join(dir, 'proposed.yaml'));
    expect(report).toMatchObject({ events: 11, skipped: 1, evaluated: 10, unchanged: 1, changed: 5, undetermined: 4 });
    expect(counts(report.transitions)).toEqual({ 'allow→deny': 2, 'allow→review': 1, 'deny→allow': 1, 'mask→allow': 1 });
    expect(counts(report.undeterminedReasons)).toEqual({
      'body-truncated': 1,
      'patch-result-not-recorded': 1,
      'recorded-decision-error': 1,
      'namespace-labels-not-recorded': 1,
    });
    expect(report.transitions.find((g) => g.key === 'allow→deny')!.examples.map((e) => [e.requestId, e.after])).toEqual([
      ['req-2', 'deny (no-bad-configmaps)'],
      ['req-10', 'deny (labelled-teams)'],
    ]);
    expect(counts(report.rules)).toMatchObject({ 'no-bad-configmaps allow→deny': 1, 'review-exec allow→review': 1, 'allow-all deny→allow': 1 });
    expect(counts(report.principals)).toMatchObject({ 'alice allow→deny': 1, 'ci-bot allow→deny': 1, 'bob deny→allow': 1 });
    expect(run.exitCode).toBe(EXIT_TOO_MANY_CHANGES);
    expect(run.stderr).toContain('5 request(s) would change, more than --max-changes 0');
  });

  it('passes with --max-changes at the count, and an identical policy changes nothing', async () => {
    expect((await backtest('--policy', join(dir, 'proposed.yaml'), '--max-changes', '5')).run.exitCode).toBeUndefined();
    const same = await backtest('--policy', join(dir, 'current.yaml'));
    expect(same.report).toMatchObject({ changed: 0, unchanged: 9, undetermined: 1 });
    expect(same.run.exitCode).toBeUndefined();
  });

  it('windows by time and principal', async () => {
    const { report } = await backtest('--policy', join(dir, 'proposed.yaml'), '--since', '2025-06-01T10:00:05Z', '--until', '2025-06-01T10:00:08Z', '--principal', 'alice');
    expect(report).toMatchObject({ evaluated: 2, changed: 2 });
    expect(counts(report.transitions)).toEqual({ 'mask→allow': 1, 'allow→review': 1 });
  });

  it('keeps to one cluster with --cluster; records from before clusters count as "default"', async () => {
    const all = await backtest('--policy', join(dir, 'proposed.yaml'));
    expect((await backtest('--policy', join(dir, 'proposed.yaml'), '--cluster', 'default')).report).toMatchObject({ evaluated: all.report.evaluated, changed: all.report.changed });
    expect((await backtest('--policy', join(dir, 'proposed.yaml'), '--cluster', 'prod')).report).toMatchObject({ evaluated: 0, changed: 0 });
  });

  it('prints a table per group with example requests', async () => {
    const run = await gatehouse('policy', 'backtest', '--db', db(), '--policy', join(dir, 'proposed.yaml'), '--max-changes', '10');
    expect(run.stdout).toMatch(/^backtest: 10 request\(s\) evaluated from the beginning – now \(1 never reached policy\)/);
    expect(run.stdout).toContain('unchanged: 1   changed: 5   undetermined: 4');
    expect(run.stdout).toMatch(/allow→deny \(2\), e\.g\.:\n +TIME +PRINCIPAL .*\n +2025-06-01T10:00:02Z +ci-bot +create +configmaps +default +- +allow \(allow-all\) +deny \(no-bad-configmaps\) +req-2/);
    expect(run.stdout).toMatch(/body-truncated \(1\), e\.g\.:\n.*\n.*agent +create +configmaps .*the recorded body was cut at 20 of \d+ bytes +req-3/);
  });

  it('gives the same report from the same record in PostgreSQL (--postgres)', async () => {
    const server = await startPostgres();
    try {
      const url = await server.createDatabase('backtest');
      const store = await openPostgresStore(url);
      const writer = createAuditWriter(store.audit, { signer: loadAuditSigner(dir) });
      for (const e of events) await writer.append(e);
      await writer.close();
      await store.close();
      const fromSqlite = (await backtest('--policy', join(dir, 'proposed.yaml'))).report;
      const run = await gatehouse('policy', 'backtest', '--postgres', url, '--json', '--policy', join(dir, 'proposed.yaml'));
      expect(run.error).toBeUndefined();
      const fromPostgres = JSON.parse(run.stdout) as BacktestReport;
      const comparable = (r: BacktestReport) => ({ ...r, durationMs: 0, perSecond: 0 });
      expect(comparable(fromPostgres)).toEqual(comparable(fromSqlite));
    } finally {
      await server.destroy();
    }
  }, 60_000);

  it('a policy that does not load is an error (exit 1 from main), not a pass', async () => {
    writeFileSync(join(dir, 'broken.yaml'), 'apiVersion: gatehouse.dev/v1alpha1\nkind: Policy\nmetadata: { name: b }\nspec: { rules: [{ name: x, action: nope }] }\n');
    const run = await gatehouse('policy', 'backtest', '--db', db(), '--policy', join(dir, 'broken.yaml'));
    expect(run.error).toBeDefined();
  });

  it('shadow-report compares recorded shadow decisions, undetermined ones apart', async () => {
    const shadowDb = join(dir, 'shadow.db');
    const store = openSqliteStore(shadowDb);
    const writer = createAuditWriter(store.audit, { signer: loadAuditSigner(dir) });
    const del = { verb: 'delete', resource: 'pods', namespace: 'default', name: 'web' };
    await writer.append(recorded(1, del, who('bob'), allowAll, undefined, { shadowDecision: { action: 'deny', rule: 'no-delete', matched: [{ rule: 'no-delete', action: 'deny' }] } }));
    await writer.append(recorded(2, { ...del, verb: 'get' }, who('bob'), allowAll, undefined, { shadowDecision: allowAll }));
    await writer.append(recorded(3, del, who('bob'), allowAll, undefined, { shadowDecision: { action: 'undetermined', message: 'a shadow rule needs the labels', matched: [] } }));
    await writer.append(recorded(4, del, who('bob'), allowAll));
    await writer.close();
    await store.close();
    const run = await gatehouse('policy', 'shadow-report', '--db', shadowDb, '--json');
    const report = JSON.parse(run.stdout) as BacktestReport;
    expect(report).toMatchObject({ events: 4, skipped: 1, changed: 1, unchanged: 1, undetermined: 1 });
    expect(report.transitions[0]).toMatchObject({ key: 'allow→deny', count: 1, examples: [{ requestId: 'req-1', after: 'deny (no-delete)' }] });
    expect(report.undeterminedReasons[0]!.key).toBe('shadow-input-not-gathered');
    expect(run.exitCode).toBe(EXIT_TOO_MANY_CHANGES);
  });
});
