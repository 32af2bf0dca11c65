/**
 * The approvals tables' SQL, written once with `?` placeholders: SQLite runs
 * it as is, PostgreSQL after {@link numberPlaceholders} (as the audit tables do).
 *
 * @internal
 */

import type { Approval, ApprovalState } from '../approvals/types.js';

/** The indexed columns of an approval row. */
export function approvalColumns(a: Approval): [string, string, string, string, number, number, number | null, string] {
  return [
    a.id,
    a.requester.subject,
    a.fingerprint,
    a.state,
    Date.parse(a.createdAt),
    Date.parse(a.expiresAt),
    a.grant === null ? null : Date.parse(a.grant.expiresAt),
    JSON.stringify(a),
  ];
}

const APPROVAL_INSERT_COLUMNS = 'id, subject, fingerprint, state, created_at, expires_at, grant_expires_at, record_json';

export type ApprovalRow = { record_json: string };

export const APPROVAL_SQL = {
  insert: `INSERT INTO approvals (${APPROVAL_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  byId: 'SELECT record_json FROM approvals WHERE id = ?',
  write: 'UPDATE approvals SET state = ?, grant_expires_at = ?, record_json = ? WHERE id = ?',
  /** Arguments: subject, fingerprint, now, now. */
  open: `SELECT record_json FROM approvals WHERE subject = ? AND fingerprint = ?
           AND ((state = 'pending' AND expires_at > ?) OR (state = 'approved' AND grant_expires_at > ?))
         ORDER BY created_at DESC LIMIT 1`,
  due: "SELECT record_json FROM approvals WHERE state = 'pending' AND expires_at <= ?",
  upsertReason:
    'INSERT INTO declared_reasons (subject, reason, expires_at) VALUES (?, ?, ?) ON CONFLICT (subject) DO UPDATE SET reason = excluded.reason, expires_at = excluded.expires_at',
  clearReason: 'DELETE FROM declared_reasons WHERE subject = ?',
  readReason: 'SELECT reason FROM declared_reasons WHERE subject = ? AND expires_at > ?',
} as const;

/** The listing query for a filter, newest first. */
export function listQuery(filter: { state?: ApprovalState | undefined; requester?: string | undefined; limit: number }): { sql: string; args: string[] } {
  const where: string[] = [];
  const args: string[] = [];
  if (filter.state !== undefined) {
    where.push('state = ?');
    args.push(filter.state);
  }
  if (filter.requester !== undefined) {
    where.push('subject = ?');
    args.push(filter.requester);
  }
  const sql = `SELECT record_json FROM approvals ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC LIMIT ${Math.trunc(filter.limit)}`;
  return { sql, args };
}

/** The arguments of {@link APPROVAL_SQL}.write for an approval. */
export function writeArgs(a: Approval): [string, number | null, string, string] {
  const cols = approvalColumns(a);
  return [a.state, cols[6], cols[7], a.id];
}

export function parseApproval(row: ApprovalRow | undefined): Approval | undefined {
  return row === undefined ? undefined : (JSON.parse(row.record_json) as Approval);
}
