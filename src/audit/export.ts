/**
 * Exports of the audit record: JSON Lines that keep everything needed to
 * recompute the chain elsewhere, and the Kubernetes audit format
 * (`audit.k8s.io/v1` `EventList`) for tools that already read API server
 * audit logs.
 *
 * @module
 */

import { auditEventSchema, eventTimeMicros, rfc3339Micros } from './event.js';
import type { AuditBody, AuditEvent } from './event.js';
import type { AuditFilter, AuditRepo, StoredEventRow } from './store.js';

/** One JSON Lines record: `{"seq":…,"prevHash":…,"hash":…,"event":{…}}`, the event exactly as stored (canonical JSON). */
export function jsonlRecord(row: StoredEventRow): string {
  return `{"seq":${row.seq},"prevHash":${JSON.stringify(row.prevHash)},"hash":${JSON.stringify(row.hash)},"event":${row.eventJson}}`;
}

/** The `audit.k8s.io/v1` Event for a stored event (stage ResponseComplete), Gatehouse's decision in annotations. */
export function k8sAuditEvent(row: StoredEventRow): Record<string, unknown> {
  const e: AuditEvent = auditEventSchema.parse(JSON.parse(row.eventJson));
  const r = e.request;
  const annotations: Record<string, string> = { 'gatehouse.dev/seq': String(row.seq), 'gatehouse.dev/hash': row.hash };
  const note = (key: string, value: string | undefined) => {
    if (value !== undefined && value !== '') annotations[`gatehouse.dev/${key}`] = value;
  };
  if (e.decision) {
    annotations['authorization.k8s.io/decision'] = e.decision.action === 'deny' ? 'forbid' : 'allow';
    if (e.decision.message) annotations['authorization.k8s.io/reason'] = e.decision.message;
  }
  note('decision', e.decision?.action);
  note('rule', e.decision?.rule);
  note('matched-rules', e.decision?.matched.map((m) => m.rule).join(','));
  note('error-code', e.result.code);
  note('cut-by', e.result.cut);
  note('approval-id', e.approval?.id);
  note('approved-by', e.approval?.by);
  note('approved-at', e.approval?.at);
  note('approval-comment', e.approval?.comment);
  note('masked', e.bodies.masked ? 'true' : undefined);
  note('kubectl-command', e.client.kubectlCommand);
  note('kubectl-session', e.client.kubectlSession);
  note('principal-kind', e.principal?.kind);
  note('stream-session', e.stream?.sessionId);
  const requestObject = jsonBody(e.bodies.request);
  const responseObject = jsonBody(e.bodies.response);
  const failed = e.result.status >= 400;
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: requestObject !== undefined || responseObject !== undefined ? 'RequestResponse' : 'Metadata',
    auditID: e.requestId,
    stage: 'ResponseComplete',
    requestURI: r.query ? `${r.path}?${r.query}` : r.path,
    verb: r.verb || r.method.toLowerCase(),
    user: e.principal
      ? { username: e.principal.subject, groups: e.principal.groups, extra: { 'gatehouse.dev/via': [e.principal.via], ...(e.principal.tokenId ? { 'gatehouse.dev/token-id': [e.principal.tokenId] } : {}) } }
      : { username: 'system:anonymous', groups: ['system:unauthenticated'] },
    sourceIPs: [e.client.address],
    userAgent: e.client.userAgent,
    objectRef: r.resource
      ? { resource: r.resource, namespace: r.namespace || undefined, name: r.name || undefined, apiGroup: r.apiGroup || undefined, apiVersion: r.apiVersion, subresource: r.subresource || undefined }
      : undefined,
    responseStatus: { metadata: {}, code: e.result.status, ...(failed ? { status: 'Failure', reason: e.result.code } : {}) },
    requestObject,
    responseObject,
    requestReceivedTimestamp: e.time,
    stageTimestamp: rfc3339Micros(eventTimeMicros(e.time) + Math.round((e.result.durationMs ?? 0) * 1000)),
    annotations,
  };
}

function jsonBody(body: AuditBody | undefined): unknown {
  if (!body || body.encoding !== 'utf8' || body.truncated || !body.contentType?.includes('json')) return undefined;
  try {
    return JSON.parse(body.data) as unknown;
  } catch {
    return undefined;
  }
}

/** Every stored event matching `filter`, ascending, read a page at a time. */
export async function* exportRows(repo: AuditRepo, filter: Omit<AuditFilter, 'afterSeq' | 'limit' | 'order'>, pageSize = 1000): AsyncGenerator<StoredEventRow> {
  let afterSeq = 0;
  for (;;) {
    const rows = await repo.search({ ...filter, afterSeq, limit: pageSize });
    yield* rows;
    if (rows.length < pageSize) return;
    afterSeq = rows.at(-1)!.seq;
  }
}
