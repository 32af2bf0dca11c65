/**
 * Compile-time only: the web console mirrors the approval shapes (its build
 * cannot import the gateway's Node-side modules), so the root typecheck fails
 * here if the two drift apart.
 */

import type { Approval, ApprovalRequirements, ApprovalState } from '../../src/approvals/types.js';
import type { MatchedRule } from '../../src/policy/engine.js';
import type { ProposalView } from '../../src/proposals/types.js';
import type { RestartNeeded } from '../../src/config/reload.js';
import type * as Web from '../../web/src/types.js';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;

export type WebTypesMatch = [
  Assert<Same<Web.Approval, Approval>>,
  Assert<Same<Web.ApprovalState, ApprovalState>>,
  Assert<Same<Web.ApprovalRequirements, ApprovalRequirements>>,
  Assert<Same<Web.MatchedRule, MatchedRule>>,
  Assert<Same<Web.ConsoleProposal, ProposalView>>,
  Assert<Same<Web.RestartNeeded, RestartNeeded>>,
];
