/**
 * Just-in-time approvals: the shapes shared by the approval stage, the
 * store, the console API and the CLI. A request whose policy decision is
 * `review` becomes an {@link Approval}; people decide it; an approved one
 * carries a grant that lets the same principal repeat the identical request.
 *
 * @module
 */

import type { MatchedRule } from '../policy/engine.js';

export type ApprovalState = 'pending' | 'approved' | 'denied' | 'expired';

/** Who asked. `sponsor` is the human behind an agent or CI token, when known. */
export interface ApprovalRequester {
  subject: string;
  kind: 'human' | 'agent' | 'ci';
  groups: string[];
  tokenId: string | null;
  sponsor: string | null;
}

/** The classified request, as approvers see it. */
export interface ApprovalTarget {
  verb: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  /** The request path with its query string. */
  path: string;
}

export interface ApprovalDecision {
  by: string;
  decision: 'approve' | 'deny';
  comment: string | null;
  /** RFC 3339. */
  at: string;
}

export interface ApprovalGrant {
  /** RFC 3339. */
  expiresAt: string;
  usesLeft: number;
}

/** What the rule that asked for review requires (resolved from policy and config). */
export interface ApprovalRequirements {
  /** Groups whose members may decide; empty means the console's approver groups. */
  approverGroups: string[];
  /** Approvals needed (N of M); one denial decides. */
  quorum: number;
  /** The requester must have given a reason (Gatehouse-Reason header). */
  requireReason: boolean;
  /** The human sponsoring the requesting token may decide; false means someone else must. Absent in approvals stored before it existed: treated as true. */
  sponsorMayApprove?: boolean;
  /** Pending approvals expire after this long (ms). */
  expiresInMs: number;
  /** How long a grant lasts once approved (ms), and how many requests it lets through. */
  grantTtlMs: number;
  grantUses: number;
}

export interface Approval {
  id: string;
  state: ApprovalState;
  /** RFC 3339. */
  createdAt: string;
  expiresAt: string;
  decidedAt: string | null;
  /** The request id of the first request that asked (links to the audit record). */
  requestId: string;
  /** SHA-256 over principal, verb, target and body: identical requests share it. */
  fingerprint: string;
  requester: ApprovalRequester;
  request: ApprovalTarget;
  /** One line, kubectl-like: "create pods/web in default". */
  summary: string;
  /** The rule that asked for review, its message, and every rule that matched. */
  rule: string;
  message: string;
  reasons: MatchedRule[];
  /** The requester's reason (Gatehouse-Reason header), if any. */
  reason: string | null;
  /** The object the request would store (masked), when it has one. */
  object: unknown;
  /** Unified diff of the live object against the result (masked), for updates and patches. */
  diff: string | null;
  requirements: ApprovalRequirements;
  decisions: ApprovalDecision[];
  grant: ApprovalGrant | null;
}

/** Someone deciding, as the console or CLI authenticated them. */
export interface Decider {
  subject: string;
  groups: string[];
}

export interface ApprovalFilter {
  state?: ApprovalState | undefined;
  requester?: string | undefined;
  /** Newest first; at most this many (default 100). */
  limit?: number | undefined;
}

/** Why someone may not decide an approval; undefined when they may. */
export type DecideRefusal = { code: 'not-found' | 'forbidden' | 'conflict' | 'invalid'; message: string };

/** The approvals as the console API and CLI use them. */
export interface ApprovalService {
  list(filter: ApprovalFilter): Promise<Approval[]>;
  get(id: string): Promise<Approval | undefined>;
  /** Whether `who` may decide `approval` now, and if not, why (for the console's buttons). */
  canDecide(approval: Approval, who: Decider): DecideRefusal | undefined;
  /** Records a decision; returns the updated approval or why it was refused. */
  decide(id: string, who: Decider, decision: 'approve' | 'deny', comment: string | null): Promise<Approval | DecideRefusal>;
  /**
   * Records the reason `subject` gives for its requests for the next `ttlMs`
   * (null clears it): approvals opened meanwhile show it when the request
   * itself carries no Gatehouse-Reason header (kubectl cannot send one).
   */
  declareReason(subject: string, reason: string | null, ttlMs: number): Promise<void>;
  /** Calls `listener` with every approval that is created or changes, on any replica. Returns an unsubscribe. */
  subscribe(listener: (approval: Approval) => void): () => void;
}
