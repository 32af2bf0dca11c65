/**
 * The audit event: one per request that reached the gateway, whatever its
 * outcome. It is plain JSON (no undefined inside arrays, no Dates, no
 * Buffers) so that its canonical encoding — what the hash chain covers — is
 * the same after a round trip through any store or an export.
 *
 * @module
 */

import { randomUUID } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import type { KubeRequest } from '../classify/kube-request.js';
import type { Principal } from '../identity/principal.js';

const principalSchema = z.looseObject({
  subject: z.string(),
  groups: z.array(z.string()),
  kind: z.string(),
  via: z.string(),
  tokenId: z.string().optional(),
  /** The human accountable for an agent or CI token. */
  sponsor: z.string().optional(),
});

const clientSchema = z.looseObject({
  address: z.string(),
  userAgent: z.string().optional(),
  /** kubectl's `Kubectl-Command` header, e.g. `kubectl apply`. */
  kubectlCommand: z.string().optional(),
  /** kubectl's `Kubectl-Session` header: one id per kubectl invocation. */
  kubectlSession: z.string().optional(),
});

const requestSchema = z.looseObject({
  method: z.string(),
  verb: z.string(),
  apiGroup: z.string(),
  apiVersion: z.string(),
  resource: z.string(),
  subresource: z.string(),
  namespace: z.string(),
  name: z.string(),
  path: z.string(),
  query: z.string(),
  /** The named cluster (absent in records written before clusters existed, and when routing did not run). */
  cluster: z.string().optional(),
});

const matchedRuleSchema = z.looseObject({ rule: z.string(), action: z.string(), message: z.string().optional() });

/** Loose on purpose: the policy engine may add fields; they are kept, and hashed, as they are. */
const decisionSchema = z.looseObject({
  action: z.string(),
  rule: z.string().optional(),
  message: z.string().optional(),
  hint: z.string().optional(),
  matched: z.array(matchedRuleSchema),
  errors: z.array(z.looseObject({ rule: z.string(), error: z.string() })).optional(),
});

const approvalDecisionSchema = z.looseObject({
  by: z.string(),
  decision: z.enum(['approve', 'deny']),
  comment: z.string().nullable(),
  at: z.string(),
});

/** The approval a `review` request went through: its state when the request was answered, and who decided. */
const approvalSchema = z.looseObject({
  id: z.string(),
  state: z.string().optional(),
  /** The person whose decision settled it (the last approver to reach the quorum, or the one who denied). */
  by: z.string().optional(),
  at: z.string().optional(),
  comment: z.string().optional(),
  decisions: z.array(approvalDecisionSchema).optional(),
  /** The request spent a grant left by an earlier approval of the identical request. */
  viaGrant: z.boolean().optional(),
});

/** Propose-only mode (src/proposals): the proposal a write became (`proposed`), or the one a person's request applied (`applied`). */
const proposalSchema = z.looseObject({
  id: z.string(),
  action: z.enum(['proposed', 'applied']),
});

const upstreamSchema = z.looseObject({
  /** The API server's status; absent when the request was never forwarded. */
  status: z.number().int().optional(),
  latencyMs: z.number(),
  bytesIn: z.number().int(),
  bytesOut: z.number().int(),
});

const bodySchema = z.looseObject({
  contentType: z.string().optional(),
  encoding: z.enum(['utf8', 'base64']),
  data: z.string(),
  /** Size of the whole body in bytes, before any truncation. */
  size: z.number().int(),
  truncated: z.boolean(),
});

const streamSchema = z.looseObject({
  /** Id of the rows in the stream chunk table. */
  sessionId: z.string(),
  kind: z.string(),
  /** Set when the stream ended: how many chunks and bytes were recorded, and the hash of the last chunk. */
  chunks: z.number().int().optional(),
  bytes: z.number().int().optional(),
  hash: z.string().optional(),
  truncated: z.boolean().optional(),
});

/** Reads of one principal, verb, resource and namespace that passed unrecorded during an outage. */
const unrecordedReadsSchema = z.looseObject({ subject: z.string(), verb: z.string(), resource: z.string(), namespace: z.string(), count: z.number().int() });

/**
 * The gateway's own event written when the audit store takes records again
 * after an outage: the window, and what went unrecorded in it.
 */
const outageSchema = z.looseObject({
  /** When the first write failed and when the store took records again (RFC 3339). */
  from: z.string(),
  until: z.string(),
  /** Reads let through without an event (`audit.whenStoreDown.reads: allow-unrecorded`). */
  unrecordedReads: z.number().int(),
  /** Requests refused with GH_AUDIT_UNAVAILABLE, whose own events could not be written either. */
  refused: z.number().int(),
  /** The unrecorded reads by principal, verb, resource and namespace, most frequent first… */
  reads: z.array(unrecordedReadsSchema),
  /** …and how many such groups were not listed (the list is capped). */
  readsNotListed: z.number().int(),
});

export const auditEventSchema = z.looseObject({
  /** Format version of the event; bumped only when a field changes meaning. */
  v: z.literal(1),
  id: z.string(),
  /** When the request arrived: RFC 3339, UTC, microseconds (`2025-11-25T14:57:00.123456Z`). */
  time: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/),
  requestId: z.string(),
  /** Absent for a request that was refused before anyone was identified. */
  principal: principalSchema.optional(),
  client: clientSchema,
  request: requestSchema,
  decision: decisionSchema.optional(),
  /** What the shadow policy (`policy.shadow`) would have decided; it enforced nothing. */
  shadowDecision: decisionSchema.optional(),
  approval: approvalSchema.optional(),
  proposal: proposalSchema.optional(),
  upstream: upstreamSchema.optional(),
  /**
   * What the client got: the HTTP status, for a refusal by the gateway its
   * GH_ code, and the time from `time` until the response was complete.
   * `cut`: the answer did not reach its end, because the client went away
   * (`client`: a Ctrl-C on `get -w`, a reset stream) or the API server, or
   * the way to it, did (`upstream`).
   */
  result: z.looseObject({
    status: z.number().int(),
    code: z.string().optional(),
    durationMs: z.number().optional(),
    cut: z.enum(['client', 'upstream']).optional(),
  }),
  bodies: z.looseObject({
    request: bodySchema.optional(),
    response: bodySchema.optional(),
    /** True when masking changed the response body that was recorded (and sent). */
    masked: z.boolean(),
  }),
  stream: streamSchema.optional(),
  outage: outageSchema.optional(),
});

export type AuditEvent = z.infer<typeof auditEventSchema>;
export type AuditBody = z.infer<typeof bodySchema>;
export type AuditDecision = z.infer<typeof decisionSchema>;
export type AuditStreamRef = z.infer<typeof streamSchema>;
export type AuditOutage = z.infer<typeof outageSchema>;
/** Who ended an answer before its end (see `result.cut`): the schema's list, not a second one. */
export type ExchangeCut = NonNullable<AuditEvent['result']['cut']>;

/** `result` in one short phrase, for tables: `200`, `503 GH_UPSTREAM_UNAVAILABLE`, `200 cut by client`. */
export function resultLabel(result: AuditEvent['result']): string {
  return `${result.status}${result.code ? ` ${result.code}` : ''}${result.cut ? ` cut by ${result.cut}` : ''}`;
}

/** An approval as the recorder gets it (src/approvals/types.ts). */
export interface AuditApprovalInput {
  id: string;
  state: string;
  decisions: ReadonlyArray<{ by: string; decision: 'approve' | 'deny'; comment: string | null; at: string }>;
  viaGrant?: boolean | undefined;
}

function approvalRecord(a: AuditApprovalInput): NonNullable<AuditEvent['approval']> {
  const settling = a.state === 'approved' || a.state === 'denied' ? a.decisions.at(-1) : undefined;
  return {
    at: settling?.at,
    by: settling?.by,
    comment: settling?.comment ?? undefined,
    // As the approval store holds them, whatever they carry (an event with them is encoded the longer way).
    decisions: a.decisions.map((d) => ({ ...d })),
    id: a.id,
    state: a.state,
    viaGrant: a.viaGrant ? true : undefined,
  };
}

/** What the recorder knows about a request when it writes the event. */
export interface AuditEventInput {
  requestId: string;
  /** The HTTP method and the request line, when classify did not run. */
  method: string;
  path: string;
  principal?: Principal | undefined;
  /** The classified request (classify stage), when there is one. */
  request?: KubeRequest | undefined;
  clientAddress: string;
  headers: IncomingHttpHeaders;
  decision?: DecisionLike | undefined;
  shadowDecision?: DecisionLike | undefined;
  approval?: AuditApprovalInput | undefined;
  proposal?: { id: string; action: 'proposed' | 'applied' } | undefined;
  upstream?: { status?: number | undefined; latencyMs: number; bytesIn: number; bytesOut: number } | undefined;
  result: { status: number; code?: string | undefined; durationMs?: number | undefined; cut?: ExchangeCut | undefined };
  /** Bodies as the client saw them (after masking); build them with {@link captureBody}. */
  bodies?: { request?: AuditBody | undefined; response?: AuditBody | undefined; masked?: boolean | undefined } | undefined;
  stream?: AuditStreamRef | undefined;
  /** When the request arrived, in microseconds since the epoch (see {@link nowMicros}); default now. */
  timeMicros?: number | undefined;
}

/** The policy decision as the recorder takes it: the policy engine's Decision fits. */
export interface DecisionLike {
  action: string;
  rule?: string | undefined;
  message?: string | undefined;
  hint?: string | undefined;
  matched?: ReadonlyArray<{ rule: string; action: string; message?: string | undefined }> | undefined;
  errors?: ReadonlyArray<{ rule: string; error: string }> | undefined;
  /** Labels of the target namespace, when policy looked them up (so a backtest can reuse them). */
  namespaceLabels?: Readonly<Record<string, string>> | undefined;
  /** Blast-radius budgets the request counted against, or the one that stopped it (src/budgets). */
  budgets?: ReadonlyArray<object> | undefined;
  /** For a write answered with the object: how a read of it is decided, when not allowed as it is (its answer was masked). */
  readBack?: { action: string; rule: string | undefined } | undefined;
}

/**
 * Builds the event for one request from what the pipeline stages set.
 *
 * @example
 * const event = buildAuditEvent({
 *   requestId: ctx.id, method: req.method ?? 'GET', path: req.url ?? '/',
 *   principal: ctx.principal, request: ctx.request, decision: ctx.decision,
 *   clientAddress: req.socket.remoteAddress ?? 'unknown', headers: req.headers,
 *   upstream: { status: 200, latencyMs: 3.2, bytesIn: 0, bytesOut: 512 },
 *   result: { status: 200 },
 * });
 * await writer.append(event);
 */
export function buildAuditEvent(input: AuditEventInput): AuditEvent {
  const r = input.request;
  const path = input.path.split('?')[0] ?? '';
  const query = input.path.includes('?') ? input.path.slice(input.path.indexOf('?') + 1) : '';
  const p = input.principal;
  const upstream = input.upstream;
  const stream = input.stream;
  // Every object here is written with its keys in code-unit order, absent fields as undefined in their place: the
  // event is then in canonical order, and its canonical encoding (canonical.ts) is JSON.stringify's.
  return {
    approval: input.approval ? approvalRecord(input.approval) : undefined,
    bodies: { masked: input.bodies?.masked ?? false, request: input.bodies?.request, response: input.bodies?.response },
    client: {
      address: input.clientAddress,
      kubectlCommand: header(input.headers, 'kubectl-command'),
      kubectlSession: header(input.headers, 'kubectl-session'),
      userAgent: header(input.headers, 'user-agent'),
    },
    decision: input.decision ? decisionRecord(input.decision) : undefined,
    id: randomUUID(),
    principal: p ? { groups: [...p.groups], kind: p.kind, sponsor: p.sponsor, subject: p.subject, tokenId: p.tokenId, via: p.via } : undefined,
    proposal: input.proposal ? { action: input.proposal.action, id: input.proposal.id } : undefined,
    request: {
      apiGroup: r?.apiGroup ?? '',
      apiVersion: r?.apiVersion ?? '',
      cluster: r?.cluster,
      method: input.method,
      name: r?.name ?? '',
      namespace: r?.namespace ?? '',
      path: r?.path ?? path,
      query: r?.query ?? query,
      resource: r?.resource ?? '',
      subresource: r?.subresource ?? '',
      verb: r?.verb ?? '',
    },
    requestId: input.requestId,
    result: { code: input.result.code, cut: input.result.cut, durationMs: input.result.durationMs, status: input.result.status },
    shadowDecision: input.shadowDecision ? decisionRecord(input.shadowDecision) : undefined,
    stream: stream
      ? { bytes: stream.bytes, chunks: stream.chunks, hash: stream.hash, kind: stream.kind, sessionId: stream.sessionId, truncated: stream.truncated }
      : undefined,
    time: rfc3339Micros(input.timeMicros ?? nowMicros()),
    upstream: upstream ? { bytesIn: upstream.bytesIn, bytesOut: upstream.bytesOut, latencyMs: upstream.latencyMs, status: upstream.status } : undefined,
    v: 1,
  };
}

function decisionRecord(d: DecisionLike): AuditDecision {
  return {
    action: d.action,
    budgets: d.budgets !== undefined && d.budgets.length > 0 ? d.budgets.map((b) => ({ ...b })) : undefined,
    errors: d.errors && d.errors.length > 0 ? d.errors.map((e) => ({ error: e.error, rule: e.rule })) : undefined,
    hint: d.hint,
    matched: (d.matched ?? []).map((m) => ({ action: m.action, message: m.message, rule: m.rule })),
    message: d.message,
    namespaceLabels: d.namespaceLabels !== undefined ? { ...d.namespaceLabels } : undefined,
    readBack: d.readBack !== undefined ? { action: d.readBack.action, rule: d.readBack.rule } : undefined,
    rule: d.rule,
  };
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

const TEXT_TYPE = /^(?:text\/|application\/(?:[\w.-]+\+)?(?:json|yaml)$|application\/json-patch\+json$)/;

/**
 * The recorded form of a body: UTF-8 text for JSON, YAML and text bodies
 * that are valid UTF-8, base64 otherwise (protobuf); at most `maxBytes`
 * bytes are kept and `truncated` says when more were seen.
 *
 * @example
 * captureBody(Buffer.from('{"kind":"Pod"}'), 'application/json', 64 * 1024);
 */
export function captureBody(body: Buffer, contentType: string | undefined, maxBytes: number): AuditBody {
  const kept = body.length > maxBytes ? body.subarray(0, maxBytes) : body;
  const type = contentType?.split(';')[0]?.trim().toLowerCase() || undefined;
  const text = type !== undefined && TEXT_TYPE.test(type) && isUtf8(kept);
  return {
    contentType: type,
    data: kept.toString(text ? 'utf8' : 'base64'),
    encoding: text ? 'utf8' : 'base64',
    size: body.length,
    truncated: kept.length < body.length,
  };
}

// performance.timeOrigin is fixed for the process, and reading it makes a number object each time.
const timeOrigin = performance.timeOrigin;

/** Microseconds since the epoch, from the monotonic clock anchored at process start. */
export function nowMicros(): number {
  return Math.round((timeOrigin + performance.now()) * 1000);
}

// The last second formatted (`2025-11-25T14:57:00.`): every recorded chunk is timed, many within one second.
let formattedSecond = NaN;
let secondPrefix = '';

/** `2025-11-25T14:57:00.123456Z` for microseconds since the epoch. */
export function rfc3339Micros(micros: number): string {
  if (!Number.isSafeInteger(micros)) {
    const ms = Math.floor(micros / 1000);
    const rest = micros - ms * 1000;
    return `${new Date(ms).toISOString().slice(0, -1)}${String(rest).padStart(3, '0')}Z`;
  }
  const second = Math.floor(micros / 1_000_000);
  if (second !== formattedSecond) {
    secondPrefix = new Date(second * 1000).toISOString().slice(0, -4);
    formattedSecond = second;
  }
  return `${secondPrefix}${String(micros - second * 1_000_000 + 1_000_000).slice(1)}Z`;
}

/** Milliseconds since the epoch of an event time (the column stores and searches index). */
export function eventTimeMs(time: string): number {
  return Date.parse(time.slice(0, 23) + 'Z');
}

/** Microseconds since the epoch of an event time. */
export function eventTimeMicros(time: string): number {
  return eventTimeMs(time) * 1000 + Number(time.slice(23, 26));
}
