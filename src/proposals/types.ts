/**
 * Propose-only mode: the shapes shared by the proposal stage, the store, the
 * console API and the CLI. A write whose policy decision is `propose` is
 * dry-run by the API server and stored as a {@link Proposal}; a person
 * applies it (through the gateway, as themselves) or rejects it.
 *
 * @module
 */

import type { ApprovalRequester, ApprovalTarget } from '../approvals/types.js';

export type ProposalState = 'pending' | 'applied' | 'rejected';

/** The stored write: enough to send it again, byte for byte. */
export interface ProposedRequest extends ApprovalTarget {
  /** HTTP method (POST, PUT, PATCH, DELETE). */
  method: string;
  contentType: string | null;
  /** The body as the client sent it (JSON, YAML, protobuf…), base64; bounded by `limits.maxBodyBytes`. */
  body: string;
}

/** What the apply answered, kept on the proposal (also when it failed). */
export interface ProposalResult {
  by: string;
  /** RFC 3339. */
  at: string;
  /** The HTTP status of the apply request. */
  status: number;
  /** The API server's (or gateway's) Status message, or `created`/`configured`… on success. */
  message: string;
  /** The apply request's id (Audit-ID): its audit record. */
  requestId: string | null;
}

export interface Proposal {
  id: string;
  state: ProposalState;
  /** RFC 3339. */
  createdAt: string;
  /** The named cluster the write was for. */
  cluster: string;
  /** The request id of the write that made the proposal (its audit record). */
  requestId: string;
  /** The approvals fingerprint (principal, method, path, body): the identical write finds this proposal. */
  fingerprint: string;
  requester: ApprovalRequester;
  request: ProposedRequest;
  /** "create deployments.apps web in namespace dev". */
  summary: string;
  /** One line of what would change, for the agent's message and lists. */
  change: string;
  /** The propose rule, its message. */
  rule: string;
  message: string;
  /** The object the API server's dry-run produced (masked, managedFields dropped); null for deletes. */
  object: unknown;
  /** resourceVersion of the live object when proposed; null when there was none (a create). */
  baseResourceVersion: string | null;
  /** Unified diff of the live object against the dry-run result (a create: the whole object; a delete: all removed). */
  diff: string | null;
  /** Who may apply or reject it. */
  approverGroups: string[];
  sponsorMayApprove: boolean;
  decidedBy: string | null;
  decidedAt: string | null;
  comment: string | null;
  /** The last apply attempt, successful or not. */
  result: ProposalResult | null;
}

/** A proposal without the stored body: what the console API and CLI show. */
export type ProposalView = Omit<Proposal, 'request'> & { request: Omit<ProposedRequest, 'body'> } & { canDecide: boolean; cannotDecideReason: string | null };

export interface ProposalFilter {
  state?: ProposalState | undefined;
  /** Newest first; at most this many (default 100). */
  limit?: number | undefined;
}
