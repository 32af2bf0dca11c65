/**
 * The proposals table's SQL, written once with `?` placeholders: SQLite runs
 * it as is, PostgreSQL after {@link numberPlaceholders} (as approvals do).
 *
 * @internal
 */

import type { Proposal, ProposalState } from '../proposals/types.js';

export type ProposalRow = { record_json: string };

/** The table (migration 7): the whole proposal as JSON, and the columns lookups filter on. */
export const PROPOSALS_TABLE = `
      CREATE TABLE proposals (
        id TEXT PRIMARY KEY,
        cluster TEXT NOT NULL,
        subject TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'applied', 'rejected')),
        created_at BIGINT NOT NULL,
        record_json TEXT NOT NULL
      );
      CREATE INDEX proposals_pending ON proposals (cluster, subject, fingerprint, state);
      CREATE INDEX proposals_state ON proposals (state, created_at);
    `;

export const PROPOSAL_SQL = {
  insert: 'INSERT INTO proposals (id, cluster, subject, fingerprint, state, created_at, record_json) VALUES (?, ?, ?, ?, ?, ?, ?)',
  byId: 'SELECT record_json FROM proposals WHERE id = ?',
  write: 'UPDATE proposals SET state = ?, record_json = ? WHERE id = ?',
  /** Arguments: cluster, subject, fingerprint. */
  pending: `SELECT record_json FROM proposals WHERE cluster = ? AND subject = ? AND fingerprint = ? AND state = 'pending'
            ORDER BY created_at DESC LIMIT 1`,
} as const;

export function insertArgs(p: Proposal): [string, string, string, string, string, number, string] {
  return [p.id, p.cluster, p.requester.subject, p.fingerprint, p.state, Date.parse(p.createdAt), JSON.stringify(p)];
}

export function writeArgs(p: Proposal): [string, string, string] {
  return [p.state, JSON.stringify(p), p.id];
}

/** The listing query for a filter, newest first. */
export function listQuery(filter: { state?: ProposalState | undefined; limit: number }): { sql: string; args: string[] } {
  const where = filter.state === undefined ? '' : 'WHERE state = ?';
  return { sql: `SELECT record_json FROM proposals ${where} ORDER BY created_at DESC LIMIT ${Math.trunc(filter.limit)}`, args: filter.state === undefined ? [] : [filter.state] };
}

export function parseProposal(row: ProposalRow | undefined): Proposal | undefined {
  return row === undefined ? undefined : (JSON.parse(row.record_json) as Proposal);
}
