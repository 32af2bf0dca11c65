/**
 * Sessions as the console and `gatehouse audit replay --session` show them:
 * what one kubectl invocation did (its Kubectl-Session id), or, for clients
 * that send none, what one principal did within an hour. A session's id is
 * its key as base64url JSON, so it needs no table.
 *
 * @module
 */

import { z } from 'zod';
import { auditEventSchema } from './event.js';
import { PRINCIPAL_SESSION_MS } from './store.js';
import type { AuditFilter, AuditRepo, SessionFilter, SessionSummaryRow, StoredEventRow } from './store.js';

/** What a session id stands for: kubectl session (or null), principal, hour (null for a kubectl session). */
export type SessionKey = Pick<SessionSummaryRow, 'kubectlSession' | 'subject' | 'bucketMs'>;

const sessionKeySchema = z.tuple([z.string().min(1).nullable(), z.string().min(1), z.number().int().nullable()]);

export function sessionId(key: SessionKey): string {
  return Buffer.from(JSON.stringify([key.kubectlSession, key.subject, key.bucketMs])).toString('base64url');
}

/** The key of a session id, or undefined when the text is not one. */
export function parseSessionId(id: string): SessionKey | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(id, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = sessionKeySchema.safeParse(value);
  // A kubectl session has no hour; a principal session must have one.
  if (!parsed.success || (parsed.data[0] === null) === (parsed.data[2] === null)) return undefined;
  const [kubectlSession, subject, bucketMs] = parsed.data;
  return { kubectlSession, subject, bucketMs };
}

/** A session's events: a principal session is its hour; a kubectl session is all of it. */
export function sessionFilter(key: SessionKey): AuditFilter & SessionFilter {
  const range = key.bucketMs === null ? {} : { sinceMs: key.bucketMs, untilMs: key.bucketMs + PRINCIPAL_SESSION_MS };
  return { kubectlSession: key.kubectlSession, subject: key.subject, ...range };
}

/** A session as listed; `command` is kubectl's Kubectl-Command of its first request. */
export function sessionSummary(row: SessionSummaryRow) {
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

export type SessionSummary = ReturnType<typeof sessionSummary>;

/**
 * One page of a session's events in order, with its summary; undefined when
 * the session has no recorded events (never had, or pruned).
 *
 * @example
 * const page = await readSession(repo, key, { limit: 500 });
 */
export async function readSession(
  repo: AuditRepo,
  key: SessionKey,
  page: { afterSeq?: number | undefined; limit: number },
): Promise<{ summary: SessionSummaryRow; rows: StoredEventRow[] } | undefined> {
  const filter = sessionFilter(key);
  const [summary] = await repo.sessions({ ...filter, limit: 1 });
  if (summary === undefined) return undefined;
  const rows = await repo.search({ ...filter, afterSeq: page.afterSeq, limit: page.limit, order: 'asc' });
  return { summary, rows };
}

/**
 * The sessions a person means by `text`: a session id as the console gives
 * it, a kubectl session id, or a principal (its sessions, the most recently
 * active first).
 */
export async function findSessions(repo: AuditRepo, text: string, limit = 20): Promise<SessionSummaryRow[]> {
  const key = parseSessionId(text);
  if (key !== undefined) return repo.sessions({ ...sessionFilter(key), limit: 1 });
  const kubectl = await repo.sessions({ kubectlSession: text, limit });
  return kubectl.length > 0 ? kubectl : repo.sessions({ subject: text, limit });
}
