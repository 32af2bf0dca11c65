/**
 * wait_for_approval: a request the gateway held for review is remembered by
 * its approval id; this tool sends the identical request again (same method,
 * path and body, so the gateway's grant applies) until a person has decided
 * or the bound passes. Retrying while pending joins the same approval.
 *
 * @module
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { KubeCallError } from '../gateway-client.js';
import type { KubeResponse } from '../gateway-client.js';
import { errorResult, failureText } from '../result.js';
import { defineTool } from './tool.js';
import type { Tool } from './tool.js';

/** Requests waiting for approval in this MCP session, by approval id; oldest forgotten first. */
export interface HeldRequests {
  remember(approvalId: string, replay: () => Promise<KubeResponse>): void;
  take(approvalId: string): (() => Promise<KubeResponse>) | undefined;
  forget(approvalId: string): void;
}

export function createHeldRequests(max = 50): HeldRequests {
  const held = new Map<string, () => Promise<KubeResponse>>();
  return {
    remember(id, replay) {
      held.delete(id);
      held.set(id, replay);
      if (held.size > max) held.delete(held.keys().next().value!);
    },
    take: (id) => held.get(id),
    forget: (id) => void held.delete(id),
  };
}

const RETRY_MS = 3_000;

/** What went through, in a line: `Pod/priv created (HTTP 201)`. */
export function describeOutcome(res: KubeResponse): string {
  let object: { kind?: string; metadata?: { name?: string } } | undefined;
  try {
    object = JSON.parse(res.text) as typeof object;
  } catch {
    object = undefined;
  }
  const what = object?.kind && object.metadata?.name ? `${object.kind}/${object.metadata.name}` : 'the request';
  return `Approved: ${what} went through (HTTP ${res.status}${res.status === 201 ? ', created' : ''}).`;
}

/**
 * @example
 * const tools = [...readTools, waitForApproval(held)];
 */
export function waitForApproval(held: HeldRequests): Tool {
  return defineTool({
    name: 'wait_for_approval',
    title: 'Wait for an approval',
    description:
      'After a tool answered that an action needs approval (approval id "apr_…"), wait for a person to decide: this sends the identical request again until it is approved (then the action happens and you get its result), denied (you get the approver\'s reason), or the timeout passes (call it again to keep waiting). Do not change the request in between.',
    input: z
      .object({
        approval_id: z.string().regex(/^apr_[\w-]+$/, 'an approval id looks like apr_…').describe('The approval id from the earlier answer.'),
        timeoutSeconds: z.number().int().min(1).max(300).default(60).describe('Wait at most about this long.'),
      })
      .strict(),
    write: false,
    async run(args, ctx) {
      const replay = held.take(args.approval_id);
      if (replay === undefined) {
        return errorResult(
          `no request of this session is waiting on approval ${args.approval_id}. It may have been made in another session, or already completed; repeat the original tool call with the same arguments instead.`,
        );
      }
      const deadline = Date.now() + args.timeoutSeconds * 1000;
      for (;;) {
        try {
          const res = await replay();
          held.forget(args.approval_id);
          return describeOutcome(res);
        } catch (err) {
          const stillPending = err instanceof KubeCallError && err.code === 'GH_APPROVAL_PENDING' && err.approvalId === args.approval_id;
          if (!stillPending) {
            held.forget(args.approval_id);
            return errorResult(failureText(err));
          }
          if (Date.now() + RETRY_MS > deadline) {
            return errorResult(`Still waiting: approval ${args.approval_id} has not been decided yet, so the action has not happened. Call wait_for_approval again to keep waiting.\n\n${err.message}`);
          }
        }
        await sleep(RETRY_MS, undefined, { signal: ctx.signal });
      }
    },
  });
}
