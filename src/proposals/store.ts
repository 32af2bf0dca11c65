import type { Proposal, ProposalState } from './types.js';

/** A change to one proposal inside a transaction: the new row (if any) and what to return. */
export type ProposalChange<T> = (current: Proposal) => { next?: Proposal | undefined; result: T };

/**
 * Where proposals live (src/store/*-proposals.ts): the whole proposal as
 * JSON plus the columns that find it; every change is one transaction.
 */
export interface ProposalsRepo {
  insert(proposal: Proposal): Promise<void>;
  get(id: string): Promise<Proposal | undefined>;
  /** Newest first. */
  list(filter: { state?: ProposalState | undefined; limit: number }): Promise<Proposal[]>;
  /** The newest pending proposal of this requester for this fingerprint on this cluster. */
  findPending(cluster: string, subject: string, fingerprint: string): Promise<Proposal | undefined>;
  /** Reads the proposal, applies `change` and writes its `next` in one transaction; undefined when the id is unknown. */
  update<T>(id: string, change: ProposalChange<T>): Promise<{ result: T } | undefined>;
}
