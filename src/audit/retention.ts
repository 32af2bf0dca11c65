/**
 * Retention: pruning old events while keeping the chain verifiable. The
 * events before a cut-off go, but first a `seal` checkpoint is signed for
 * the last pruned event; verify then starts the chain from that seal. The
 * range is verified before it is pruned, so a prune never launders an
 * earlier edit into a signed seal.
 *
 * @module
 */

import { rfc3339Micros } from './event.js';
import { trustedKeysFromPem } from './checkpoint.js';
import type { AuditSigner, Checkpoint } from './checkpoint.js';
import type { AuditRepo } from './store.js';
import { verifyAuditStore } from './verify.js';

export interface PruneResult {
  deleted: number;
  /** The seal written, or undefined when there was nothing to prune. */
  seal: Checkpoint | undefined;
}

/**
 * Prunes every event before the first one at or after `beforeMs` (events are
 * pruned as a prefix of the chain, so an event newer than the cut-off is
 * never pruned).
 *
 * @example
 * await pruneAuditBefore(store.audit, signer, Date.now() - 90 * 86_400_000);
 */
export async function pruneAuditBefore(repo: AuditRepo, signer: AuditSigner, beforeMs: number): Promise<PruneResult> {
  const head = await repo.head();
  const firstKept = (await repo.firstSeqAtOrAfter(Math.ceil(beforeMs))) ?? head.seq + 1;
  const through = firstKept - 1;
  const [last] = through >= 1 ? await repo.readAfter(through - 1, 1) : [];
  if (!last || last.seq !== through) return { deleted: 0, seal: undefined };
  const report = await verifyAuditStore(repo, trustedKeysFromPem(signer.publicKeyPem));
  if (report.problem && report.problem.seq <= through) {
    throw new Error(`refusing to prune through seq ${through}: the audit chain is broken at seq ${report.problem.seq} (${report.problem.kind}: ${report.problem.message})`);
  }
  const seal = signer.sign({ seq: through, hash: last.hash, time: rfc3339Micros(Date.now() * 1000), kind: 'seal' });
  return { deleted: await repo.prune(seal), seal };
}
