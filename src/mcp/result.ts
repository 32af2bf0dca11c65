/**
 * Tool results as the model sees them: text, cut at a bound with a marker
 * that says how to see the rest, and errors marked `isError` with the
 * gateway's or API server's message verbatim.
 *
 * @module
 */

import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { KubeCallError } from './gateway-client.js';

/** The model's arguments cannot work (unknown resource, invalid manifest, …); the message says why and what to do. */
export class ToolInputError extends Error {
  override name = 'ToolInputError';
}

/**
 * Cuts text to `max` characters with a marker saying how much was left out.
 *
 * @example
 * truncate('abcdef', 3); // 'abc\n… [truncated: showed 3 of 6 characters; …]'
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}\n… [truncated: showed ${max} of ${text.length} characters; narrow the request (a label or field selector, a limit, fewer log lines) to see the rest]`;
}

export function textResult(text: string, maxChars: number): CallToolResult {
  return { content: [{ type: 'text', text: truncate(text, maxChars) }] };
}

export function errorResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

/**
 * What a failed tool call tells the model. A refusal keeps the Status
 * message verbatim; one waiting for approval also says how to wait for it.
 *
 * @example
 * return errorResult(failureText(err));
 */
export function failureText(err: unknown): string {
  if (err instanceof KubeCallError) {
    if (err.code === 'GH_APPROVAL_PENDING' && err.approvalId !== undefined) {
      return (
        `${err.message}\n\nThis action has not happened yet: it is waiting for a person to approve it (approval ${err.approvalId}). ` +
        `Call wait_for_approval with approval_id "${err.approvalId}" to wait for the decision; it sends the identical request again and reports the outcome.`
      );
    }
    return err.message;
  }
  if (err instanceof ToolInputError) return err.message;
  return `the tool failed: ${err instanceof Error ? err.message : String(err)}`;
}
