/**
 * The approval stage: runs after policy and acts only on `review`
 * decisions. A request either spends a grant its identical predecessor was
 * given, or opens (or rejoins) an approval and waits up to the hold window
 * for people to decide. Approved: it goes on upstream. Denied, expired or
 * still pending: a 403 Status that says exactly what to do next. Any failure
 * here stops the request (fail closed).
 *
 * @module
 */

import { GatehouseError } from '../errors/codes.js';
import { sentence } from '../errors/sentence.js';
import { objectName } from '../kube/object.js';
import type { Masker } from '../masking/index.js';
import { CONTINUE, stop } from '../pipeline/context.js';
import type { RequestContext, Stage, StageOutcome } from '../pipeline/context.js';
import type { Decision } from '../policy/engine.js';
import type { ResolvedObjects } from '../policy/stage.js';
import { fingerprint, summarize } from './fingerprint.js';
import { previewOf } from './preview.js';
import { requesterOf, targetOf } from './subject.js';
import { normalizeReason, REASON_HEADER } from './reason.js';
import type { Approvals } from './service.js';
import type { Approval } from './types.js';
import { clientSideOf } from '../pipeline/http2-compat.js';

export interface ApprovalStageOptions {
  approvals: Approvals;
  /** How long a request waits for a decision before the client is told to retry. */
  holdMs: number;
  /** The object a write would store and the live one (server-side dry-run), for the approver's diff. */
  resolveObject?: ((ctx: RequestContext) => Promise<ResolvedObjects>) | undefined;
  masker: Masker;
  /** Aborted when the gateway begins to shut down: held requests are answered at once, retryable; their approvals stay open. */
  stopHolding?: AbortSignal | undefined;
}

const RETRY_SECONDS = 5;

export function createApprovalStage(options: ApprovalStageOptions): Stage {
  const { approvals } = options;
  return {
    name: 'approval',
    async run(ctx) {
      const decision = ctx.decision;
      if (decision?.action !== 'review') return CONTINUE;
      try {
        return await hold(ctx, decision, options);
      } catch (err) {
        if (err instanceof GatehouseError) throw err;
        return stop(
          new GatehouseError('GH_APPROVAL_FAILED', `this request needs approval and the gateway could not open or read it (${(err as Error).message}); it was not forwarded. Retry shortly.`, {
            cause: err,
            retryAfterSeconds: RETRY_SECONDS,
          }),
        );
      }
    },
  };

  async function hold(ctx: RequestContext, decision: Decision, opts: ApprovalStageOptions): Promise<StageOutcome> {
    const principal = ctx.principal!;
    const request = ctx.request!;
    // kubectl asks for a session over WebSocket (GET) and, refused, again over SPDY (POST): one request, so one
    // approval covers either, and the retry's WebSocket attempt is the one let through. `:` is in no HTTP method,
    // so no plain request shares the grant.
    const method = ctx.upgrade ? 'upgrade:' : (ctx.req.method ?? 'GET');
    const fp = fingerprint(principal.subject, ctx.cluster ?? '', method, ctx.req.url ?? '/', ctx.body);
    let approval = await approvals.findOpen(principal.subject, fp);
    if (approval?.state === 'approved') {
      const spent = await approvals.spend(approval.id);
      if (spent) {
        ctx.approval = { approval: spent, viaGrant: true };
        return CONTINUE;
      }
      approval = undefined;
    }
    if (approval === undefined) {
      const requirements = approvals.requirements(decision.review);
      const reason = reasonOf(ctx) ?? (await approvals.declaredReason(principal.subject)) ?? null;
      if (requirements.requireReason && reason === null) {
        return stop(
          new GatehouseError(
            'GH_APPROVAL_REASON_REQUIRED',
            `policy rule "${decision.rule}" needs a person's approval for this request, and approvers must know why: run \`gatehouse reason "<why you need this>"\` (or send the header "Gatehouse-Reason: <why>"), then repeat the request.`,
          ),
        );
      }
      const preview = await previewOf(ctx, opts.resolveObject, opts.masker);
      approval = await approvals.create({
        requestId: ctx.id,
        fingerprint: fp,
        requester: requesterOf(principal),
        request: targetOf(ctx, request, request.name || objectName(preview.object)),
        summary: summarize(request, objectName(preview.object)),
        rule: decision.rule ?? '(default action)',
        message: preview.problem ? `${decision.message} (${preview.problem})` : decision.message,
        reasons: [...decision.matched],
        reason,
        object: preview.object,
        diff: preview.diff,
        requirements,
      });
    }

    const gone = clientGone(ctx);
    const signal = opts.stopHolding ? AbortSignal.any([gone.signal, opts.stopHolding]) : gone.signal;
    const settled = await approvals.waitForDecision(approval.id, opts.holdMs, signal).finally(gone.release);
    ctx.approval = { approval: settled, viaGrant: false };
    switch (settled.state) {
      case 'approved': {
        const spent = await approvals.spend(settled.id);
        if (spent) {
          ctx.approval = { approval: spent, viaGrant: false };
          return CONTINUE;
        }
        // Another copy of the same request spent the grant first.
        return stop(pending(settled, decision, approvals, 'was approved, but its grant was already used by an identical request; retry to ask again'));
      }
      case 'denied':
        return stop(denied(settled, decision));
      case 'expired':
        return stop(
          new GatehouseError(
            'GH_APPROVAL_EXPIRED',
            `approval ${settled.id} for this request (policy rule "${decision.rule}") expired before enough approvers decided. Retry the same command to ask again.`,
          ),
        );
      case 'pending':
        // The approval lives in the store, so the retry (to this or another replica) finds it, or its grant.
        if (opts.stopHolding?.aborted) return stop(pending(settled, decision, approvals, 'is waiting for a person, and this gateway is restarting', RETRY_SECONDS));
        return stop(pending(settled, decision, approvals, 'is waiting for a person'));
    }
  }
}

function pending(a: Approval, decision: Decision, approvals: Approvals, status: string, retryAfterSeconds?: number): GatehouseError {
  const r = a.requirements;
  const approved = a.decisions.filter((d) => d.decision === 'approve').length;
  const who = r.approverGroups.map((g) => `"${g}"`).join(', ');
  const uses = r.grantUses === 1 ? 'once' : `${r.grantUses} times`;
  return new GatehouseError(
    'GH_APPROVAL_PENDING',
    `needs approval: policy rule "${decision.rule}": ${sentence(decision.message)} Approval ${a.id} ${status} (members of ${who}; ${approved} of ${r.quorum} approvals so far). ` +
      `Approve it at ${approvals.approvalUrl(a.id)}, then retry the same command: once approved, this identical request is let through ${uses} within ${minutes(r.grantTtlMs)}. ` +
      `Do not change the request; a different one needs its own approval.`,
    { causes: [{ reason: 'GatehouseApproval', message: a.id, field: 'approval' }], ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}) },
  );
}

function denied(a: Approval, decision: Decision): GatehouseError {
  const d = a.decisions.find((x) => x.decision === 'deny');
  return new GatehouseError(
    'GH_APPROVAL_DENIED',
    `denied by ${d?.by ?? 'an approver'} (approval ${a.id}${d?.comment ? `): "${d.comment}"` : ')'}. The request needed approval under policy rule "${decision.rule}": ${sentence(decision.message)} Do not retry it unchanged.`,
    { causes: [{ reason: 'GatehouseApproval', message: a.id, field: 'approval' }] },
  );
}

/** The reason in the request's header, as {@link normalizeReason} keeps it. */
function reasonOf(ctx: RequestContext): string | null {
  const raw = ctx.req.headers[REASON_HEADER];
  return normalizeReason(Array.isArray(raw) ? raw.join(' ') : (raw ?? ''));
}


/** Aborts when the client goes away, so a held request stops waiting for nobody; `release` unhooks it (keep-alive connections serve many requests). */
function clientGone(ctx: RequestContext): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const socket = clientSideOf(ctx.req);
  const abort = (): void => controller.abort();
  if (socket.destroyed) abort();
  else socket.once('close', abort);
  return { signal: controller.signal, release: () => socket.off('close', abort) };
}

function minutes(ms: number): string {
  const m = Math.round(ms / 60_000);
  return m >= 120 && m % 60 === 0 ? `${m / 60} hours` : m === 1 ? '1 minute' : `${m} minutes`;
}

