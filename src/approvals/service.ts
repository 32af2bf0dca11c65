/**
 * The approvals service: creates approvals for held requests, applies
 * decisions, spends grants, expires what nobody decided, and tells waiting
 * requests, the console and webhooks about every change.
 *
 * @module
 */

import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { parseTtl } from '../identity/tokens-ttl.js';
import type { ReviewSpec } from '../policy/model.js';
import type { ApprovalsConfig } from './config.js';
import { applyDecision, refusalFor, spendGrant, stateAt } from './decide.js';
import type { ApprovalEventType } from './notify.js';
import type { ApprovalsRepo } from './store.js';
import type { Approval, ApprovalFilter, ApprovalRequirements, ApprovalService, Decider, DecideRefusal } from './types.js';

/** What the approval stage knows when it opens an approval (everything but the lifecycle fields). */
export type NewApproval = Omit<Approval, 'id' | 'state' | 'createdAt' | 'expiresAt' | 'decidedAt' | 'decisions' | 'grant'>;

export interface Approvals extends ApprovalService {
  /** The newest pending or granted approval of this requester for this fingerprint. */
  findOpen(subject: string, fingerprint: string): Promise<Approval | undefined>;
  create(input: NewApproval): Promise<Approval>;
  /** The reason `subject` declared and that has not expired. */
  declaredReason(subject: string): Promise<string | undefined>;
  /** Spends one use of the approval's grant; undefined when none is left (or it expired). */
  spend(id: string): Promise<Approval | undefined>;
  /**
   * Resolves with the approval once it is no longer pending, or as it is when
   * `ms` pass or `signal` aborts (the client went away).
   */
  waitForDecision(id: string, ms: number, signal: AbortSignal): Promise<Approval>;
  /** A rule's review settings with the gateway's defaults filled in. */
  requirements(review: ReviewSpec | undefined): ApprovalRequirements;
  /** The console page of one approval. */
  approvalUrl(id: string): string;
  close(): void;
}

export interface ApprovalsOptions {
  repo: ApprovalsRepo;
  config: ApprovalsConfig;
  /** The console's base URL, e.g. https://gatehouse.example.com/ui (a function: the gateway knows its port only once it listens). */
  consoleUrl: () => string;
  notify?: ((type: ApprovalEventType, approval: Approval) => void) | undefined;
  log: Logger;
  now?: () => number;
}

const SWEEP_MS = 10_000;
// A held request re-reads its approval this often, in case a change notification was lost.
const POLL_MS = 2_000;
const LIST_LIMIT = 100;

export function createApprovals(options: ApprovalsOptions): Approvals {
  const { repo, config, log } = options;
  const now = options.now ?? Date.now;
  const listeners = new Set<(a: Approval) => void>();
  const notify = options.notify ?? (() => undefined);
  const view = (a: Approval): Approval => (stateAt(a, now()) === a.state ? a : { ...a, state: 'expired' });

  // Every written approval is re-read once and handed to the console's listeners.
  const unwatch = repo.watch((id) => {
    if (listeners.size === 0) return;
    Promise.resolve()
      .then(() => repo.get(id))
      .then(
      (a) => {
        if (a) for (const fn of listeners) fn(view(a));
      },
      (err: unknown) => log.warn({ err, approval: id }, 'reading a changed approval failed'),
    );
  });
  const sweep = setInterval(() => {
    repo.expire(now()).then(
      (list) => list.forEach((a) => notify('expired', a)),
      (err: unknown) => log.warn({ err }, 'expiring approvals failed'),
    );
  }, SWEEP_MS);
  sweep.unref();

  const requirements = (review: ReviewSpec | undefined): ApprovalRequirements => ({
    approverGroups: review?.approverGroups ?? config.approverGroups,
    quorum: review?.quorum ?? config.quorum,
    requireReason: review?.requireReason ?? config.requireReason,
    sponsorMayApprove: review?.sponsorMayApprove ?? config.sponsorMayApprove,
    expiresInMs: parseTtl(review?.expiresIn ?? config.expiresIn) * 1000,
    grantTtlMs: parseTtl(review?.grantTtl ?? config.grantTtl) * 1000,
    grantUses: review?.grantUses ?? config.grantUses,
  });

  return {
    async list(filter: ApprovalFilter) {
      const limit = Math.min(Math.max(filter.limit ?? LIST_LIMIT, 1), 1000);
      // Stored rows turn expired only at the next sweep; a pending filter must not show ones already past.
      const rows = await repo.list({ state: filter.state === 'expired' ? undefined : filter.state, requester: filter.requester, limit: filter.state === 'expired' ? 1000 : limit });
      return rows
        .map(view)
        .filter((a) => filter.state === undefined || a.state === filter.state)
        .slice(0, limit);
    },
    async get(id) {
      const a = await repo.get(id);
      return a && view(a);
    },
    canDecide: (approval, who) => refusalFor(approval, who, now()),
    async decide(id: string, who: Decider, decision: 'approve' | 'deny', comment: string | null): Promise<Approval | DecideRefusal> {
      const done = await repo.update<Approval | DecideRefusal>(id, (current) => {
        const next = applyDecision(current, who, decision, comment, now());
        return 'code' in next ? { result: next } : { next, result: next };
      });
      if (done === undefined) return { code: 'not-found', message: `no approval ${id}` };
      const result = done.result;
      if (!('code' in result)) {
        log.info({ approval: id, by: who.subject, decision, state: result.state }, 'approval decided');
        if (result.state !== 'pending') notify('decided', result);
      }
      return result;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async declareReason(subject, reason, ttlMs) {
      await repo.declareReason(subject, reason, now() + ttlMs);
    },
    declaredReason: (subject) => repo.declaredReason(subject, now()),
    async findOpen(subject, fp) {
      return repo.findOpen(subject, fp, now());
    },
    async create(input) {
      const at = now();
      const approval: Approval = {
        ...input,
        id: `apr_${randomBytes(9).toString('base64url')}`,
        state: 'pending',
        createdAt: new Date(at).toISOString(),
        expiresAt: new Date(at + input.requirements.expiresInMs).toISOString(),
        decidedAt: null,
        decisions: [],
        grant: null,
      };
      await repo.insert(approval);
      log.info({ approval: approval.id, requester: approval.requester.subject, rule: approval.rule, summary: approval.summary }, 'approval requested');
      notify('created', approval);
      return approval;
    },
    async spend(id) {
      const done = await repo.update(id, (current) => {
        const next = spendGrant(current, now());
        return { next, result: next };
      });
      return done?.result;
    },
    waitForDecision(id, ms, signal) {
      return new Promise<Approval>((resolve, reject) => {
        let settled = false;
        let last: Approval | undefined;
        const finish = (a: Approval | undefined, err?: unknown): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          clearInterval(poll);
          stop();
          signal.removeEventListener('abort', settle);
          if (a) resolve(view(a));
          else reject(err instanceof Error ? err : new Error(`approval ${id} disappeared while the request waited`));
        };
        // A synchronous store error (SQLite) becomes a rejection like PostgreSQL's.
        const read = (): Promise<Approval | undefined> => Promise.resolve().then(() => repo.get(id));
        const check = (): void => {
          read().then(
            (a) => {
              if (a === undefined) return finish(undefined);
              last = a;
              if (stateAt(a, now()) !== 'pending') finish(a);
            },
            (err: unknown) => finish(undefined, err),
          );
        };
        // At the end of the hold, or when the client leaves, one last read: the freshest state decides.
        const settle = (): void => {
          read().then(
            (a) => finish(a ?? last),
            (err: unknown) => finish(last, err),
          );
        };
        const stop = repo.watch((changed) => {
          if (changed === id) check();
        });
        const timer = setTimeout(settle, ms);
        const poll = setInterval(() => check(), POLL_MS);
        signal.addEventListener('abort', settle);
        if (signal.aborted) settle();
        else check();
      });
    },
    requirements,
    approvalUrl: (id) => `${options.consoleUrl().replace(/\/$/, '')}/approvals/${id}`,
    close() {
      clearInterval(sweep);
      unwatch();
      listeners.clear();
    },
  };
}
