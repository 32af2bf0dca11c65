import { describe, expect, it } from 'vitest';
import { errorFromStatus, KubeCallError } from '../../../src/mcp/gateway-client.js';
import { failureText, ToolInputError, truncate } from '../../../src/mcp/result.js';

const pendingMessage = 'needs approval: policy rule "privileged-containers": … Approval apr_abc is waiting for a person …';
const pendingStatus = JSON.stringify({
  kind: 'Status',
  apiVersion: 'v1',
  status: 'Failure',
  message: pendingMessage,
  reason: 'Forbidden',
  code: 403,
  details: { causes: [{ reason: 'GH_APPROVAL_PENDING', message: '…' }, { reason: 'GatehouseApproval', message: 'apr_abc', field: 'approval' }] },
});

describe('errorFromStatus', () => {
  it('keeps the Status message verbatim with the Gatehouse code and approval id', () => {
    const err = errorFromStatus(403, pendingStatus);
    expect(err).toMatchObject({ message: pendingMessage, status: 403, reason: 'Forbidden', code: 'GH_APPROVAL_PENDING', approvalId: 'apr_abc' });
  });

  it('reads an API server Status and a console API error', () => {
    expect(errorFromStatus(404, '{"kind":"Status","message":"pods \\"x\\" not found","reason":"NotFound"}')).toMatchObject({ message: 'pods "x" not found', code: undefined });
    expect(errorFromStatus(403, '{"error":{"code":"forbidden","message":"approvers only"}}').message).toBe('approvers only');
  });

  it('says what came back when it is not a Status', () => {
    expect(errorFromStatus(502, 'Bad Gateway').message).toBe('the gateway answered 502: Bad Gateway');
  });
});

describe('failureText', () => {
  it('adds how to wait to a pending approval', () => {
    expect(failureText(errorFromStatus(403, pendingStatus))).toMatch(/^needs approval: .*\n\nThis action has not happened yet: .*Call wait_for_approval with approval_id "apr_abc"/s);
  });

  it('passes other refusals and input errors through as they are', () => {
    expect(failureText(new KubeCallError('denied by policy', 403, 'Forbidden', 'GH_POLICY_DENIED', undefined))).toBe('denied by policy');
    expect(failureText(new ToolInputError('bad manifest'))).toBe('bad manifest');
    expect(failureText(new Error('socket hang up'))).toBe('the tool failed: socket hang up');
  });
});

describe('truncate', () => {
  it('cuts long text with a marker saying how much was shown', () => {
    expect(truncate('abcdef', 10)).toBe('abcdef');
    expect(truncate('abcdef', 3)).toMatch(/^abc\n… \[truncated: showed 3 of 6 characters; narrow the request/);
  });
});
