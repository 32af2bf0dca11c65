import type { IncomingHttpHeaders } from 'node:http';
import type { Readable, Writable } from 'node:stream';
import { isStreamingUrl } from '../kube/streaming-url.js';

/**
 * The answer of an upstream request, whichever protocol carried it: the
 * body is the stream itself. Emits `aborted` when the API server or the
 * connection went away mid-answer. An HTTP/1.1 `IncomingMessage` is one.
 */
export interface UpstreamResponse extends Readable {
  readonly statusCode?: number;
  readonly statusMessage?: string;
  readonly headers: IncomingHttpHeaders;
}

/**
 * One request to the upstream, whichever protocol carries it: the request
 * body is written to it, `response` is emitted with an {@link UpstreamResponse},
 * `error` when the request could not be completed, and `destroy()` abandons
 * it (an HTTP/2 stream is cancelled, an HTTP/1.1 connection closed). An
 * HTTP/1.1 `ClientRequest` is one.
 */
export type UpstreamRequest = Writable;

/** Whether a request is expected to stay open for long: a watch, or `logs -f`. */
export function isLongLived(method: string, path: string): boolean {
  return method === 'GET' && isStreamingUrl(path);
}
