import { z } from 'zod';
import { durationText } from '../config/duration.js';

const webhookSchema = z
  .object({
    url: z.url({ protocol: /^https?$/ }),
    /** `json`: the documented Gatehouse payload; `slack`: a Slack-compatible incoming-webhook message. */
    format: z.enum(['json', 'slack']).default('json'),
    /** Extra headers, e.g. an Authorization the receiver checks. */
    headers: z.record(z.string(), z.string()).default({}),
    /** Which changes are sent. */
    events: z.array(z.enum(['created', 'decided', 'expired'])).min(1).default(['created', 'decided', 'expired']),
  })
  .strict();
export type WebhookConfig = z.infer<typeof webhookSchema>;

/** `approvals` in gatehouse.yaml: how `review` decisions are held and decided (docs/approvals.md). */
export const approvalsConfigSchema = z
  .object({
    /** Off: a `review` decision is refused at once (GH_APPROVAL_UNAVAILABLE), as before approvals existed. */
    enabled: z.boolean().default(true),
    /** How long a request waits at the gateway for a decision before the client is told to retry. */
    holdSeconds: z.number().int().min(0).max(600).default(60),
    /** Where people approve, for the messages clients get; default: the gateway's own URL + /ui. */
    consoleUrl: z.url().optional(),
    /** Groups that may approve requests of rules that name none. */
    approverGroups: z.array(z.string().min(1)).default(['gatehouse:approvers']),
    /** Defaults for rules' `review` settings. */
    quorum: z.number().int().min(1).max(10).default(1),
    requireReason: z.boolean().default(false),
    /** Whether the human sponsoring an agent or CI token may approve that token's requests (they often sit with the agent). */
    sponsorMayApprove: z.boolean().default(false),
    expiresIn: durationText.default('1h'),
    grantTtl: durationText.default('15m'),
    grantUses: z.number().int().min(1).max(1000).default(1),
    notify: z.object({ webhooks: z.array(webhookSchema).default([]) }).strict().default({ webhooks: [] }),
  })
  .strict();
export type ApprovalsConfig = z.infer<typeof approvalsConfigSchema>;
