/**
 * An in-memory {@link ApprovalService} for the console tests: the rules the
 * real one enforces that the console relies on (pending only, not your own
 * request, the rule's approver groups), nothing more.
 */
import type { Approval, ApprovalService, Decider, DecideRefusal } from '../../../src/approvals/types.js';

export interface FakeApprovals extends ApprovalService {
  add(approval: Approval): void;
  listeners(): number;
  /** Reasons declared through the API, by subject. */
  readonly reasons: Map<string, string>;
}

export function fakeApprovals(): FakeApprovals {
  const byId = new Map<string, Approval>();
  const listeners = new Set<(approval: Approval) => void>();
  const notify = (approval: Approval) => listeners.forEach((l) => l(approval));

  const canDecide = (approval: Approval, who: Decider): DecideRefusal | undefined => {
    if (approval.state !== 'pending') return { code: 'conflict', message: `approval ${approval.id} is already ${approval.state}` };
    if (approval.requester.subject === who.subject) return { code: 'forbidden', message: 'nobody decides their own request' };
    const groups = approval.requirements.approverGroups;
    if (groups.length > 0 && !who.groups.some((g) => groups.includes(g))) return { code: 'forbidden', message: `only members of ${groups.join(', ')} decide this` };
    return undefined;
  };

  const reasons = new Map<string, string>();
  return {
    add(approval) {
      byId.set(approval.id, approval);
      notify(approval);
    },
    listeners: () => listeners.size,
    reasons,
    declareReason(subject, reason) {
      if (reason === null) reasons.delete(subject);
      else reasons.set(subject, reason);
      return Promise.resolve();
    },
    list: (filter) =>
      Promise.resolve(
        [...byId.values()]
          .filter((a) => (filter.state === undefined || a.state === filter.state) && (filter.requester === undefined || a.requester.subject === filter.requester))
          .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
          .slice(0, filter.limit ?? 100),
      ),
    get: (id) => Promise.resolve(byId.get(id)),
    canDecide,
    decide(id, who, decision, comment) {
      const approval = byId.get(id);
      if (approval === undefined) return Promise.resolve({ code: 'not-found', message: `no approval ${id}` });
      const refusal = canDecide(approval, who);
      if (refusal) return Promise.resolve(refusal);
      const at = new Date().toISOString();
      const updated: Approval = {
        ...approval,
        state: decision === 'approve' ? 'approved' : 'denied',
        decidedAt: at,
        decisions: [...approval.decisions, { by: who.subject, decision, comment, at }],
      };
      byId.set(id, updated);
      notify(updated);
      return Promise.resolve(updated);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
}

/** A pending approval requested by `requester`, created `ageSeconds` ago. */
export function pendingApproval(id: string, requester: string, options: { ageSeconds?: number; approverGroups?: string[] } = {}): Approval {
  const created = new Date(Date.now() - (options.ageSeconds ?? 0) * 1000);
  return {
    id,
    state: 'pending',
    createdAt: created.toISOString(),
    expiresAt: new Date(created.getTime() + 3_600_000).toISOString(),
    decidedAt: null,
    requestId: `req-${id}`,
    fingerprint: `fp-${id}`,
    requester: { subject: requester, kind: 'human', groups: ['dev'], tokenId: null, sponsor: null },
    request: { verb: 'delete', apiGroup: '', apiVersion: 'v1', resource: 'pods', subresource: '', namespace: 'default', name: 'web', path: '/api/v1/namespaces/default/pods/web' },
    summary: 'delete pods/web in default',
    rule: 'deletes-need-review',
    message: 'deleting needs a second person',
    reasons: [{ rule: 'deletes-need-review', action: 'review', message: 'deleting needs a second person' }],
    reason: 'cleanup',
    object: null,
    diff: null,
    requirements: { approverGroups: options.approverGroups ?? [], quorum: 1, requireReason: false, expiresInMs: 3_600_000, grantTtlMs: 600_000, grantUses: 1 },
    decisions: [],
    grant: null,
  };
}
