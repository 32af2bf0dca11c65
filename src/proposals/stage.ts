/**
 * The proposal stage: runs after policy and budgets, before approvals. A
 * write whose decision is `propose` is validated by the API server with a
 * server-side dry-run and stored as a proposal; the client gets a 403
 * Status (GH_PROPOSED) naming the proposal, what would change and where a
 * person reviews it. An API server refusal of the dry-run is returned as is
 * and nothing is stored. The identical write while the proposal is pending
 * answers with the same proposal.
 *
 * The one other request it acts on is a person applying a proposal (see
 * ./apply.ts): it must be the stored write, and the live object must not
 * have changed in a way that changes the reviewed diff (else 409,
 * GH_PROPOSAL_STALE); then it goes on, whatever policy said about proposing.
 *
 * @module
 */

import type { KubeRequest } from '../classify/kube-request.js';
import { fingerprint, summarize } from '../approvals/fingerprint.js';
import { diffOf, masked } from '../approvals/preview.js';
import { requesterOf, targetOf } from '../approvals/subject.js';
import { GatehouseError } from '../errors/codes.js';
import { sentence } from '../errors/sentence.js';
import { objectName } from '../kube/object.js';
import type { Masker } from '../masking/index.js';
import { CONTINUE, stop } from '../pipeline/context.js';
import type { RequestContext, Stage, StageOutcome } from '../pipeline/context.js';
import type { Decision } from '../policy/engine.js';
import type { ReviewSpec } from '../policy/model.js';
import type { ResolvedObjects } from '../policy/stage.js';
import type { Applications } from './apply.js';
import type { Proposals } from './service.js';
import type { Proposal } from './types.js';

export interface ProposalStageOptions {
  proposals: Proposals;
  applications: Applications;
  /** The server-side dry-run (src/upstream/dry-run.ts): the object a write would store and the live one. */
  resolveObject: (ctx: RequestContext) => Promise<ResolvedObjects>;
  masker: Masker;
  /** Who may apply a rule's proposals when its `review` names nobody (approvals.approverGroups / sponsorMayApprove). */
  defaults: { approverGroups: string[]; sponsorMayApprove: boolean };
}

const RESOURCE_WRITES: ReadonlySet<string> = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);
const UNPROPOSABLE_SUBRESOURCES: ReadonlySet<string> = new Set(['exec', 'attach', 'portforward', 'proxy']);
const RETRY_SECONDS = 5;

/**
 * @example
 * const propose = createProposalStage({ proposals, applications, resolveObject, masker, defaults: { approverGroups: ['gatehouse:approvers'], sponsorMayApprove: false } });
 * const pipeline = createPipeline([identity, route, classify, policy, budget, propose, approval], terminal, responder, log);
 */
export function createProposalStage(options: ProposalStageOptions): Stage {
  return {
    name: 'propose',
    async run(ctx) {
      const applying = options.applications.claim(ctx.principal);
      const decision = ctx.decision;
      if (applying === undefined && decision?.action !== 'propose') return CONTINUE;
      try {
        if (applying !== undefined) return await apply(ctx, applying, options);
        return await propose(ctx, decision!, options);
      } catch (err) {
        if (err instanceof GatehouseError) return stop(err);
        return stop(
          new GatehouseError('GH_PROPOSAL_FAILED', `this write is in propose-only mode and the gateway could not store or read its proposal (${(err as Error).message}); nothing was changed. Retry shortly.`, {
            cause: err,
            retryAfterSeconds: RETRY_SECONDS,
          }),
        );
      }
    },
  };
}

async function propose(ctx: RequestContext, decision: Decision, options: ProposalStageOptions): Promise<StageOutcome> {
  const request = ctx.request!;
  const principal = ctx.principal!;
  const unsupported = unproposable(ctx, request);
  if (unsupported !== undefined) {
    return stop(
      new GatehouseError(
        'GH_PROPOSAL_UNSUPPORTED',
        `policy rule "${decision.rule}" puts this write in propose-only mode (${sentence(decision.message)}), and ${unsupported} cannot be proposed for a person to apply later, so it was refused. Do not retry it; ask a person with access to do it.`,
        { causes: [{ reason: 'GatehousePolicyRule', message: decision.rule ?? '', field: 'rule' }] },
      ),
    );
  }
  // A dry-run changes nothing: it goes on (kubectl apply --dry-run=server works in propose-only mode).
  if (isDryRun(request)) return CONTINUE;

  const cluster = ctx.cluster ?? request.cluster ?? '';
  const fp = fingerprint(principal.subject, ctx.cluster ?? '', ctx.req.method ?? 'POST', ctx.req.url ?? '/', ctx.body);
  const existing = await options.proposals.findPending(cluster, principal.subject, fp);
  if (existing !== undefined) {
    ctx.proposal = { id: existing.id, action: 'proposed' };
    return stop(proposed(existing, decision, options, true));
  }

  // The API server's refusal (invalid object, RBAC, admission) is the answer: thrown as GH_DRY_RUN_REFUSED.
  const resolved = await options.resolveObject(ctx);
  const { object, diff } = effect(request, resolved, options.masker);
  const name = request.name || objectName(resolved.object) || objectName(request.object);
  const summary = summarize(request, name);
  const review: ReviewSpec | undefined = decision.review;
  const proposal = await options.proposals.create({
    cluster,
    requestId: ctx.id,
    fingerprint: fp,
    requester: requesterOf(principal),
    request: {
      ...targetOf(ctx, request, name),
      method: ctx.req.method ?? 'POST',
      contentType: headerOf(ctx, 'content-type'),
      body: (ctx.body ?? Buffer.alloc(0)).toString('base64'),
    },
    summary,
    change: changeLine(request.verb, summary, diff),
    rule: decision.rule ?? '(default action)',
    message: decision.message,
    object,
    baseResourceVersion: resourceVersionOf(resolved.oldObject),
    diff,
    approverGroups: review?.approverGroups ?? options.defaults.approverGroups,
    sponsorMayApprove: review?.sponsorMayApprove ?? options.defaults.sponsorMayApprove,
  });
  ctx.proposal = { id: proposal.id, action: 'proposed' };
  return stop(proposed(proposal, decision, options, false));
}

async function apply(ctx: RequestContext, id: string, options: ProposalStageOptions): Promise<StageOutcome> {
  ctx.proposal = { id, action: 'applied' };
  const request = ctx.request!;
  const p = await options.proposals.get(id);
  const fp = p && fingerprint(p.requester.subject, p.cluster, ctx.req.method ?? 'POST', ctx.req.url ?? '/', ctx.body);
  if (p === undefined || p.state !== 'pending' || fp !== p.fingerprint || (ctx.cluster ?? '') !== p.cluster) {
    return stop(new GatehouseError('GH_PROPOSAL_STALE', `this request does not apply pending proposal ${id} as it was stored; nothing was changed.`));
  }
  if (request.verb === 'deletecollection') return CONTINUE;
  const resolved = await options.resolveObject(ctx);
  const live = resourceVersionOf(resolved.oldObject);
  if (live !== p.baseResourceVersion && effect(request, resolved, options.masker).diff !== p.diff) {
    return stop(
      new GatehouseError(
        'GH_PROPOSAL_STALE',
        `${p.summary}: the live object changed since proposal ${id} was made (resourceVersion ${p.baseResourceVersion ?? 'none'} then, ${live ?? 'none'} now), and the change it would make now differs from the one reviewed. Nothing was applied; reject the proposal and ask for a new one.`,
        { causes: [{ reason: 'GatehouseProposal', message: id, field: 'proposal' }] },
      ),
    );
  }
  return CONTINUE;
}

/** The masked object a write would store, and the diff against the live one (a create: all added; a delete: all removed). */
function effect(request: KubeRequest, resolved: ResolvedObjects, masker: Masker): { object: unknown; diff: string | null } {
  const deleting = request.verb === 'delete' || request.verb === 'deletecollection';
  const object = request.verb === 'delete' ? null : masked(resolved.object, masker);
  const before = request.verb === 'create' || resolved.oldObject === null ? null : masked(resolved.oldObject, masker);
  return { object, diff: request.verb === 'deletecollection' ? null : diffOf(before, deleting ? null : object) };
}

function proposed(p: Proposal, decision: Decision, options: ProposalStageOptions, again: boolean): GatehouseError {
  const rule = decision.rule === undefined ? '' : ` (policy rule "${decision.rule}": ${sentence(decision.message).replace(/\.$/, '')})`;
  return new GatehouseError(
    'GH_PROPOSED',
    `proposed, not applied: this write is in propose-only mode${rule}. ` +
      `${again ? `It is already pending as proposal ${p.id}` : `The API server validated it with a dry-run and it was stored as proposal ${p.id}`}; nothing in the cluster was changed. ` +
      `It ${p.change}. A person will review it at ${options.proposals.proposalUrl(p.id)} and apply or reject it. Do not retry: the same write only finds the same proposal.`,
    { causes: [{ reason: 'GatehouseProposal', message: p.id, field: 'proposal' }] },
  );
}

/** One line: "would create deployments.apps web in namespace dev (34 lines)", "would patch …: 1 line changed, first: image: nginx:1.27". */
export function changeLine(verb: string, summary: string, diff: string | null): string {
  if (diff === null) return verb === 'update' || verb === 'patch' ? `would ${summary}, which changes nothing in the live object` : `would ${summary}`;
  const lines = diff.split('\n').slice(2);
  const added = lines.filter((l) => l.startsWith('+'));
  const removed = lines.filter((l) => l.startsWith('-'));
  if (verb === 'create') return `would ${summary} (${added.length} lines of YAML)`;
  if (verb === 'delete') return `would ${summary}`;
  // kubectl's last-applied annotation changes with every client-side apply; the first other change says more.
  const telling = (l: string): boolean => !/^[+-]\s*(kubectl\.kubernetes\.io\/last-applied-configuration:|\{")/.test(l);
  const first = (added.find(telling) ?? removed.find(telling) ?? added[0] ?? removed[0])?.slice(1).trim();
  return `would ${summary}: ${added.length} line(s) added, ${removed.length} removed${first ? `, first: "${first.slice(0, 120)}"` : ''}`;
}

/** Why this write cannot be a proposal, or undefined when it can. */
function unproposable(ctx: RequestContext, request: KubeRequest): string | undefined {
  if (ctx.upgrade || UNPROPOSABLE_SUBRESOURCES.has(request.subresource)) return `an interactive or proxied request (${request.subresource || 'upgrade'})`;
  if (!request.isResourceRequest) return `a non-resource write (${request.path})`;
  if (!RESOURCE_WRITES.has(request.verb)) return `a ${request.verb} request`;
  return undefined;
}

function isDryRun(request: KubeRequest): boolean {
  return new URLSearchParams(request.query).getAll('dryRun').some((v) => v !== '');
}

function resourceVersionOf(value: unknown): string | null {
  const meta = (value as { metadata?: { resourceVersion?: unknown } } | null | undefined)?.metadata;
  return typeof meta?.resourceVersion === 'string' ? meta.resourceVersion : null;
}

function headerOf(ctx: RequestContext, name: string): string | null {
  const v = ctx.req.headers[name];
  return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
}
