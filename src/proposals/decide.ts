/**
 * Who may apply or reject a proposal, pure (as src/approvals/decide.ts for
 * approvals, whose sponsor rule it shares).
 *
 * @module
 */

import { isSponsor } from '../approvals/decide.js';
import type { Decider } from '../approvals/types.js';
import type { Proposal } from './types.js';

/** Why someone may not apply or reject a proposal, or why an apply failed. */
export type ProposalRefusal = { code: 'not-found' | 'forbidden' | 'conflict' | 'invalid' | 'unavailable'; message: string };

/**
 * Undefined when `who` may decide `proposal` now: it is pending, it is not
 * theirs, they are not its requester's sponsor when the rule says so, and
 * they are in one of its approver groups.
 *
 * @example
 * refusalFor(proposal, { subject: 'token:alice', groups: ['gatehouse:approvers'] }); // undefined
 */
export function refusalFor(proposal: Proposal, who: Decider): ProposalRefusal | undefined {
  if (proposal.state !== 'pending') return { code: 'conflict', message: `proposal ${proposal.id} is already ${proposal.state}` };
  if (who.subject === proposal.requester.subject) return { code: 'forbidden', message: 'nobody applies or rejects their own proposal: ask another approver' };
  const sponsor = proposal.requester.sponsor;
  if (sponsor !== null && !proposal.sponsorMayApprove && isSponsor(who.subject, sponsor)) {
    return { code: 'forbidden', message: `${who.subject} sponsors ${proposal.requester.subject}, and this rule needs someone other than the sponsor to decide its proposals` };
  }
  const groups = proposal.approverGroups;
  if (!who.groups.some((g) => groups.includes(g))) return { code: 'forbidden', message: `only members of ${groups.map((g) => `"${g}"`).join(', ')} may decide this proposal` };
  return undefined;
}
