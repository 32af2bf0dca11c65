import type pg from 'pg';
import type { ProposalChange, ProposalsRepo } from '../proposals/store.js';
import { numberPlaceholders } from './audit-rows.js';
import { insertArgs, listQuery, parseProposal, PROPOSAL_SQL, writeArgs } from './proposals-rows.js';
import type { ProposalRow } from './proposals-rows.js';
import { inTransaction } from './postgres-tx.js';

// The shared SQL in PostgreSQL's $n placeholders, numbered once.
const SQL = Object.fromEntries(Object.entries(PROPOSAL_SQL).map(([k, v]) => [k, numberPlaceholders(v)])) as Record<keyof typeof PROPOSAL_SQL, string>;

/** Proposals in PostgreSQL, shared by every replica; a change locks its row (SELECT … FOR UPDATE). */
export function createPostgresProposalsRepo(pool: pg.Pool): ProposalsRepo {
  return {
    async insert(proposal) {
      await pool.query(SQL.insert, insertArgs(proposal));
    },
    async get(id) {
      const { rows } = await pool.query<ProposalRow>(SQL.byId, [id]);
      return parseProposal(rows[0]);
    },
    async list(filter) {
      const { sql, args } = listQuery(filter);
      const { rows } = await pool.query<ProposalRow>(numberPlaceholders(sql), args);
      return rows.map((r) => parseProposal(r)!);
    },
    async findPending(cluster, subject, fp) {
      const { rows } = await pool.query<ProposalRow>(SQL.pending, [cluster, subject, fp]);
      return parseProposal(rows[0]);
    },
    update<T>(id: string, change: ProposalChange<T>) {
      return inTransaction(pool, async (client) => {
        const { rows } = await client.query<ProposalRow>(`${SQL.byId} FOR UPDATE`, [id]);
        const current = parseProposal(rows[0]);
        if (current === undefined) return undefined;
        const { next, result } = change(current);
        if (next !== undefined) await client.query(SQL.write, writeArgs(next));
        return { result };
      });
    },
  };
}
