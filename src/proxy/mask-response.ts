import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Transform } from 'node:stream';
import { createLineMaskStream, createWatchMaskStream } from '../masking/index.js';
import type { Masker, MaskReport } from '../masking/index.js';
import type { RequestContext } from '../pipeline/context.js';

/** How the response of a request that policy said to mask is rewritten. */
export type MaskPlan =
  /**
   * A JSON object, list or Table: masked whole when it ends within
   * `inMemoryBytes` (a failure is then a clean Status), else streamed through
   * the body masker item by item (a failure then cuts the answer short).
   */
  | { kind: 'document'; inMemoryBytes: number }
  /** A stream of JSON watch events, masked event by event. */
  | { kind: 'stream'; transform: Transform & { report(): MaskReport } };

// Most single objects and small lists fit; a LIST of thousands of Secrets streams.
const IN_MEMORY_DOCUMENT_BYTES = 1024 * 1024;

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

/** Masks a complete JSON response body; a body that is not JSON is refused rather than passed unmasked. */
export function maskDocument(body: Buffer, masker: Masker): { body: Buffer; report: MaskReport } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  const { value, report } = masker.maskValue(parsed);
  // Nothing masked: the API server's own bytes (its trailing newline, its \u003c escapes), not a re-serialisation.
  return { body: value === parsed ? body : Buffer.from(JSON.stringify(value)), report };
}
