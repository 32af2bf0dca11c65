/**
 * The audit record for auditors: search (newest first, paged by seq) and the
 * integrity of the hash chain and its signed checkpoints.
 *
 * @module
 */

import { z } from 'zod';
import type { TrustedKeys } from '../audit/checkpoint.js';
import { auditEventSchema } from '../audit/event.js';
import type { AuditEvent } from '../audit/event.js';
import type { AuditRepo, StoredEventRow } from '../audit/store.js';
import { verifyAuditStore } from '../audit/verify.js';
import type { VerifyReport } from '../audit/verify.js';
import { parseQuery } from './http.js';
import { reply, route } from './router.js';
import type { Route } from './router.js';

/** Who may read the record. */
export const AUDIT_READERS = ['auditor', 'admin'] as const;

/** A stored event as the API returns it: the event plus where it sits in the chain. */
export type EventView = AuditEvent & { seq: number; hash: string };

export function eventView(row: StoredEventRow): EventView {
  return { ...auditEventSchema.parse(JSON.parse(row.eventJson)), seq: row.seq, hash: row.hash };
}

/** RFC 3339 (with an offset or Z) → milliseconds since the epoch. */
export const timeParam = z.iso.datetime({ offset: true, error: 'must be an RFC 3339 time, e.g. 2025-11-25T14:00:00Z' }).transform((t) => Date.parse(t));
export const limitParam = (max: number, fallback: number) => z.coerce.number().int().min(1).max(max).default(fallback);
export const seqParam = z.coerce.number().int().min(1);

const searchQuery = z
  .object({
    subject: z.string().min(1).optional(),
    /** Comma-separated. */
    verb: z.string().min(1).optional(),
    resource: z.string().min(1).optional(),
    namespace: z.string().optional(),
    decision: z.enum(['allow', 'deny', 'mask', 'review', 'none']).optional(),
    since: timeParam.optional(),
    until: timeParam.optional(),
    limit: limitParam(1000, 100),
    /** Only events with a smaller seq: the previous page's `nextBefore`. */
    before: seqParam.optional(),
  })
  .strict();

/**
 * @example
 * const routes = auditRoutes(store.audit, trustedKeysFromPem(signer.publicKeyPem));
 */
export function auditRoutes(repo: AuditRepo, keys: TrustedKeys): Route[] {
  // Verify walks the whole record: callers arriving while it runs share one walk.
  let running: Promise<{ report: VerifyReport; checkedAt: string; checkpointTime: string | null }> | undefined;
  const integrity = () =>
    (running ??= (async () => {
      const checkedAt = new Date().toISOString();
      const report = await verifyAuditStore(repo, keys);
      const checkpoint = report.lastCheckpointSeq === undefined ? undefined : (await repo.checkpoints()).findLast((cp) => cp.seq === report.lastCheckpointSeq);
      return { report, checkedAt, checkpointTime: checkpoint?.time ?? null };
    })().finally(() => {
      running = undefined;
    }));

  return [
    route('GET', '/gatehouse/v1/audit/events', AUDIT_READERS, async ({ url }) => {
      const q = parseQuery(searchQuery, url.searchParams);
      const rows = await repo.search({
        subject: q.subject,
        verbs: q.verb?.split(',').map((v) => v.trim()).filter(Boolean),
        resource: q.resource,
        namespace: q.namespace,
        decision: q.decision,
        sinceMs: q.since,
        untilMs: q.until,
        afterSeq: q.before,
        limit: q.limit,
        order: 'desc',
      });
      // The cursor is opaque to clients: a string, so its form may change.
      const last = rows.length === q.limit ? rows.at(-1) : undefined;
      return reply(200, { items: rows.map(eventView), nextBefore: last === undefined ? null : String(last.seq) });
    }),
    route('GET', '/gatehouse/v1/audit/integrity', AUDIT_READERS, async () => {
      const { report, checkedAt, checkpointTime } = await integrity();
      return reply(200, {
        ok: report.ok,
        checkedAt,
        events: report.events,
        firstSeq: report.firstSeq ?? null,
        lastSeq: report.lastSeq ?? null,
        checkpoints: report.checkpoints,
        lastCheckpointSeq: report.lastCheckpointSeq ?? null,
        checkpoint: report.lastCheckpointSeq === undefined ? null : { seq: report.lastCheckpointSeq, time: checkpointTime },
        problem: report.problem ?? null,
      });
    }),
  ];
}

