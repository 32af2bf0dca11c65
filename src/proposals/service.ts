/**
 * The proposals service: stores proposals, finds the pending one an
 * identical write rejoins, and lets people apply (through the gateway, as
 * themselves) or reject them.
 *
 * @module
 */

import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Decider } from '../approvals/types.js';
import type { Principal } from '../identity/principal.js';
import type { Applications, ProposalSender, SentAnswer } from './apply.js';
import { refusalFor } from './decide.js';
import type { ProposalRefusal } from './decide.js';
import type { ProposalsRepo } from './store.js';
import type { Proposal, ProposalFilter, ProposalResult } from './types.js';

/** What the proposal stage knows when it stores a proposal (everything but the lifecycle fields). */
export type NewProposal = Omit<Proposal, 'id' | 'state' | 'createdAt' | 'decidedBy' | 'decidedAt' | 'comment' | 'result'>;

export interface Proposals {
  list(filter: ProposalFilter): Promise<Proposal[]>;
  get(id: string): Promise<Proposal | undefined>;
  /** The pending proposal an identical write of the same requester on the same cluster rejoins. */
  findPending(cluster: string, subject: string, fingerprint: string): Promise<Proposal | undefined>;
  create(input: NewProposal): Promise<Proposal>;
  /** Whether `who` may apply or reject `proposal` now (for the console's buttons). */
  canDecide(proposal: Proposal, who: Decider): ProposalRefusal | undefined;
  reject(id: string, who: Decider, comment: string): Promise<Proposal | ProposalRefusal>;
  /**
   * Sends the stored write through the gateway as `applier` (whose console
   * identity is `who`). Applied: the proposal is marked so. Refused by
   * policy, the API server, or because the object changed: the proposal
   * stays pending, keeps the result, and the refusal says why.
   */
  apply(id: string, who: Decider, applier: Principal): Promise<Proposal | (ProposalRefusal & { proposal?: Proposal })>;
  /** The console page of one proposal. */
  proposalUrl(id: string): string;
}

export interface ProposalsOptions {
  repo: ProposalsRepo;
  applications: Applications;
  send: ProposalSender;
  /** The console's base URL, e.g. https://gatehouse.example.com/ui. */
  consoleUrl: () => string;
  log: Logger;
  now?: () => number;
}

const LIST_LIMIT = 100;

/**
 * @example
 * const proposals = createProposals({ repo: store.proposals, applications, send: createSelfSender(target), consoleUrl: () => url, log });
 */
export function createProposals(options: ProposalsOptions): Proposals {
  const { repo, log } = options;
  const now = options.now ?? Date.now;
  // One apply at a time per proposal in this process; the transaction below settles races between replicas.
  const applying = new Set<string>();

  const settle = (id: string, change: (p: Proposal) => Proposal): Promise<Proposal | ProposalRefusal> =>
    repo
      .update<Proposal | ProposalRefusal>(id, (current) => {
        if (current.state !== 'pending') return { result: { code: 'conflict', message: `proposal ${id} is already ${current.state}` } };
        const next = change(current);
        return { next, result: next };
      })
      .then((done) => done?.result ?? { code: 'not-found', message: `no proposal ${id}` });

  return {
    list: (filter) => repo.list({ state: filter.state, limit: Math.min(Math.max(filter.limit ?? LIST_LIMIT, 1), 1000) }),
    get: (id) => repo.get(id),
    findPending: (cluster, subject, fp) => repo.findPending(cluster, subject, fp),
    async create(input) {
      const proposal: Proposal = {
        ...input,
        id: `prp_${randomBytes(9).toString('base64url')}`,
        state: 'pending',
        createdAt: new Date(now()).toISOString(),
        decidedBy: null,
        decidedAt: null,
        comment: null,
        result: null,
      };
      await repo.insert(proposal);
      log.info({ proposal: proposal.id, requester: proposal.requester.subject, cluster: proposal.cluster, summary: proposal.summary }, 'proposal stored');
      return proposal;
    },
    canDecide: refusalFor,
    async reject(id, who, comment) {
      const current = await repo.get(id);
      if (current === undefined) return { code: 'not-found', message: `no proposal ${id}` };
      const refused = refusalFor(current, who);
      if (refused) return refused;
      const text = comment.trim();
      if (text === '') return { code: 'invalid', message: 'a rejection needs a comment: the requester and its sponsor are told why' };
      const at = new Date(now()).toISOString();
      const result = await settle(id, (p) => ({ ...p, state: 'rejected', decidedBy: who.subject, decidedAt: at, comment: text }));
      if (!('code' in result)) log.info({ proposal: id, by: who.subject }, 'proposal rejected');
      return result;
    },
    async apply(id, who, applier) {
      const current = await repo.get(id);
      if (current === undefined) return { code: 'not-found', message: `no proposal ${id}` };
      const refused = refusalFor(current, who);
      if (refused) return refused;
      if (applying.has(id)) return { code: 'conflict', message: `proposal ${id} is being applied right now` };
      applying.add(id);
      try {
        const { token, revoke } = options.applications.issue(applier, id);
        let answer: SentAnswer;
        try {
          answer = await options.send(current, token);
        } catch (err) {
          return { code: 'unavailable', message: `the gateway could not send proposal ${id} to itself: ${(err as Error).message}` };
        } finally {
          revoke();
        }
        const at = new Date(now()).toISOString();
        const ok = answer.status >= 200 && answer.status < 300;
        const result: ProposalResult = { by: who.subject, at, status: answer.status, message: messageOf(answer, current, ok), requestId: answer.requestId };
        log.info({ proposal: id, by: who.subject, status: answer.status, requestId: answer.requestId }, ok ? 'proposal applied' : 'applying a proposal was refused');
        if (ok) return await settle(id, (p) => ({ ...p, state: 'applied', decidedBy: who.subject, decidedAt: at, result }));
        const kept = await settle(id, (p) => ({ ...p, result }));
        return { code: refusalCode(answer.status), message: `applying proposal ${id} was refused (${answer.status}): ${result.message}`, ...('code' in kept ? {} : { proposal: kept }) };
      } finally {
        applying.delete(id);
      }
    },
    proposalUrl: (id) => `${options.consoleUrl().replace(/\/$/, '')}/proposals/${id}`,
  };
}

function refusalCode(status: number): ProposalRefusal['code'] {
  if (status === 403 || status === 401) return 'forbidden';
  if (status === 400 || status === 404 || status === 422) return 'invalid';
  if (status >= 500) return 'unavailable';
  return 'conflict';
}

/** The Status message of a refusal; on success, what was applied. */
function messageOf(answer: SentAnswer, proposal: Proposal, ok: boolean): string {
  if (ok) return `applied: ${proposal.summary}`;
  try {
    const status = JSON.parse(answer.body) as { message?: unknown };
    if (typeof status.message === 'string') return status.message;
  } catch {
    // Not a Status: the start of the text.
  }
  return answer.body.slice(0, 500) || `HTTP ${answer.status}`;
}
