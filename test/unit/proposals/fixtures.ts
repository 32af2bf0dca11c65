import type { NewProposal } from '../../../src/proposals/service.js';
import type { Proposal } from '../../../src/proposals/types.js';

/** An agent's proposed create of a Deployment. */
export const newProposal = (overrides: Partial<NewProposal> = {}): NewProposal => ({
  cluster: 'default',
  requestId: 'req-1',
  fingerprint: 'fp-1',
  requester: { subject: 'token:bot', kind: 'agent', groups: ['agents'], tokenId: 'tok-1', sponsor: 'oidc:bob@example.com' },
  request: {
    method: 'POST',
    verb: 'create',
    apiGroup: 'apps',
    apiVersion: 'v1',
    resource: 'deployments',
    subresource: '',
    namespace: 'dev',
    name: 'web',
    path: '/apis/apps/v1/namespaces/dev/deployments?fieldManager=kubectl-client-side-apply',
    contentType: 'application/json',
    body: Buffer.from('{"kind":"Deployment"}').toString('base64'),
  },
  summary: 'create deployments.apps web in namespace dev',
  change: 'would create deployments.apps web in namespace dev (3 lines of YAML)',
  rule: 'agents-propose',
  message: 'agents propose',
  object: { kind: 'Deployment', metadata: { name: 'web', namespace: 'dev' } },
  baseResourceVersion: null,
  diff: '--- live\n+++ after this request\n@@ -0,0 +1,1 @@\n+kind: Deployment\n',
  approverGroups: ['gatehouse:approvers'],
  sponsorMayApprove: false,
  ...overrides,
});

export const stored = (id: string, createdAt: string, overrides: Partial<Proposal> = {}): Proposal => ({
  ...newProposal(),
  id,
  state: 'pending',
  createdAt,
  decidedBy: null,
  decidedAt: null,
  comment: null,
  result: null,
  ...overrides,
});
