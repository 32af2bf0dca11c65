/**
 * Sessions for auditors: what one kubectl invocation did (its
 * Kubectl-Session id), or, for clients that send none, what one principal
 * did within an hour. Detail lists the events in order, each with its
 * decision, its bodies as recorded (masked) and its approval.
 *
 * @module
 */

import { z } from 'zod';
import { auditEventSchema } from '../audit/event.js';
import { PRINCIPAL_SESSION_MS } from '../audit/store.js';
import type { AuditRepo, SessionSummaryRow } from '../audit/store.js';
import { AUDIT_READERS, eventView, limitParam, seqParam, timeParam } from './audit.js';
import { ConsoleError } from './errors.js';
import { parseQuery } from './http.js';
import { reply, route } from './router.js';
import type { Route } from './router.js';

/** What a session id stands for; the id is this, as base64url JSON, so it needs no table. */
const sessionKey = z.tuple([z.string().min(1).nullable(), z.string().min(1), z.number().int().nullable()]);

const listQuery = z.object({ subject: z.string().min(1).optional(), since: timeParam.optional(), limit: limitParam(500, 50) }).strict();
const detailQuery = z.object({ limit: limitParam(1000, 500), after: seqParam.optional() }).strict();

export function sessionId(row: Pick<SessionSummaryRow, 'kubectlSession' | 'subject' | 'bucketMs'>): string {
  return Buffer.from(JSON.stringify([row.kubectlSession, row.subject, row.bucketMs])).toString('base64url');
}

/** A session as the console lists it; `command` is kubectl's Kubectl-Command of its first request. */
function summaryView(row: SessionSummaryRow) {
  const first = auditEventSchema.parse(JSON.parse(row.firstEventJson));
  return {
    id: sessionId(row),
    kubectlSession: row.kubectlSession,
    subject: row.subject,
    kind: first.principal?.kind ?? null,
    command: first.client.kubectlCommand ?? null,
    start: new Date(row.firstMs).toISOString(),
    end: new Date(row.lastMs).toISOString(),
    events: row.events,
    denied: row.denied,
    reviewed: row.reviewed,
    masked: row.masked,
    streams: row.streams,
  };
}

function parseSessionId(id: string): z.infer<typeof sessionKey> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(id, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  const parsed = sessionKey.safeParse(value);
  // A kubectl session has no hour; a principal session must have one.
  if (!parsed.success || (parsed.data[0] === null) === (parsed.data[2] === null)) {
    throw new ConsoleError('not-found', `no session has the id ${JSON.stringify(id)}: use an id from GET /gatehouse/v1/sessions`);
  }
  return parsed.data;
}

/**
 * @example
 * const routes = sessionRoutes(store.audit);
 */
export function sessionRoutes(repo: AuditRepo): Route[] {
  return [
    route('GET', '/gatehouse/v1/sessions', AUDIT_READERS, async ({ url }) => {
      const q = parseQuery(listQuery, url.searchParams);
      const rows = await repo.sessions({ subject: q.subject, sinceMs: q.since, limit: q.limit });
      return reply(200, { items: rows.map(summaryView) });
    }),
    route('GET', '/gatehouse/v1/sessions/:id', AUDIT_READERS, async ({ url, params }) => {
      const id = params['id']!;
      const [kubectlSession, subject, bucketMs] = parseSessionId(id);
      const q = parseQuery(detailQuery, url.searchParams);
      // A principal session is its hour; a kubectl session is all of it.
      const range = bucketMs === null ? {} : { sinceMs: bucketMs, untilMs: bucketMs + PRINCIPAL_SESSION_MS };
      const [summary] = await repo.sessions({ kubectlSession, subject, ...range, limit: 1 });
      if (summary === undefined) throw new ConsoleError('not-found', `session ${id} has no recorded events (pruned?)`);
      const rows = await repo.search({ kubectlSession, subject, ...range, afterSeq: q.after, limit: q.limit, order: 'asc' });
      return reply(200, {
        session: summaryView(summary),
        events: rows.map(eventView),
        nextAfter: rows.length === q.limit ? String(rows.at(-1)!.seq) : null,
      });
    }),
  ];
}
