/**
 * Sessions for auditors: what one kubectl invocation did (its
 * Kubectl-Session id), or, for clients that send none, what one principal
 * did within an hour. Detail lists the events in order, each with its
 * decision, its bodies as recorded (masked) and its approval.
 *
 * @module
 */

import { z } from 'zod';
import { parseSessionId, readSession, sessionSummary } from '../audit/sessions.js';
import type { SessionKey } from '../audit/sessions.js';
import type { AuditRepo } from '../audit/store.js';
import { AUDIT_READERS, eventView, limitParam, seqParam, timeParam } from './audit.js';
import { ConsoleError } from './errors.js';
import { parseQuery } from './http.js';
import { reply, route } from './router.js';
import type { Route } from './router.js';

const listQuery = z.object({ subject: z.string().min(1).optional(), since: timeParam.optional(), limit: limitParam(500, 50) }).strict();
const detailQuery = z.object({ limit: limitParam(1000, 500), after: seqParam.optional() }).strict();

function sessionKey(id: string): SessionKey {
  const key = parseSessionId(id);
  if (key === undefined) throw new ConsoleError('not-found', `no session has the id ${JSON.stringify(id)}: use an id from GET /gatehouse/v1/sessions`);
  return key;
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
      return reply(200, { items: rows.map(sessionSummary) });
    }),
    route('GET', '/gatehouse/v1/sessions/:id', AUDIT_READERS, async ({ url, params }) => {
      const id = params['id']!;
      const q = parseQuery(detailQuery, url.searchParams);
      const session = await readSession(repo, sessionKey(id), { afterSeq: q.after, limit: q.limit });
      if (session === undefined) throw new ConsoleError('not-found', `session ${id} has no recorded events (pruned?)`);
      return reply(200, {
        session: sessionSummary(session.summary),
        events: session.rows.map(eventView),
        nextAfter: session.rows.length === q.limit ? String(session.rows.at(-1)!.seq) : null,
      });
    }),
  ];
}
