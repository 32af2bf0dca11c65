/**
 * Approvals: list, read, approve, deny, all through the injected
 * {@link ApprovalService}. Each approval is answered with whether the caller
 * may decide it now (for the console's buttons).
 *
 * @module
 */

import { z } from 'zod';
import type { Approval, ApprovalService, DecideRefusal } from '../approvals/types.js';
import { ConsoleError } from './errors.js';
import type { ConsoleErrorCode } from './errors.js';
import { parseQuery, readJson } from './http.js';
import type { Caller } from './roles.js';
import { reply, route } from './router.js';
import type { CallerContext, Route } from './router.js';

/** An approval as the console shows it to one caller. */
export type ApprovalView = Approval & { canDecide: boolean; cannotDecideReason: string | null };

const REFUSAL_CODES: Readonly<Record<DecideRefusal['code'], ConsoleErrorCode>> = {
  'not-found': 'not-found',
  forbidden: 'forbidden',
  conflict: 'conflict',
  invalid: 'bad-request',
};

const listQuery = z
  .object({
    state: z.enum(['pending', 'approved', 'denied', 'expired']).optional(),
    requester: z.string().min(1).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();

const approveBody = z.object({ comment: z.string().trim().max(2000).optional() }).strict();
const denyBody = z.object({ comment: z.string().trim().min(1, 'a denial needs a comment saying why').max(2000) }).strict();

/** Who may see approvals. */
const READERS = ['approver', 'auditor', 'admin'] as const;
/** Who may decide them (the service then applies the rule's approver groups and "not your own request"). */
const DECIDERS = ['approver', 'admin'] as const;

export function approvalView(service: ApprovalService, approval: Approval, caller: Caller): ApprovalView {
  const refusal = caller.roles.has('approver') ? service.canDecide(approval, { subject: caller.subject, groups: caller.groups }) : { code: 'forbidden', message: 'you are not an approver' };
  return { ...approval, canDecide: refusal === undefined, cannotDecideReason: refusal?.message ?? null };
}

/**
 * @example
 * const routes = approvalRoutes(service);
 */
export function approvalRoutes(service: ApprovalService): Route[] {
  const decide = (decision: 'approve' | 'deny', body: z.ZodType<{ comment?: string | undefined }>) => async (ctx: CallerContext) => {
    const { comment } = await readJson(ctx.req, body);
    const result = await service.decide(ctx.params['id']!, { subject: ctx.caller.subject, groups: ctx.caller.groups }, decision, comment || null);
    if ('code' in result) throw new ConsoleError(REFUSAL_CODES[result.code], result.message);
    return reply(200, approvalView(service, result, ctx.caller));
  };

  return [
    route('GET', '/gatehouse/v1/approvals', READERS, async (ctx) => {
      const filter = parseQuery(listQuery, ctx.url.searchParams);
      const approvals = await service.list(filter);
      return reply(200, { items: approvals.map((a) => approvalView(service, a, ctx.caller)) });
    }),
    route('GET', '/gatehouse/v1/approvals/:id', READERS, async (ctx) => {
      const approval = await service.get(ctx.params['id']!);
      if (approval === undefined) throw new ConsoleError('not-found', `no approval has the id ${JSON.stringify(ctx.params['id'])}`);
      return reply(200, approvalView(service, approval, ctx.caller));
    }),
    route('POST', '/gatehouse/v1/approvals/:id/approve', DECIDERS, decide('approve', approveBody)),
    route('POST', '/gatehouse/v1/approvals/:id/deny', DECIDERS, decide('deny', denyBody)),
  ];
}
