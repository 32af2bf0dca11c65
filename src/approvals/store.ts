import type { Approval, ApprovalState } from './types.js';

/** A change to apply to one approval inside a transaction: the new row (if any) and what to return. */
export type ApprovalChange<T> = (current: Approval) => { next?: Approval | undefined; result: T };

/**
 * Where approvals live (src/store/*-approvals.ts): the whole approval as
 * JSON plus the columns that find it. Every write goes through {@link
 * ApprovalsRepo.update}, one transaction, so two approvers (or two replicas)
 * deciding at once never lose a decision or spend a grant twice.
 */
export interface ApprovalsRepo {
  insert(approval: Approval): Promise<void>;
  get(id: string): Promise<Approval | undefined>;
  /** Newest first. */
  list(filter: { state?: ApprovalState | undefined; requester?: string | undefined; limit: number }): Promise<Approval[]>;
  /**
   * The newest approval for this requester and fingerprint that is still
   * pending (not expired at `now`) or approved with a grant not expired at `now`.
   */
  findOpen(subject: string, fingerprint: string, now: number): Promise<Approval | undefined>;
  /** Reads the approval, applies `change` and writes its `next` in one transaction; undefined when the id is unknown. */
  update<T>(id: string, change: ApprovalChange<T>): Promise<{ result: T } | undefined>;
  /** Pending approvals whose expiry passed at `now`, marked expired; returns them as written. */
  expire(now: number): Promise<Approval[]>;
  /** Sets (or, with null, clears) the reason `subject` declared for its requests until `expiresAt`. */
  declareReason(subject: string, reason: string | null, expiresAt: number): Promise<void>;
  /** The reason `subject` declared, if it has not expired at `now`. */
  declaredReason(subject: string, now: number): Promise<string | undefined>;
  /** Told the id of every approval written, by this process or (PostgreSQL) by any replica. Returns an unsubscribe. */
  watch(listener: (id: string) => void): () => void;
}

/** The approval marked expired at `now`. */
export function expired(a: Approval, now: number): Approval {
  return { ...a, state: 'expired', decidedAt: new Date(now).toISOString() };
}
