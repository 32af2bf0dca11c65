import type { NewApproval } from '../../../src/approvals/service.js';
import type { ApprovalRequirements } from '../../../src/approvals/types.js';

export const requirements = (overrides: Partial<ApprovalRequirements> = {}): ApprovalRequirements => ({
  approverGroups: ['approvers'],
  quorum: 1,
  requireReason: false,
  expiresInMs: 3_600_000,
  grantTtlMs: 900_000,
  grantUses: 1,
  ...overrides,
});

/** A held `kubectl run --privileged` by an agent. */
export const newApproval = (overrides: Partial<NewApproval> = {}): NewApproval => ({
  requestId: 'req-1',
  fingerprint: 'fp-1',
  requester: { subject: 'agent-1', kind: 'agent', groups: ['agents'], tokenId: 'tok-1', sponsor: null },
  request: { verb: 'create', apiGroup: '', apiVersion: 'v1', resource: 'pods', subresource: '', namespace: 'default', name: 'web', path: '/api/v1/namespaces/default/pods' },
  summary: 'create pods web in namespace default',
  rule: 'privileged-containers',
  message: 'a container asks to run privileged',
  reasons: [{ rule: 'privileged-containers', action: 'review', message: 'a container asks to run privileged' }],
  reason: 'debugging the node',
  object: { kind: 'Pod' },
  diff: null,
  requirements: requirements(),
  ...overrides,
});
