import { once } from 'node:events';
import { createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import { asciicastInfo, readSessionRecording, toAsciicast } from '../audit/asciicast.js';
import { loadAuditSigner, SIGNING_KEY_FILE, trustedKeysFromPem } from '../audit/checkpoint.js';
import type { TrustedKeys } from '../audit/checkpoint.js';
import { auditEventSchema, resultLabel } from '../audit/event.js';
import { exportRows, jsonlRecord, k8sAuditEvent } from '../audit/export.js';
import { pruneAuditBefore } from '../audit/retention.js';
import type { AuditFilter, StoredEventRow } from '../audit/store.js';
import { parseTime } from '../audit/time.js';
import { verifyAuditStore } from '../audit/verify.js';
import { configSchema } from '../config/schema.js';
import { parseTtl } from '../identity/tokens-ttl.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/types.js';
import { alignColumns } from './table.js';
import { playRecording, REPLAY_EXAMPLES, replaySession } from './audit-replay.js';

export interface StoreFlags {
  dataDir: string;
  db?: string;
  postgres?: string;
}

interface FilterFlags extends StoreFlags {
  principal?: string;
  verb?: string;
  resource?: string;
  namespace?: string;
  decision?: string;
  session?: string;
  since?: string;
  until?: string;
}

interface ReplayFlags extends StoreFlags {
  session?: string;
  play?: boolean;
  speed: number;
  maxPause: number;
  json?: boolean;
  output?: string;
  unverified?: boolean;
}

const DEFAULT_DATA_DIR = join(homedir(), '.gatehouse');

function positiveNumber(text: string): number {
  const n = Number(text);
  if (!(n > 0)) throw new InvalidArgumentError('a number greater than 0');
  return n;
}

/** `gatehouse audit …`: verify, search, export, replay, public-key, prune. */
export function registerAudit(program: Command): void {
  const audit = program
    .command('audit')
    .description('verify, search and export the tamper-evident audit record')
    .addHelpText(
      'after',
      `
Examples:
  gatehouse audit verify
  gatehouse audit search --principal token:cursor-bob --since 2h --json
  gatehouse audit export --since 7d --format k8s -o audit.json
  gatehouse audit replay <request-id> --play
  gatehouse audit verify --postgres postgres://gatehouse@db:5432/gatehouse`,
    );

  storeOptions(audit.command('verify'))
    .description('walk the hash chain and the signed checkpoints; report the first broken link (exit 1)')
    .option('--public-key <file>', `PEM public key(s) to trust (default: the key in <data-dir>/${SIGNING_KEY_FILE})`)
    .action((flags: StoreFlags & { publicKey?: string }) =>
      withStore(flags, async (store, where) => {
        const keys = trustedKeys(flags);
        process.stderr.write(`gatehouse: verifying the audit record in ${where}…\n`);
        let lastShown = 0;
        const report = await verifyAuditStore(store.audit, keys, {
          onProgress: ({ checked, total }) => {
            if (Date.now() - lastShown < 1000) return;
            lastShown = Date.now();
            process.stderr.write(`  ${checked} / ${total} events (${Math.floor((100 * checked) / Math.max(total, 1))}%)\n`);
          },
        });
        const range = report.firstSeq === undefined ? 'no events' : `${report.events} events (seq ${report.firstSeq}–${report.lastSeq})`;
        if (report.ok) {
          const signed = report.lastCheckpointSeq ?? 0;
          const tail = (report.lastSeq ?? 0) - signed;
          process.stdout.write(
            `OK: ${range}, ${report.checkpoints} signed checkpoint(s) hold` +
              (tail > 0 ? `; the last ${tail} event(s) after checkpoint seq ${signed} are covered by the hash chain only until the next checkpoint` : '') +
              '\n',
          );
        } else {
          const p = report.problem!;
          process.stdout.write(`BROKEN at seq ${p.seq} (${p.kind}): ${p.message}\n  checked before the break: ${range}\n`);
          process.exitCode = 1;
        }
      }),
    );

  filterOptions(storeOptions(audit.command('search')))
    .description('list recorded requests, newest first')
    .option('--limit <n>', 'at most this many', '50')
    .option('--json', 'print the events as JSON (with seq and hash)')
    .action((flags: FilterFlags & { limit: string; json?: boolean }) =>
      withStore(flags, async (store) => {
        const rows = await store.audit.search({ ...filterOf(flags), limit: Number(flags.limit), order: 'desc' });
        if (flags.json) process.stdout.write(`[${rows.map(jsonlRecord).join(',\n')}]\n`);
        else if (rows.length === 0) process.stderr.write('gatehouse: no recorded request matches\n');
        else process.stdout.write(formatTable(rows));
      }),
    );

  filterOptions(storeOptions(audit.command('export')))
    .description('export recorded requests, oldest first: JSON Lines (with seq and hashes) or audit.k8s.io/v1 EventList')
    .addOption(new Option('--format <format>', 'jsonl or k8s').choices(['jsonl', 'k8s']).default('jsonl'))
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .action((flags: FilterFlags & { format: 'jsonl' | 'k8s'; output?: string }) =>
      withStore(flags, async (store) => {
        const out = flags.output ? createWriteStream(flags.output, { mode: 0o600 }) : process.stdout;
        const write = async (text: string) => {
          if (!out.write(text)) await once(out, 'drain');
        };
        let count = 0;
        if (flags.format === 'k8s') await write('{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[');
        for await (const row of exportRows(store.audit, filterOf(flags))) {
          if (flags.format === 'k8s') await write(`${count > 0 ? ',' : ''}\n${JSON.stringify(k8sAuditEvent(row))}`);
          else await write(`${jsonlRecord(row)}\n`);
          count += 1;
          if (flags.output && count % 10_000 === 0) process.stderr.write(`  ${count} events…\n`);
        }
        if (flags.format === 'k8s') await write('\n]}\n');
        if (out !== process.stdout) await new Promise<void>((resolve, reject) => out.once('error', reject).end(resolve));
        process.stderr.write(`gatehouse: exported ${count} event(s)${flags.output ? ` to ${flags.output}` : ''}\n`);
      }),
    );

  storeOptions(audit.command('replay'))
    .description(
      "print a session's calls in order (--session), or one recording: an exec / attach session, watch or log stream, as an asciicast v2 file " +
        '(`asciinema play <file>`) or played here (--play). Recordings whose chunks do not match their event are refused unless --unverified',
    )
    .argument('[recording]', "a recording's id: its request id (stream.sessionId in `audit search --json`)")
    .option('--session <id>', 'a kubectl session id (Kubectl-Session), a session id from the console, or a principal (its latest session)')
    .option('--play', 'play recordings in this terminal at the speed they happened (with --session: each after its call)')
    .option('--speed <n>', 'play this many times faster', positiveNumber, 1)
    .option('--max-pause <seconds>', 'shorten longer pauses in a recording to this', positiveNumber, Infinity)
    .option('--json', 'with --session: the session and its events as JSON (with seq and hash)')
    .option('-o, --output <file>', 'write the cast to this file instead of stdout')
    .option('--unverified', 'use a recording even when its chunks do not verify against its event (e.g. a session still open)')
    .addHelpText('after', REPLAY_EXAMPLES)
    .action((id: string | undefined, flags: ReplayFlags) =>
      withStore(flags, async (store) => {
        if ((id === undefined) === (flags.session === undefined)) throw new Error('give a recording id or --session, not both nor neither');
        const options = {
          json: flags.json ?? false,
          play: flags.play ?? false,
          unverified: flags.unverified ?? false,
          speed: flags.speed,
          maxPauseSeconds: flags.maxPause,
          write: (text: string) => void process.stdout.write(text),
          warn: (text: string) => void process.stderr.write(text),
        };
        if (flags.session !== undefined) {
          if (!(await replaySession(store.audit, flags.session, options))) throw new Error(`no session, kubectl session or principal ${flags.session} is recorded`);
          return;
        }
        if (flags.play) {
          if (!(await playRecording(store.audit, id!, options))) process.exitCode = 1;
          return;
        }
        const recording = await readSessionRecording(store.audit, id!);
        if (recording.chunks.length === 0 && !recording.event) throw new Error(`no recording ${id} is stored`);
        if (recording.problem) {
          process.stderr.write(`gatehouse: the recording does not verify: ${recording.problem}\n`);
          if (!flags.unverified) {
            process.exitCode = 1;
            return;
          }
        }
        const cast = toAsciicast(recording.event ? asciicastInfo(recording.event) : { title: `session ${id}` }, recording.chunks);
        if (flags.output) writeFileSync(flags.output, cast, { mode: 0o600 });
        else process.stdout.write(cast);
      }),
    );

  audit
    .command('public-key')
    .description("print the PEM public key that checks the audit checkpoints' signatures (creates the gateway's key if it has none yet)")
    .option('--data-dir <dir>', 'gateway data directory', DEFAULT_DATA_DIR)
    .action((flags: { dataDir: string }) => {
      process.stdout.write(loadAuditSigner(flags.dataDir).publicKeyPem);
    });

  storeOptions(audit.command('prune'))
    .description('retention: delete events older than a cut-off, sealing the pruned range with a signed checkpoint so verify still passes')
    .requiredOption('--older-than <age>', 'e.g. 90d, 12h')
    .action((flags: StoreFlags & { olderThan: string }) =>
      withStore(flags, async (store) => {
        const before = Date.now() - parseTtl(flags.olderThan) * 1000;
        process.stderr.write(`gatehouse: verifying, then pruning events before ${new Date(before).toISOString()}…\n`);
        const result = await pruneAuditBefore(store.audit, loadAuditSigner(flags.dataDir), before);
        process.stdout.write(result.seal ? `pruned ${result.deleted} event(s) through seq ${result.seal.seq}, sealed at ${result.seal.time}\n` : 'nothing to prune\n');
      }),
    );
}

export function storeOptions(command: Command): Command {
  return command
    .option('--data-dir <dir>', 'gateway data directory (holds the signing key and the default SQLite store)', DEFAULT_DATA_DIR)
    .option('--db <file>', `the SQLite store (default: <data-dir>/${configSchema.shape.store.parse(undefined).sqlite.path})`)
    .option('--postgres <url>', 'the PostgreSQL store instead, e.g. postgres://gatehouse@db:5432/gatehouse');
}

function filterOptions(command: Command): Command {
  return command
    .option('--principal <subject>', 'who asked, e.g. oidc:alice@example.com or token:cursor-bob')
    .option('--verb <verbs>', 'comma-separated: get,list,watch,create,update,patch,delete…')
    .option('--resource <resource>', 'e.g. pods, secrets, deployments')
    .option('--namespace <ns>')
    .option('--decision <action>', 'allow, deny, mask, review, or none')
    .option('--session <id>', "kubectl's session id (Kubectl-Session header)")
    .option('--since <time>', 'RFC 3339 time, or an age such as 2h, 7d')
    .option('--until <time>', 'RFC 3339 time, or an age such as 1h');
}

function filterOf(flags: FilterFlags): AuditFilter {
  return {
    subject: flags.principal,
    verbs: flags.verb?.split(',').map((v) => v.trim()).filter(Boolean),
    resource: flags.resource,
    namespace: flags.namespace,
    decision: flags.decision,
    kubectlSession: flags.session,
    sinceMs: flags.since === undefined ? undefined : parseTime(flags.since),
    untilMs: flags.until === undefined ? undefined : parseTime(flags.until),
  };
}

function trustedKeys(flags: StoreFlags & { publicKey?: string }): TrustedKeys {
  const path = flags.publicKey ?? join(flags.dataDir, SIGNING_KEY_FILE);
  if (!existsSync(path)) {
    throw new Error(`no key to check checkpoints with: ${path} does not exist (give the gateway's public key with --public-key; \`gatehouse audit public-key\` prints it)`);
  }
  return trustedKeysFromPem(readFileSync(path, 'utf8'));
}

export async function withStore(flags: StoreFlags, use: (store: Store, where: string) => Promise<void>): Promise<void> {
  if (flags.db !== undefined && flags.postgres !== undefined) throw new Error('give --db or --postgres, not both');
  let where: string;
  let store: Store;
  if (flags.postgres !== undefined) {
    // The pg driver is loaded only when a PostgreSQL store is asked for.
    where = (await import('../store/postgres.js')).redactUrl(flags.postgres);
    store = await openStore({ postgres: flags.postgres });
  } else {
    where = flags.db ?? join(flags.dataDir, configSchema.shape.store.parse(undefined).sqlite.path);
    if (!existsSync(where)) throw new Error(`no store at ${where} (give --data-dir, --db or --postgres)`);
    store = await openStore({ sqlite: where });
  }
  try {
    await use(store, where);
  } finally {
    await store.close();
  }
}

function formatTable(rows: StoredEventRow[]): string {
  const table = [
    ['SEQ', 'TIME', 'PRINCIPAL', 'VERB', 'RESOURCE', 'NAMESPACE', 'NAME', 'DECISION', 'STATUS'],
    ...rows.map((row) => {
      const e = auditEventSchema.parse(JSON.parse(row.eventJson));
      const resource = [e.request.resource, e.request.subresource].filter(Boolean).join('/') || e.request.path;
      return [
        String(row.seq),
        e.time.slice(0, 19) + 'Z',
        e.principal?.subject ?? '-',
        e.request.verb || e.request.method.toLowerCase(),
        resource,
        e.request.namespace || '-',
        e.request.name || '-',
        e.decision ? e.decision.action + (e.decision.rule ? ` (${e.decision.rule})` : '') : '-',
        resultLabel(e.result),
      ];
    }),
  ];
  return alignColumns(table);
}
