import type { Logger } from 'pino';
import type { WebhookConfig } from './config.js';
import type { Approval } from './types.js';

export type ApprovalEventType = 'created' | 'decided' | 'expired';

/** The documented JSON payload (docs/approvals.md). */
export interface ApprovalNotification {
  type: `approval.${ApprovalEventType}`;
  /** Where to decide it. */
  url: string;
  approval: Approval;
}

const ATTEMPTS = 3;
const TIMEOUT_MS = 5_000;

/**
 * Sends approval changes to the configured webhooks, in the background: a
 * slow or failing receiver is retried with backoff and logged, and never
 * holds up a request or a decision.
 */
export function createNotifier(webhooks: readonly WebhookConfig[], approvalUrl: (id: string) => string, log: Logger): (type: ApprovalEventType, approval: Approval) => void {
  return (type, approval) => {
    for (const hook of webhooks) {
      if (!hook.events.includes(type)) continue;
      const payload = { type: `approval.${type}` as const, url: approvalUrl(approval.id), approval };
      const body = JSON.stringify(hook.format === 'slack' ? slackMessage(payload) : payload);
      void deliver(hook, body).catch((err: unknown) => log.warn({ err, webhook: redact(hook.url), approval: approval.id }, 'approval notification failed'));
    }
  };
}

async function deliver(hook: WebhookConfig, body: string): Promise<void> {
  let last: unknown;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
    try {
      const res = await fetch(hook.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'gatehouse-approvals', ...hook.headers },
        body,
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      await res.arrayBuffer();
      if (res.ok) return;
      last = new Error(`the receiver answered ${res.status}`);
      // A client error will not change on retry.
      if (res.status >= 400 && res.status < 500 && res.status !== 429) break;
    } catch (err) {
      last = err;
    }
  }
  throw last instanceof Error ? last : new Error(String(last));
}

/** A Slack incoming-webhook message: plain text (the fallback) and one section with the link. */
export function slackMessage(n: ApprovalNotification): { text: string; blocks: unknown[] } {
  const a = n.approval;
  const who = a.requester.sponsor ? `${a.requester.subject} (${a.requester.kind}, sponsored by ${a.requester.sponsor})` : `${a.requester.subject} (${a.requester.kind})`;
  const head =
    n.type === 'approval.created'
      ? `Approval needed: ${who} wants to ${a.summary}`
      : n.type === 'approval.expired'
        ? `Approval expired: ${a.summary} by ${who}`
        : `Approval ${a.state}: ${a.summary} by ${who}${lastComment(a)}`;
  const detail = `rule ${a.rule}: ${a.message}${a.reason ? `\nreason: ${a.reason}` : ''}`;
  return {
    text: `${head} — ${n.url}`,
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `*${escape(head)}*\n${escape(detail)}\n<${n.url}|Open in Gatehouse>` } }],
  };
}

function lastComment(a: Approval): string {
  const d = a.decisions.at(-1);
  return d ? ` by ${d.by}${d.comment ? `: "${d.comment}"` : ''}` : '';
}

/** Slack's mrkdwn treats these three as markup. */
function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname.length > 1 ? '/…' : ''}`;
  } catch {
    return '(invalid URL)';
  }
}
