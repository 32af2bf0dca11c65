/** The header a requester (an agent, the MCP server, a program) states its reason in. */
export const REASON_HEADER = 'gatehouse-reason';

const MAX_REASON = 500;

/** A requester's reason as approvers see it: one line, trimmed, at most 500 characters; null when empty. */
export function normalizeReason(text: string): string | null {
  const line = text.replace(/\s+/g, ' ').trim();
  return line === '' ? null : line.slice(0, MAX_REASON);
}
