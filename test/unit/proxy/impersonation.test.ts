import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { RequestContext } from '../../../src/pipeline/context.js';
import { addImpersonation } from '../../../src/proxy/impersonation.js';

const ctx = (headers: Record<string, string>, extra: Partial<RequestContext> = {}): RequestContext => ({
  id: 'req-1',
  req: { headers, socket: { remoteAddress: '10.0.0.7' } } as unknown as IncomingMessage,
  upgrade: false,
  startedAt: 0n,
  arrivedMicros: 0,
  timings: {},
  principal: { subject: 'token:cursor', groups: ['agents'], kind: 'agent', via: 'token', tokenId: 't', sponsor: 'Zoë <zoe@example.com>' },
  ...extra,
});

describe('impersonation headers', () => {
  it('names the principal, its sponsor, the client, the kubectl session and the request', () => {
    const headers: OutgoingHttpHeaders = {};
    addImpersonation(headers, ctx({ 'user-agent': 'kubectl/v1.33.1 (linux/amd64)', 'kubectl-session': 's-1' }));
    expect(headers).toEqual({
      'impersonate-user': 'token:cursor',
      'impersonate-group': ['agents'],
      'impersonate-extra-gatehouse-client-address': '10.0.0.7',
      'impersonate-extra-gatehouse-principal-kind': 'agent',
      'impersonate-extra-gatehouse-via': 'token',
      'impersonate-extra-gatehouse-request-id': 'req-1',
      // Not printable ASCII: percent-encoded, so it is a valid header value.
      'impersonate-extra-gatehouse-sponsor': 'Zo%C3%AB%20%3Czoe%40example.com%3E',
      'impersonate-extra-gatehouse-client': 'kubectl/v1.33.1 (linux/amd64)',
      'impersonate-extra-gatehouse-session': 's-1',
    });
  });

  it('adds the approval that let a held request through, and bounds long values', () => {
    const headers: OutgoingHttpHeaders = {};
    const approval = { approval: { id: 'apr_1' }, viaGrant: true } as unknown as RequestContext['approval'];
    addImpersonation(headers, ctx({ 'user-agent': 'x'.repeat(1000) }, { approval }));
    expect(headers['impersonate-extra-gatehouse-approval']).toBe('apr_1');
    expect(String(headers['impersonate-extra-gatehouse-client'])).toHaveLength(256);
  });
});
