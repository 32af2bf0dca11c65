import type Database from 'better-sqlite3';
import type { ProposalChange, ProposalsRepo } from '../proposals/store.js';
import { insertArgs, listQuery, parseProposal, PROPOSAL_SQL, writeArgs } from './proposals-rows.js';
import type { ProposalRow } from './proposals-rows.js';
import { settle } from './sqlite-tokens.js';

/** Proposals in the embedded SQLite store; a change is one IMMEDIATE transaction. */
export function createSqliteProposalsRepo(db: Database.Database): ProposalsRepo {
  const insert = db.prepare(PROPOSAL_SQL.insert);
  const byId = db.prepare<[string], ProposalRow>(PROPOSAL_SQL.byId);
  const write = db.prepare<[string, string, string]>(PROPOSAL_SQL.write);
  const pending = db.prepare<[string, string, string], ProposalRow>(PROPOSAL_SQL.pending);
  const update = db.transaction(<T>(id: string, change: ProposalChange<T>): { result: T } | undefined => {
    const current = parseProposal(byId.get(id));
    if (current === undefined) return undefined;
    const { next, result } = change(current);
    if (next !== undefined) write.run(...writeArgs(next));
    return { result };
  });

  return {
    insert: (proposal) => settle(() => void insert.run(...insertArgs(proposal))),
    get: (id) => settle(() => parseProposal(byId.get(id))),
    list: (filter) =>
      settle(() => {
        const { sql, args } = listQuery(filter);
        return db.prepare<string[], ProposalRow>(sql).all(...args).map((r) => parseProposal(r)!);
      }),
    findPending: (cluster, subject, fp) => settle(() => parseProposal(pending.get(cluster, subject, fp))),
    update: <T>(id: string, change: ProposalChange<T>) => settle(() => update.immediate(id, change) as { result: T } | undefined),
  };
}
