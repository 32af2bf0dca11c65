import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Transform } from 'node:stream';
import { createLineMaskStream, createWatchMaskStream } from '../masking/index.js';
import type { Masker, MaskReport } from '../masking/index.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Decision } from '../policy/engine.js';

/** How the response of a request that policy said to mask is rewritten. */
export type MaskPlan =
  /**
   * A JSON object, list or Table, masked by the body masker item by item as
   * it arrives; its output is held while it fits `inMemoryBytes` (the answer
   * is then sent with its length, and a failure is a clean Status), else
   * streamed (a failure then cuts the answer short).
   */
  | { kind: 'document'; inMemoryBytes: number }
  /** A stream of JSON watch events, masked event by event. */
  | { kind: 'stream'; transform: Transform & { report(): MaskReport } };

// Most single objects and small lists fit. Not more: what is held is late for the client and adds to the gateway's
// memory, and a larger answer that fails is still never forwarded unmasked (it is cut short).
const IN_MEMORY_DOCUMENT_BYTES = 64 * 1024;

/**
 * True when the API server's answer to a request this decision lets through
 * goes through the masker: the decision is `mask`; or a read of the object a
 * write answers with would not be allowed as it is (`readBack` is set); or it is a
 * review or proposal a person let through and a mask rule matched too
 * (approving a request is not approving the values policy masks).
 */
export function masksAnswer(decision: Decision | undefined): boolean {
  if (decision === undefined) return false;
  if (decision.action === 'mask') return true;
  if (decision.readBack !== undefined) return true;
  return (decision.action === 'review' || decision.action === 'propose') && decision.matched.some((m) => m.action === 'mask');
}

/**
 * Asks the upstream for a representation the gateway can mask: JSON (or a
 * JSON Table), never protobuf, and without compression. Client-go accepts
 * JSON wherever it asked for protobuf, so clients keep working.
 */
export function requestHeadersForMasking(headers: OutgoingHttpHeaders): void {
  delete headers['accept-encoding'];
  const accept = headers.accept;
  const offered = (Array.isArray(accept) ? accept.join(',') : String(accept ?? ''))
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '' && !t.includes('protobuf') && !t.includes('cbor'));
  headers.accept = offered.length > 0 ? offered.join(',') : 'application/json';
}

/** Chooses how to mask one response, from the request and the response headers. */
export function maskPlanFor(ctx: RequestContext, responseHeaders: IncomingHttpHeaders, masker: Masker): MaskPlan | 'refuse' {
  const type = (responseHeaders['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (responseHeaders['content-encoding'] && responseHeaders['content-encoding'] !== 'identity') return 'refuse';
  if (ctx.request?.verb === 'watch') return type.includes('json') ? { kind: 'stream', transform: createWatchMaskStream(masker) } : 'refuse';
  if (type === 'text/plain' || ctx.request?.subresource === 'log') return { kind: 'stream', transform: createLineMaskStream(masker) };
  if (type.includes('json')) return { kind: 'document', inMemoryBytes: IN_MEMORY_DOCUMENT_BYTES };
  return 'refuse';
}
