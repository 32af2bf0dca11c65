/**
 * The shapes of the console API's answers (docs/console-api.md). The approval
 * types mirror src/approvals/types.ts, which the web build cannot import
 * without pulling the gateway's Node-side policy engine into its type check;
 * test/browser/api-types.check.ts fails the root typecheck if they drift.
 */

export type Role = 'admin' | 'auditor' | 'approver';
export type PrincipalKind = 'human' | 'agent' | 'ci';
export type PolicyAction = 'deny' | 'review' | 'propose' | 'mask' | 'allow';

export interface AuthMethods {
  oidc: boolean;
  devLogin: boolean;
}

export interface WhoAmI {
  subject: string;
  kind: string;
  groups: string[];
  roles: Role[];
}

export interface MatchedRule {
  readonly rule: string;
  readonly action: PolicyAction;
  readonly message: string;
}

export type ApprovalState = 'pending' | 'approved' | 'denied' | 'expired';

export interface ApprovalRequester {
  subject: string;
  kind: PrincipalKind;
  groups: string[];
  tokenId: string | null;
  sponsor: string | null;
}

export interface ApprovalTarget {
  verb: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  path: string;
}

export interface ApprovalDecision {
  by: string;
  decision: 'approve' | 'deny';
  comment: string | null;
  at: string;
}

export interface ApprovalGrant {
  expiresAt: string;
  usesLeft: number;
}

export interface ApprovalRequirements {
  approverGroups: string[];
  quorum: number;
  requireReason: boolean;
  expiresInMs: number;
  grantTtlMs: number;
  grantUses: number;
}

export interface Approval {
  id: string;
  state: ApprovalState;
  createdAt: string;
  expiresAt: string;
  decidedAt: string | null;
  requestId: string;
  fingerprint: string;
  requester: ApprovalRequester;
  request: ApprovalTarget;
  summary: string;
  rule: string;
  message: string;
  reasons: MatchedRule[];
  reason: string | null;
  object: unknown;
  diff: string | null;
  requirements: ApprovalRequirements;
  decisions: ApprovalDecision[];
  grant: ApprovalGrant | null;
}

/** An approval as the caller sees it: whether they may decide it now. */
export interface ConsoleApproval extends Approval {
  canDecide: boolean;
  cannotDecideReason: string | null;
}

export interface AuditBody {
  contentType?: string;
  encoding: 'utf8' | 'base64';
  data: string;
  size: number;
  truncated: boolean;
}

/** The fields of src/audit/event.ts the console shows; the rest is shown as raw JSON. */
export interface AuditEvent {
  seq?: number;
  id: string;
  time: string;
  requestId: string;
  principal?: { subject: string; groups: string[]; kind: string; via: string; tokenId?: string };
  client: { address: string; userAgent?: string; kubectlCommand?: string; kubectlSession?: string };
  request: {
    method: string;
    verb: string;
    apiGroup: string;
    apiVersion: string;
    resource: string;
    subresource: string;
    namespace: string;
    name: string;
    path: string;
    query: string;
  };
  decision?: { action: string; rule?: string; message?: string; hint?: string; matched: { rule: string; action: string; message?: string }[] };
  approval?: { id: string; by: string; at: string; comment?: string };
  result: { status: number; code?: string; durationMs?: number; cut?: 'client' | 'upstream' };
  bodies: { request?: AuditBody; response?: AuditBody; masked: boolean };
  stream?: { sessionId: string; kind: string };
}

export interface AuditPage {
  items: AuditEvent[];
  nextBefore: string | null;
}

export interface AuditQuery {
  subject?: string;
  verb?: string;
  resource?: string;
  namespace?: string;
  decision?: string;
  since?: string;
  until?: string;
  before?: string;
  limit?: number;
}

export interface Integrity {
  ok: boolean;
  events: number;
  firstSeq: number | null;
  lastSeq: number | null;
  lastCheckpointSeq: number | null;
  /** `time` is null when the checkpoint row could not be read back. */
  checkpoint: { seq: number; time: string | null } | null;
  problem: { kind: string; seq: number; message: string } | null;
}

export interface SessionSummary {
  id: string;
  subject: string;
  kind: string | null;
  command: string | null;
  start: string;
  end: string;
  events: number;
  denied: number;
  reviewed: number;
  masked: number;
  streams: number;
}

export interface SessionDetail {
  session: SessionSummary;
  events: AuditEvent[];
  /** Pass back as `after` for the next events; null on the last page. */
  nextAfter: string | null;
}

export interface PolicyRule {
  name: string;
  policy: string;
  action: PolicyAction;
  description: string | null;
  location: string;
}

export interface PolicySummary {
  rules: PolicyRule[];
  defaultAction: PolicyAction;
  defaultActionFrom: string;
  files: string[];
}

export interface ExplainRequest {
  method: string;
  path: string;
  body?: string;
  subject?: string;
  groups?: string[];
  kind?: PrincipalKind;
}

export interface Explanation {
  decision: { action: PolicyAction; rule: string | null; message: string; hint: string | null; matched: MatchedRule[] };
  rules: { name: string; action: PolicyAction; outcome: 'matched' | 'not-matched' | 'error'; reason: string; location: string }[];
}

export interface ConsoleToken {
  id: string;
  name: string;
  kind: PrincipalKind;
  groups: string[];
  sponsor: string | null;
  description: string | null;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  status: 'active' | 'expired' | 'revoked';
}

export interface NewToken {
  name: string;
  kind: PrincipalKind;
  groups: string[];
  ttl?: string;
  description?: string;
}

export interface CreatedToken {
  token: ConsoleToken;
  secret: string;
}

/** One recorded request in a backtest group (src/policy/backtest.ts `ExampleRequest`). */
export interface BacktestExample {
  time: string;
  requestId: string;
  principal: string;
  verb: string;
  resource: string;
  namespace: string;
  name: string;
  before: string;
  after: string;
  detail?: string;
}

export interface BacktestGroup {
  key: string;
  count: number;
  examples: BacktestExample[];
}

/** The answer of policy/backtest and policy/shadow-report (`BacktestReport`). */
export interface BacktestReport {
  sinceMs: number | null;
  untilMs: number | null;
  events: number;
  skipped: number;
  evaluated: number;
  unchanged: number;
  changed: number;
  undetermined: number;
  transitions: BacktestGroup[];
  rules: BacktestGroup[];
  principals: BacktestGroup[];
  undeterminedReasons: BacktestGroup[];
  durationMs: number;
  perSecond: number;
}

export interface BacktestRequest {
  policy: string;
  file?: string;
  builtinGuardrails?: boolean;
  since?: string;
}

/** A connected cluster agent (src/tunnel/registry.ts `ConnectedAgent`). */
export interface ClusterAgent {
  /** The gateway's id for this connection. */
  connection: string;
  agentId: string;
  cluster: string;
  version: string;
  apiServer: string;
  kubernetesVersion?: string;
  address: string;
  connectedAt: string;
  tokenId: string;
  openStreams: number;
  bytesIn: number;
  bytesOut: number;
}

/** A cluster the gateway serves (src/console/clusters.ts `ClusterView`). */
export interface ClusterView {
  name: string;
  mode: 'direct' | 'agent';
  default: boolean;
  /** The API server's origin (direct), or the cluster the tunnel leads to (agent). */
  where: string;
  /** Empty for direct clusters. */
  agents: ClusterAgent[];
}

/** A join token an agent dials in with, without its secret. Times are milliseconds since the epoch. */
export interface JoinToken {
  id: string;
  cluster: string;
  description: string | null;
  createdBy: string | null;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export interface CreatedJoinToken {
  joinToken: JoinToken;
  /** Starts with `ghj_`; shown this once. */
  secret: string;
}

/** Propose-only mode: mirrors ProposalView of src/proposals/types.ts (checked by test/browser/api-types.check.ts). */
export type ProposalState = 'pending' | 'applied' | 'rejected';

export interface ProposalRequest extends ApprovalTarget {
  method: string;
  contentType: string | null;
}

export interface ProposalResult {
  by: string;
  at: string;
  status: number;
  message: string;
  requestId: string | null;
}

export interface ConsoleProposal {
  id: string;
  state: ProposalState;
  createdAt: string;
  cluster: string;
  requestId: string;
  fingerprint: string;
  requester: ApprovalRequester;
  request: ProposalRequest;
  summary: string;
  change: string;
  rule: string;
  message: string;
  object: unknown;
  baseResourceVersion: string | null;
  diff: string | null;
  approverGroups: string[];
  sponsorMayApprove: boolean;
  decidedBy: string | null;
  decidedAt: string | null;
  comment: string | null;
  result: ProposalResult | null;
  canDecide: boolean;
  cannotDecideReason: string | null;
}

/** A setting changed in the config file that takes effect only after a restart (src/config/reload.ts `RestartNeeded`). */
export interface RestartNeeded {
  setting: string;
  why: string;
}

/** How a configuration reload went (src/config/reload.ts `ReloadResult`, with its time). */
export type ReloadRecord = { trigger: 'signal' | 'file'; at: string } & (
  | { ok: true; changed: string[]; restartNeeded: RestartNeeded[] }
  | { ok: false; reason: string }
);

/** The gateway itself (GET /gatehouse/v1/gateway, src/console/gateway-status.ts). */
export interface GatewayStatus {
  startedAt: string;
  /** The file reloads read; null when the gateway runs from command-line flags alone. */
  configFile: string | null;
  logLevel: string;
  /** The most recent reload; null until the first one. */
  lastReload: ReloadRecord | null;
  restartPending: RestartNeeded[];
}
