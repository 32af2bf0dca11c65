/**
 * Walks the audit chain and its checkpoints and reports the first broken
 * link, in seq order: an edited record (its hash or an indexed column no
 * longer matches its content), a deleted one (a seq gap, or a missing start
 * with no seal), records reordered or inserted (a record whose hash only
 * holds at another seq), a tail cut after a checkpoint (a checkpoint or the
 * chain head names a seq that is gone), a stream whose chunks changed, or a
 * checkpoint whose signature does not hold.
 *
 * What it cannot see (docs/audit.md): someone with write access who rewrites
 * every record after the last checkpoint *and* the head row, recomputing the
 * hashes, leaves a consistent chain; checkpoints bound that window.
 *
 * @module
 */

import { chainHash, GENESIS_HASH } from './chain.js';
import { checkpointSignatureProblem } from './checkpoint.js';
import type { Checkpoint, TrustedKeys } from './checkpoint.js';
import { eventColumns } from './columns.js';
import { auditEventSchema } from './event.js';
import type { AuditEvent } from './event.js';
import type { AuditRepo, EventColumns, StoredEventRow } from './store.js';
import { streamChunksProblem } from './stream.js';

export type BreakKind = 'edited' | 'deleted' | 'reordered' | 'inserted' | 'truncated' | 'bad-signature';

export interface ChainBreak {
  kind: BreakKind;
  /** The seq where the chain first breaks. */
  seq: number;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  /** Events checked, and the range. */
  events: number;
  firstSeq: number | undefined;
  lastSeq: number | undefined;
  /** Checkpoints whose signature and hash were checked. */
  checkpoints: number;
  /** The last checkpoint that held; events after it are covered by the chain only. */
  lastCheckpointSeq: number | undefined;
  /** The first broken link, when there is one. */
  problem: ChainBreak | undefined;
}

export interface VerifyOptions {
  /** Rows read per query (default 1000). */
  pageSize?: number;
  /** Called after each page. */
  onProgress?: (progress: { checked: number; total: number; seq: number }) => void;
}

/** How far around a record verify looks for the seq its hash was written with. */
const REORDER_WINDOW = 64;

class Broken extends Error {
  constructor(readonly problem: ChainBreak) {
    super(problem.message);
  }
}

const broken = (kind: BreakKind, seq: number, message: string) => new Broken({ kind, seq, message });

/**
 * @example
 * const report = await verifyAuditStore(store.audit, trustedKeysFromPem(readFileSync('audit.pub', 'utf8')));
 * if (!report.ok) console.error(`${report.problem.kind} at seq ${report.problem.seq}: ${report.problem.message}`);
 */
export async function verifyAuditStore(repo: AuditRepo, keys: TrustedKeys, options: VerifyOptions = {}): Promise<VerifyReport> {
  const pageSize = options.pageSize ?? 1000;
  // Checkpoints first: one written while verify runs then names a seq at or below the head read after.
  const checkpoints = await repo.checkpoints();
  const head = await repo.head();
  const report: VerifyReport = { ok: true, events: 0, firstSeq: undefined, lastSeq: undefined, checkpoints: 0, lastCheckpointSeq: undefined, problem: undefined };
  const recent = new Map<string, number>(); // hash → seq, for the last REORDER_WINDOW records
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  let cpIndex = 0;

  const checkCheckpoint = async (cp: Checkpoint, row: StoredEventRow | undefined) => {
    const signatureProblem = checkpointSignatureProblem(cp, keys);
    if (signatureProblem) throw broken('bad-signature', cp.seq, `the ${cp.kind} checkpoint at seq ${cp.seq} (${cp.time}) is not valid: ${signatureProblem}`);
    if (!row) {
      throw broken(
        'truncated',
        (report.lastSeq ?? 0) + 1,
        `the checkpoint signed at ${cp.time} names seq ${cp.seq}, which is gone: the records after seq ${report.lastSeq ?? 0} were cut off`,
      );
    }
    if (cp.hash !== row.hash) throw await checkpointMismatch(cp, row, repo);
    report.checkpoints += 1;
    report.lastCheckpointSeq = cp.seq;
  };

  try {
    let afterSeq = 0;
    for (;;) {
      const rows = (await repo.readAfter(afterSeq, pageSize)).filter((r) => r.seq <= head.seq);
      for (const row of rows) {
        if (report.firstSeq === undefined) {
          const start = startOf(row, checkpoints, keys);
          expectedSeq = start.seq;
          prevHash = start.prevHash;
          report.firstSeq = row.seq;
          if (start.seal) {
            report.checkpoints += 1;
            report.lastCheckpointSeq = start.seal.seq;
          }
          while (checkpoints[cpIndex] && checkpoints[cpIndex]!.seq < row.seq) cpIndex += 1;
        }
        if (row.seq !== expectedSeq) {
          const missing = row.seq - 1 === expectedSeq ? `seq ${expectedSeq} is` : `seq ${expectedSeq}–${row.seq - 1} are`;
          throw broken('deleted', expectedSeq, `${missing} missing: the chain jumps from ${expectedSeq - 1} to ${row.seq}`);
        }
        const event = await checkRecord(row, prevHash, recent, repo);
        await checkStream(event, row.seq, repo);
        recent.set(row.hash, row.seq);
        if (recent.size > REORDER_WINDOW) recent.delete(recent.keys().next().value!);
        prevHash = row.hash;
        expectedSeq = row.seq + 1;
        report.events += 1;
        report.lastSeq = row.seq;
        while (checkpoints[cpIndex] && checkpoints[cpIndex]!.seq === row.seq) await checkCheckpoint(checkpoints[cpIndex++]!, row);
      }
      if (rows.length === 0) break;
      afterSeq = rows.at(-1)!.seq;
      options.onProgress?.({ checked: report.events, total: head.seq - (report.firstSeq ?? 1) + 1, seq: afterSeq });
      if (afterSeq >= head.seq) break;
    }
    await checkTail(repo, report, head, prevHash, checkpoints.slice(cpIndex), keys, checkCheckpoint);
  } catch (err) {
    if (!(err instanceof Broken)) throw err;
    report.ok = false;
    report.problem = err.problem;
  }
  return report;
}

/** Where the chain must start: seq 1 after the genesis hash, or right after a signed seal (retention). */
function startOf(row: StoredEventRow, checkpoints: readonly Checkpoint[], keys: TrustedKeys): { seq: number; prevHash: string; seal?: Checkpoint } {
  if (row.seq === 1) return { seq: 1, prevHash: GENESIS_HASH };
  const seal = checkpoints.find((cp) => cp.kind === 'seal' && cp.seq === row.seq - 1);
  if (!seal) {
    throw broken('deleted', 1, `the chain starts at seq ${row.seq} with no seal checkpoint at seq ${row.seq - 1}: seq 1–${row.seq - 1} were deleted`);
  }
  const problem = checkpointSignatureProblem(seal, keys);
  if (problem) throw broken('bad-signature', seal.seq, `the seal checkpoint at seq ${seal.seq} (${seal.time}) is not valid: ${problem}`);
  return { seq: row.seq, prevHash: seal.hash, seal };
}

async function checkRecord(row: StoredEventRow, prevHash: string, recent: ReadonlyMap<string, number>, repo: AuditRepo): Promise<AuditEvent> {
  let raw: unknown;
  try {
    raw = JSON.parse(row.eventJson);
  } catch {
    throw broken('edited', row.seq, `the record at seq ${row.seq} is not valid JSON`);
  }
  if (chainHash(row.prevHash, row.seq, raw) !== row.hash) throw await misplaced(row, raw, repo);
  if (row.prevHash !== prevHash) {
    const linkedTo = recent.get(row.prevHash);
    if (linkedTo !== undefined && linkedTo < row.seq - 1) {
      throw broken('inserted', linkedTo + 1, `seq ${row.seq} was chained to seq ${linkedTo}: seq ${linkedTo + 1}–${row.seq - 1} were inserted`);
    }
    throw broken('edited', row.seq - 1, `the record at seq ${row.seq - 1} is not the one seq ${row.seq} was chained to: it was replaced (with its hash recomputed)`);
  }
  const parsed = auditEventSchema.safeParse(raw);
  if (!parsed.success) throw broken('edited', row.seq, `the record at seq ${row.seq} is not a valid audit event: ${parsed.error.issues[0]?.message ?? ''}`);
  const columns = eventColumns(parsed.data);
  for (const key of Object.keys(columns) as Array<keyof EventColumns>) {
    if (columns[key] !== row.columns[key]) {
      throw broken('edited', row.seq, `the ${key} column of seq ${row.seq} is ${JSON.stringify(row.columns[key])}, but the recorded event says ${JSON.stringify(columns[key])}`);
    }
  }
  return parsed.data;
}

/** A record whose hash does not hold at its seq: moved (reordered, renumbered) or edited. */
async function misplaced(row: StoredEventRow, raw: unknown, repo: AuditRepo): Promise<Broken> {
  for (let delta = 1; delta <= REORDER_WINDOW; delta += 1) {
    for (const written of [row.seq - delta, row.seq + delta]) {
      if (written < 1 || chainHash(row.prevHash, written, raw) !== row.hash) continue;
      const [other] = await repo.readAfter(written - 1, 1);
      if (other?.seq === written && holdsAt(other, row.seq)) {
        return broken('reordered', Math.min(row.seq, written), `the records written as seq ${written} and seq ${row.seq} were swapped`);
      }
      if (written < row.seq) {
        return broken('inserted', written, `the record at seq ${row.seq} was written as seq ${written}: ${row.seq - written} record(s) were inserted before it`);
      }
      return broken('deleted', row.seq, `the record at seq ${row.seq} was written as seq ${written}: records were deleted and the rest renumbered`);
    }
  }
  return broken('edited', row.seq, `the record at seq ${row.seq} does not match its hash: its content was changed`);
}

/** A checkpoint whose record is not the one it signed: that record moved (records inserted or deleted before it), or the chain was rewritten. */
async function checkpointMismatch(cp: Checkpoint, row: StoredEventRow, repo: AuditRepo): Promise<Broken> {
  const around = await repo.readAfter(Math.max(0, cp.seq - REORDER_WINDOW - 1), 2 * REORDER_WINDOW + 1);
  const moved = around.find((r) => r.hash === cp.hash);
  if (moved && moved.seq > cp.seq) {
    return broken('inserted', cp.seq, `the record the checkpoint signed at ${cp.time} names as seq ${cp.seq} is now seq ${moved.seq}: ${moved.seq - cp.seq} record(s) were inserted before it`);
  }
  if (moved) {
    return broken('deleted', moved.seq, `the record the checkpoint signed at ${cp.time} names as seq ${cp.seq} is now seq ${moved.seq}: records were deleted and the rest renumbered`);
  }
  return broken('edited', cp.seq, `the checkpoint signed at ${cp.time} names hash ${cp.hash} for seq ${cp.seq}, but the record has ${row.hash}: the chain up to here was rewritten`);
}

function holdsAt(row: StoredEventRow, seq: number): boolean {
  try {
    return chainHash(row.prevHash, seq, JSON.parse(row.eventJson)) === row.hash;
  } catch {
    return false;
  }
}

/** A stream's chunks must still be the ones the event summed up when the stream ended. */
async function checkStream(event: AuditEvent, seq: number, repo: AuditRepo): Promise<void> {
  const ref = event.stream;
  if (!ref || ref.hash === undefined) return;
  const problem = streamChunksProblem(ref, await repo.chunks(ref.sessionId));
  if (problem) throw broken(problem.kind, seq, `${problem.message} (seq ${seq})`);
}

async function checkTail(
  repo: AuditRepo,
  report: VerifyReport,
  head: { seq: number; hash: string },
  lastHash: string,
  remaining: readonly Checkpoint[],
  keys: TrustedKeys,
  checkCheckpoint: (cp: Checkpoint, row: undefined) => Promise<void>,
): Promise<void> {
  const last = report.lastSeq ?? 0;
  for (const cp of remaining) {
    // Everything pruned: the seal at the head is where the chain now starts.
    if (report.lastSeq === undefined && cp.kind === 'seal' && cp.seq === head.seq && cp.hash === head.hash) {
      const problem = checkpointSignatureProblem(cp, keys);
      if (problem) throw broken('bad-signature', cp.seq, `the seal checkpoint at seq ${cp.seq} is not valid: ${problem}`);
      report.checkpoints += 1;
      report.lastCheckpointSeq = cp.seq;
      return;
    }
    await checkCheckpoint(cp, undefined);
  }
  if (head.seq > last) {
    throw broken('truncated', last + 1, `the chain head is seq ${head.seq} but the last record is seq ${last}: seq ${last + 1}–${head.seq} were cut off`);
  }
  const [beyond] = await repo.readAfter(head.seq, 1);
  const now = await repo.head();
  if (beyond && beyond.seq > now.seq) {
    throw broken('inserted', beyond.seq, `seq ${beyond.seq} is beyond the chain head (seq ${now.seq}): it was added outside the gateway`);
  }
  if (report.lastSeq !== undefined && head.hash !== lastHash) {
    throw broken('edited', last, `the chain head names hash ${head.hash} for seq ${last}, which is not the record's: the last record was replaced`);
  }
}
