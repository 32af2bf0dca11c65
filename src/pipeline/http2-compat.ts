/**
 * The main listener speaks HTTP/2 and HTTP/1.1 (src/gateway.ts). Node's
 * HTTP/2 compatibility objects stand in for IncomingMessage and
 * ServerResponse in every handler; they differ where the protocol does:
 *
 * - request headers include the pseudo-headers (`:method`, `:path`,
 *   `:authority`, `:scheme`), which are not headers to copy anywhere;
 * - a response must not carry connection-specific headers (`connection`,
 *   `keep-alive`, `transfer-encoding`, `upgrade`) or a reason phrase;
 * - "close the connection after this" is a GOAWAY to the session, which lets
 *   the other streams on it finish.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Duplex } from 'node:stream';

/** `:method`, `:path`, `:authority`, `:scheme` (and `:protocol`) of an HTTP/2 request. */
export function isPseudoHeader(name: string): boolean {
  return name.charCodeAt(0) === 0x3a;
}

export function isHttp2(req: IncomingMessage): boolean {
  return req.httpVersionMajor === 2;
}

/**
 * Asks the client to take its next request elsewhere once this response is
 * done: `Connection: close` on HTTP/1.1, GOAWAY on the HTTP/2 connection.
 */
export function closeAfter(res: ServerResponse): void {
  if (!isHttp2(res.req)) {
    if (!res.headersSent) res.setHeader('connection', 'close');
    return;
  }
  const session = (res as unknown as Http2ServerResponse).stream.session;
  if (session && !session.closed) session.close();
}

/** What closes when the client goes away: the connection on HTTP/1.1, the request's stream on HTTP/2. */
export function clientSideOf(req: IncomingMessage): Duplex {
  return isHttp2(req) ? (req as unknown as Http2ServerRequest).stream : req.socket;
}

/**
 * Whether the request has no body: on HTTP/1.1 neither Transfer-Encoding nor
 * a Content-Length above 0 (RFC 9112: the body then has no bytes), on HTTP/2
 * a HEADERS frame that ended the stream. Both are known once the headers are
 * (`complete` is not: Node sets it after the request handler returns, and an
 * HTTP/2 request only once read to its end).
 */
export function bodyless(req: IncomingMessage): boolean {
  if (isHttp2(req)) return (req as unknown as Http2ServerRequest).stream.endAfterHeaders;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] === undefined && (length === undefined || Number(length) === 0);
}
