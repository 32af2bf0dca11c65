/**
 * The rules of deciding an approval, pure so the store can apply them inside
 * a transaction: who may decide, what a decision does, when it expires.
 *
 * @module
 */

import type { Approval, Decider, DecideRefusal } from './types.js';

/** The state as of `now`: a pending approval past its expiry is expired, whatever the stored row says. */
export function stateAt(approval: Approval, now: number): Approval['state'] {
  return approval.state === 'pending' && Date.parse(approval.expiresAt) <= now ? 'expired' : approval.state;
}

/** Whether `who` may decide `approval` at `now`; undefined when they may. */
export function refusalFor(approval: Approval, who: Decider, now: number): DecideRefusal | undefined {
  const state = stateAt(approval, now);
  if (state !== 'pending') return { code: 'conflict', message: `approval ${approval.id} is already ${state}` };
  if (who.subject === approval.requester.subject) {
    return { code: 'forbidden', message: 'nobody approves their own request: ask another approver' };
  }
  const sponsor = approval.requester.sponsor;
  if (sponsor !== null && approval.requirements.sponsorMayApprove === false && isSponsor(who.subject, sponsor)) {
    return { code: 'forbidden', message: `${who.subject} sponsors ${approval.requester.subject}, and this rule needs an approver other than the sponsor` };
  }
  const groups = approval.requirements.approverGroups;
  if (!who.groups.some((g) => groups.includes(g))) {
    return { code: 'forbidden', message: `only members of ${groups.map((g) => `"${g}"`).join(', ')} may decide this request` };
  }
  if (approval.decisions.some((d) => d.by === who.subject)) {
    return { code: 'conflict', message: `${who.subject} has already decided approval ${approval.id}; it needs another approver` };
  }
  return undefined;
}

/** A token's sponsor is free text: the decider's subject, or that subject without its `oidc:`/`token:` prefix or e-mail domain. */
export function isSponsor(subject: string, sponsor: string): boolean {
  const bare = subject.replace(/^[a-z]+:/, '');
  return sponsor === subject || sponsor === bare || sponsor === bare.replace(/@.*$/, '');
}

/**
 * The approval after `who` decides: one denial denies; approvals from
 * `quorum` different people approve and open the grant.
 */
export function applyDecision(
  approval: Approval,
  who: Decider,
  decision: 'approve' | 'deny',
  comment: string | null,
  now: number,
): Approval | DecideRefusal {
  const refused = refusalFor(approval, who, now);
  if (refused) return refused;
  const text = comment?.trim() ? comment.trim() : null;
  if (decision === 'deny' && text === null) return { code: 'invalid', message: 'a denial needs a comment: the requester is told why' };
  const at = new Date(now).toISOString();
  const decisions = [...approval.decisions, { by: who.subject, decision, comment: text, at }];
  if (decision === 'deny') return { ...approval, decisions, state: 'denied', decidedAt: at };
  const approvals = decisions.filter((d) => d.decision === 'approve').length;
  if (approvals < approval.requirements.quorum) return { ...approval, decisions };
  return {
    ...approval,
    decisions,
    state: 'approved',
    decidedAt: at,
    grant: { expiresAt: new Date(now + approval.requirements.grantTtlMs).toISOString(), usesLeft: approval.requirements.grantUses },
  };
}

/** The approval with one use of its grant spent, or undefined when it has no usable grant at `now`. */
export function spendGrant(approval: Approval, now: number): Approval | undefined {
  const grant = approval.grant;
  if (approval.state !== 'approved' || grant === null || grant.usesLeft <= 0 || Date.parse(grant.expiresAt) <= now) return undefined;
  return { ...approval, grant: { ...grant, usesLeft: grant.usesLeft - 1 } };
}
