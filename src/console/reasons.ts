/**
 * A requester's declared reason: what it is working on, shown to approvers
 * of its held requests. kubectl cannot send the Gatehouse-Reason header, so
 * `gatehouse reason "…"` (or an agent) declares it here for a while instead.
 *
 * @module
 */

import { z } from 'zod';
import { normalizeReason } from '../approvals/reason.js';
import type { ApprovalService } from '../approvals/types.js';
import { durationMs } from '../config/duration.js';
import { readJson } from './http.js';
import { reply, route } from './router.js';
import type { Route } from './router.js';

const MAX_TTL_SECONDS = 24 * 3600;

const reasonBody = z
  .object({
    /** One line; empty or null clears the declared reason. */
    reason: z.string().max(2000).nullable(),
    /** How long it holds, e.g. 30m (default 1h, at most 24h). */
    ttl: z.string().default('1h').pipe(durationMs(MAX_TTL_SECONDS)),
  })
  .strict();

/** Any signed-in caller declares its own reason (never someone else's). */
export function reasonRoutes(service: ApprovalService): Route[] {
  return [
    route('POST', '/gatehouse/v1/reason', 'signed-in', async ({ req, caller }) => {
      const body = await readJson(req, reasonBody);
      const reason = normalizeReason(body.reason ?? '');
      await service.declareReason(caller.subject, reason, body.ttl);
      return reply(200, { subject: caller.subject, reason, expiresAt: reason === null ? null : new Date(Date.now() + body.ttl).toISOString() });
    }),
  ];
}
