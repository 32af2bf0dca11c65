import type { ApprovalsRepo } from '../approvals/store.js';
import type { AuditRepo } from '../audit/store.js';
import type { BudgetsRepo } from '../budgets/store.js';
import type { ClusterAgentTokensRepo } from './cluster-agent-tokens.js';
import type { ProposalsRepo } from '../proposals/store.js';

/**
 * The gateway's durable store, as the rest of the code sees it. Every method
 * returns a promise so that a PostgreSQL store can implement the same
 * interface; the SQLite store answers synchronously underneath.
 */
export interface Store {
  readonly tokens: TokensRepo;
  /** The audit events, checkpoints and stream chunks (src/audit/store.ts). */
  readonly audit: AuditRepo;
  /** Pending approvals and grants (src/approvals/store.ts). */
  readonly approvals: ApprovalsRepo;
  /** Blast-radius budget counts (src/budgets/store.ts). */
  readonly budgets: BudgetsRepo;
  /** Join tokens of cluster agents (src/store/cluster-agent-tokens.ts). */
  readonly clusterAgentTokens: ClusterAgentTokensRepo;
  /** Writes held in propose-only mode (src/proposals/store.ts). */
  readonly proposals: ProposalsRepo;
  /** Releases the connection(s). Later calls on the repositories throw. */
  close(): Promise<void>;
}

export type TokenKind = 'agent' | 'ci' | 'human';

/** A Gatehouse token as stored, without its hash. Times are milliseconds since the epoch. */
export interface TokenRow {
  id: string;
  name: string;
  kind: TokenKind;
  groups: string[];
  sponsor: string | null;
  description: string | null;
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

/** A new token to insert: its row plus the SHA-256 (hex) of the secret. */
export interface NewTokenRow extends TokenRow {
  sha256: string;
}

export interface TokensRepo {
  /**
   * Inserts the token unless an active (not revoked, not expired at `now`)
   * token already has its name; check and insert are one transaction.
   * Returns false when the name is taken.
   */
  insertIfNameFree(row: NewTokenRow, now: number): Promise<boolean>;
  findByHash(sha256: string): Promise<TokenRow | undefined>;
  findById(id: string): Promise<TokenRow | undefined>;
  /** The token with this name that is active at `now`, if any. */
  findActiveByName(name: string, now: number): Promise<TokenRow | undefined>;
  /** Oldest first; revoked tokens only when asked for. */
  list(options: { includeRevoked: boolean }): Promise<TokenRow[]>;
  /** Marks the token revoked at `at`; false when it was already revoked (or does not exist). */
  revoke(id: string, at: number): Promise<boolean>;
  /** Records last use times in one write; an older time never overwrites a newer one. */
  touch(uses: ReadonlyArray<{ id: string; at: number }>): Promise<void>;
}
