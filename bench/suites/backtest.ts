/**
 * Policy backtest throughput (issue 14): a fresh SQLite store filled with
 * recorded requests (1 000 000; 50 000 with --quick) through the audit
 * writer, then `backtestPolicy` of the shipped guardrail pack plus the
 * baseline against a record made under the baseline alone, so most requests
 * are evaluated with their CEL rules and a share of them change.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuditSigner } from '../../src/audit/checkpoint.js';
import { buildAuditEvent, captureBody } from '../../src/audit/event.js';
import type { AuditEvent, AuditEventInput } from '../../src/audit/event.js';
import { createAuditWriter } from '../../src/audit/writer.js';
import { packageRoot } from '../../src/harness/binaries.js';
import type { Principal } from '../../src/identity/principal.js';
import { backtestPolicy } from '../../src/policy/backtest.js';
import { compileCel } from '../../src/policy/cel/index.js';
import { evaluatePolicy } from '../../src/policy/engine.js';
import { kubeRequestFor } from '../../src/policy/kinds.js';
import type { RequestLine } from '../../src/policy/kinds.js';
import { loadPolicy } from '../../src/policy/load.js';
import type { CompiledPolicy } from '../../src/policy/model.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import { makePod } from '../lib/pod.js';
import type { Bench } from '../lib/suite.js';

const who = (subject: string, kind: Principal['kind']): Principal => ({ subject, groups: ['dev'], kind, via: 'token', tokenId: kind === 'human' ? undefined : `tok-${subject}` });
const PRINCIPALS = [who('oidc:alice@example.com', 'human'), who('oidc:bob@example.com', 'human'), who('token:cursor', 'agent'), who('token:deploy-bot', 'ci')];
const namespaceLabels = { team: 'payments' };

type Line = Omit<RequestLine, 'version' | 'group'> & { group?: string };
/** The mix each principal sends: reads, Secret reads, writes with bodies, deletes, exec. */
const LINES: ReadonlyArray<{ line: Line; body?: () => unknown }> = [
  { line: { verb: 'get', resource: 'pods', namespace: 'payments', name: 'web-1' } },
  { line: { verb: 'list', resource: 'configmaps', namespace: 'payments', name: '' } },
  { line: { verb: 'get', resource: 'secrets', namespace: 'payments', name: 'db' } },
  { line: { verb: 'create', resource: 'configmaps', namespace: 'payments', name: '' }, body: () => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' }, data: { mode: 'fast' } }) },
  { line: { verb: 'create', resource: 'pods', namespace: 'payments', name: '' }, body: makePod },
  { line: { verb: 'patch', group: 'apps', resource: 'deployments', namespace: 'payments', name: 'web' }, body: () => ({ spec: { replicas: 3 } }) },
  { line: { verb: 'delete', resource: 'pods', namespace: 'payments', name: 'web-1' } },
  { line: { verb: 'create', resource: 'pods/exec', namespace: 'payments', name: 'web-1' } },
];

/** One recorded request per principal and line, with the decision the recording policy made. */
function templates(recording: CompiledPolicy): AuditEventInput[] {
  return PRINCIPALS.flatMap((principal) =>
    LINES.map(({ line, body }) => {
      const object = body?.();
      const request = kubeRequestFor({ group: '', version: 'v1', ...line, object });
      const decision = evaluatePolicy(recording, { request, principal, object, namespaceLabels });
      const data = object === undefined ? undefined : Buffer.from(JSON.stringify(object));
      const type = line.verb === 'patch' ? 'application/merge-patch+json' : 'application/json';
      return {
        requestId: '',
        method: { create: 'POST', patch: 'PATCH', delete: 'DELETE' }[line.verb] ?? 'GET',
        path: request.path,
        principal,
        request,
        decision: { ...decision, namespaceLabels },
        clientAddress: '10.0.0.7',
        headers: { 'user-agent': 'kubectl/v1.33.0' },
        result: { status: decision.action === 'deny' ? 403 : 200 },
        bodies: data && { request: captureBody(data, type, 65_536) },
      };
    }),
  );
}

/** Appends `count` events through the audit writer in chunks (bounded memory); events per second. */
async function fill(path: string, count: number, make: (i: number) => AuditEvent, log: (line: string) => void): Promise<number> {
  const store = openSqliteStore(path);
  const writer = createAuditWriter(store.audit, { signer: createAuditSigner(generateKeyPairSync('ed25519').privateKey), maxBatch: 2000, checkpointEvery: 10_000 });
  const chunk = 10_000;
  const started = performance.now();
  try {
    for (let from = 0; from < count; from += chunk) {
      await Promise.all(Array.from({ length: Math.min(chunk, count - from) }, (_, k) => writer.append(make(from + k))));
      const done = from + chunk;
      if (done % 100_000 === 0 || done >= count) log(`  backtest: recorded ${Math.min(done, count)} / ${count} (${Math.round(done / ((performance.now() - started) / 1000))} events/s)`);
    }
  } finally {
    await writer.close();
    await store.close();
  }
  return count / ((performance.now() - started) / 1000);
}

export const backtestBench: Bench = {
  name: 'backtest',
  description: 'policy backtest requests/s over a SQLite store of 1 000 000 recorded requests (50 000 with --quick)',
  inProcess: true,
  async run(ctx) {
    const count = ctx.quick ? 50_000 : 1_000_000;
    const options = { compile: compileCel, defaultAction: 'deny' } as const;
    // From the package root: this file runs compiled under .cache/bench, where the policy helpers' relative paths do not lead.
    const root = await packageRoot();
    const baseline = join(root, 'policies/baseline-allow.yaml');
    const recorded = templates(loadPolicy([baseline], options));
    const proposed = loadPolicy([join(root, 'policies/guardrails'), baseline], options);
    const t0 = Date.now() * 1000 - count * 1000;
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-backtest-bench-'));
    try {
      const db = join(dir, 'gatehouse.db');
      // One request per millisecond, ending now: the templates in turn.
      const fillRate = await fill(db, count, (i) => buildAuditEvent({ ...recorded[i % recorded.length]!, requestId: `req-${i}`, timeMicros: t0 + i * 1000 }), (line) => ctx.log(line));
      ctx.note(`backtest: store of ${count} events is ${Math.round(statSync(db).size / 1_048_576)} MiB, filled at ${Math.round(fillRate)} events/s`);
      const store = openSqliteStore(db);
      try {
        const report = await backtestPolicy(store.audit, proposed, { filter: {} });
        ctx.log(`  backtest: ${report.evaluated} evaluated in ${(report.durationMs / 1000).toFixed(1)} s (${report.perSecond}/s): ${report.changed} changed, ${report.undetermined} undetermined`);
        ctx.note(`backtest: ${report.changed} changed (${report.transitions.map((g) => `${g.key} ${g.count}`).join(', ')}), ${report.undetermined} undetermined, ${report.skipped} skipped`);
        ctx.add('backtest', 'requests/s', 'engine', 'higher', [report.perSecond]);
        ctx.add('backtest', `seconds for ${count} requests`, 'engine', 'lower', [report.durationMs / 1000]);
        ctx.add('backtest', 'store fill events/s', 'sqlite', 'higher', [fillRate]);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
