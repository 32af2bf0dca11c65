import { describe, expect, it } from 'vitest';
import { auditEventSchema, buildAuditEvent, captureBody, eventTimeMicros, resultLabel, rfc3339Micros } from '../../../src/audit/event.js';
import { k8sAuditEvent } from '../../../src/audit/export.js';
import { canonicalJson } from '../../../src/audit/canonical.js';

describe('buildAuditEvent', () => {
  it('records who, from where, what, the decision, the approval and the outcome', () => {
    const event = buildAuditEvent({
      requestId: 'r-1',
      method: 'DELETE',
      path: '/api/v1/namespaces/prod/pods/web?gracePeriodSeconds=0',
      principal: { subject: 'token:cursor', groups: ['ai'], kind: 'agent', via: 'token', tokenId: 't-9' },
      clientAddress: '10.0.0.7',
      headers: { 'user-agent': 'kubectl/v1.33.0', 'kubectl-command': 'kubectl delete', 'kubectl-session': 'abc' },
      decision: { action: 'review', rule: 'prod-deletes', message: 'needs a human', hint: undefined, matched: [{ rule: 'prod-deletes', action: 'review', message: 'needs a human' }], errors: [] },
      approval: {
        id: 'a-1',
        state: 'approved',
        decisions: [
          { by: 'oidc:carol', decision: 'approve', comment: null, at: '2025-11-25T14:59:00.000Z' },
          { by: 'oidc:alice', decision: 'approve', comment: 'ok', at: '2025-11-25T15:00:00.000Z' },
        ],
      },
      upstream: { status: 200, latencyMs: 4.5, bytesIn: 0, bytesOut: 300 },
      result: { status: 200, durationMs: 12.25 },
      timeMicros: Date.UTC(2025, 10, 25, 14, 57) * 1000 + 123_456,
    });
    expect(event).toMatchObject({
      v: 1,
      time: '2025-11-25T14:57:00.123456Z',
      requestId: 'r-1',
      principal: { subject: 'token:cursor', groups: ['ai'], kind: 'agent', via: 'token', tokenId: 't-9' },
      client: { address: '10.0.0.7', userAgent: 'kubectl/v1.33.0', kubectlCommand: 'kubectl delete', kubectlSession: 'abc' },
      request: { method: 'DELETE', verb: '', path: '/api/v1/namespaces/prod/pods/web', query: 'gracePeriodSeconds=0' },
      decision: { action: 'review', rule: 'prod-deletes', matched: [{ rule: 'prod-deletes', action: 'review' }] },
      approval: {
        id: 'a-1',
        state: 'approved',
        by: 'oidc:alice',
        at: '2025-11-25T15:00:00.000Z',
        comment: 'ok',
        decisions: [
          { by: 'oidc:carol', decision: 'approve', comment: null, at: '2025-11-25T14:59:00.000Z' },
          { by: 'oidc:alice', decision: 'approve', comment: 'ok', at: '2025-11-25T15:00:00.000Z' },
        ],
      },
      result: { status: 200, durationMs: 12.25 },
      bodies: { masked: false },
    });
    expect(event.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(event.decision).not.toHaveProperty('errors', []);
    const back = auditEventSchema.parse(JSON.parse(canonicalJson(event)));
    expect(canonicalJson(back)).toBe(canonicalJson(event));
  });

  it('builds every object of a request event with its keys in canonical order: its canonical encoding is JSON.stringify', () => {
    const body = captureBody(Buffer.from('{"kind":"ConfigMap","data":{"a":"b"}}'), 'application/json', 1024);
    const event = buildAuditEvent({
      requestId: 'r-2',
      method: 'GET',
      path: '/api/v1/namespaces/prod/configmaps/web',
      principal: { subject: 'token:ci', groups: ['ci'], kind: 'ci', via: 'token', tokenId: 't-1', sponsor: 'oidc:alice' },
      request: {
        isResourceRequest: true,
        path: '/api/v1/namespaces/prod/configmaps/web',
        verb: 'get',
        apiPrefix: 'api',
        apiGroup: '',
        apiVersion: 'v1',
        namespace: 'prod',
        resource: 'configmaps',
        subresource: '',
        name: 'web',
        parts: ['namespaces', 'prod', 'configmaps', 'web'],
        fieldSelector: '',
        labelSelector: '',
        query: '',
        cluster: 'prod',
        contentType: undefined,
        object: undefined,
      },
      clientAddress: '10.0.0.7',
      headers: { 'user-agent': 'kubectl/v1.33.0', 'kubectl-command': 'kubectl get', 'kubectl-session': 's' },
      decision: {
        action: 'mask',
        rule: 'agent-reads',
        message: 'masked',
        hint: 'h',
        matched: [{ rule: 'agent-reads', action: 'mask', message: 'masked' }],
        errors: [{ rule: 'r', error: 'e' }],
        namespaceLabels: { env: 'prod', team: 'a' },
        readBack: { action: 'mask', rule: 'agent-reads' },
      },
      shadowDecision: { action: 'allow', matched: [] },
      proposal: { id: 'p-1', action: 'applied' },
      upstream: { status: 200, latencyMs: 1.5, bytesIn: 0, bytesOut: 40 },
      result: { status: 200, durationMs: 2.5, code: undefined, cut: 'client' },
      bodies: { response: body, masked: true },
      stream: { sessionId: 'r-2', kind: 'watch', chunks: 2, bytes: 40, hash: 'h', truncated: false },
    });
    expect(JSON.stringify(event)).toBe(canonicalJson(event));
    expect(JSON.parse(JSON.stringify(event))).toMatchObject({ principal: { sponsor: 'oidc:alice' }, request: { cluster: 'prod' }, stream: { chunks: 2 } });
  });

  it('records a request refused before anyone was identified, without a principal', () => {
    const event = buildAuditEvent({ requestId: 'r', method: 'GET', path: '/api', clientAddress: '::1', headers: {}, result: { status: 401, code: 'GH_UNAUTHENTICATED' } });
    expect(event.principal).toBeUndefined();
    expect(auditEventSchema.safeParse(JSON.parse(canonicalJson(event))).success).toBe(true);
  });

  it('says who cut an answer short, in the record, its label and the Kubernetes export; an answer that ended has no cut', () => {
    const cut = buildAuditEvent({ requestId: 'r', method: 'GET', path: '/api/v1/pods?watch=1', clientAddress: '::1', headers: {}, result: { status: 200, cut: 'client' } });
    const whole = buildAuditEvent({ requestId: 's', method: 'GET', path: '/api/v1/pods', clientAddress: '::1', headers: {}, result: { status: 200 } });
    const stored = auditEventSchema.parse(JSON.parse(canonicalJson(cut)));
    expect(stored.result).toEqual({ status: 200, cut: 'client' });
    expect(canonicalJson(whole)).not.toContain('"cut"');
    expect(resultLabel(stored.result)).toBe('200 cut by client');
    expect(resultLabel({ status: 503, code: 'GH_UPSTREAM_UNAVAILABLE' })).toBe('503 GH_UPSTREAM_UNAVAILABLE');
    expect(auditEventSchema.safeParse({ ...JSON.parse(canonicalJson(cut)), result: { status: 200, cut: 'someone' } }).success).toBe(false);
    const row = { seq: 1, prevHash: '0'.repeat(64), hash: 'h', eventJson: canonicalJson(cut) };
    expect(k8sAuditEvent(row as Parameters<typeof k8sAuditEvent>[0])).toMatchObject({ annotations: { 'gatehouse.dev/cut-by': 'client' } });
  });

  it('keeps fields a newer Gatehouse added when reading back', () => {
    const event = buildAuditEvent({ requestId: 'r', method: 'GET', path: '/api', clientAddress: '::1', headers: {}, result: { status: 200 } });
    const parsed = auditEventSchema.parse({ ...JSON.parse(canonicalJson(event)), future: { x: 1 } });
    expect(parsed).toHaveProperty('future', { x: 1 });
  });
});

describe('captureBody', () => {
  it('keeps JSON and YAML as text, protobuf as base64', () => {
    expect(captureBody(Buffer.from('{"a":1}'), 'application/json; charset=utf-8', 100)).toEqual({ contentType: 'application/json', encoding: 'utf8', data: '{"a":1}', size: 7, truncated: false });
    expect(captureBody(Buffer.from('a: 1\n'), 'application/apply-patch+yaml', 100).encoding).toBe('utf8');
    expect(captureBody(Buffer.from([0x6b, 0x38, 0x73, 0x00, 0xff]), 'application/vnd.kubernetes.protobuf', 100)).toMatchObject({ encoding: 'base64', data: 'azhzAP8=' });
  });

  it('cuts at the cap and says so', () => {
    expect(captureBody(Buffer.from('0123456789'), 'text/plain', 4)).toMatchObject({ data: '0123', size: 10, truncated: true });
  });

  it('falls back to base64 for bytes that are not UTF-8 even under a text type', () => {
    expect(captureBody(Buffer.from([0xc3]), 'application/json', 10).encoding).toBe('base64');
  });
});

describe('times', () => {
  it('formats and parses RFC 3339 with microseconds', () => {
    expect(rfc3339Micros(1_764_082_620_000_001)).toBe('2025-11-25T14:57:00.000001Z');
    expect(eventTimeMicros('2025-11-25T14:57:00.000001Z')).toBe(1_764_082_620_000_001);
  });
});

describe('auditConfigSchema', () => {
  it('defaults every key and refuses unknown ones', async () => {
    const { auditConfigSchema, auditWriterOptions, postgresStoreConfigSchema } = await import('../../../src/audit/config.js');
    const config = auditConfigSchema.parse(undefined);
    expect(config).toMatchObject({ checkpointEvery: 1000, maxBodyBytes: 65_536, awaitReads: false });
    expect(auditConfigSchema.safeParse({ checkpointEvry: 5 }).success).toBe(false);
    expect(auditWriterOptions(auditConfigSchema.parse({ checkpointEvery: 5 }), {} as never)).toMatchObject({ checkpointEvery: 5, maxQueue: 50_000 });
    expect(postgresStoreConfigSchema.safeParse({ url: 'mysql://x' }).success).toBe(false);
    expect(postgresStoreConfigSchema.parse({ url: 'postgres://gh@db/gatehouse' })).toEqual({ url: 'postgres://gh@db/gatehouse', maxConnections: 4, timeoutMs: 10_000 });
  });
});
