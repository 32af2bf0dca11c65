import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { WEBSOCKET_BEARER_PREFIX } from '../identity/bearer.js';
import { bodyless, isPseudoHeader } from '../pipeline/http2-compat.js';

// Hop-by-hop headers (RFC 9110 §7.6.1) plus everything that carries the
// client's identity: the upstream only ever sees the gateway's credential.
const DROPPED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'authorization',
  'cookie',
  // The requester's reason for an approval is for approvers, not the API server.
  'gatehouse-reason',
]);

function dropped(name: string): boolean {
  return (
    DROPPED.has(name) ||
    // An HTTP/2 request's :method, :path, :authority, :scheme: the upstream request has its own.
    isPseudoHeader(name) ||
    // Impersonate-User/Group/Uid/Extra-*: a client must never borrow the gateway's right to impersonate.
    name.startsWith('impersonate-') ||
    // Front-proxy identity headers: only honoured from a front-proxy cert, but never forward them either.
    name.startsWith('x-remote-')
  );
}

/**
 * Copies the client's request headers for the upstream, removing hop-by-hop
 * headers (and those the client's `Connection` header names) and every header
 * that carries the client's identity. For upgrades the `Connection`/`Upgrade`
 * pair is restored and the WebSocket bearer subprotocol is removed.
 */
export function upstreamRequestHeaders(headers: IncomingHttpHeaders, upgrade: boolean): OutgoingHttpHeaders {
  const connectionNamed = listedInConnection(headers.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (dropped(name) || connectionNamed?.has(name)) continue;
    out[name] = headers[name];
  }
  if (upgrade) {
    out.connection = 'Upgrade';
    out.upgrade = headers.upgrade;
    const protocols = headers['sec-websocket-protocol'];
    if (protocols !== undefined) {
      const kept = protocols
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p && !p.startsWith(WEBSOCKET_BEARER_PREFIX));
      if (kept.length > 0) out['sec-websocket-protocol'] = kept.join(', ');
      else delete out['sec-websocket-protocol'];
    }
  }
  return out;
}

/**
 * Keeps the body `req` streams delimited on its way upstream: a body of
 * unknown length (chunked on HTTP/1.1, HTTP/2 without Content-Length) is
 * sent chunked. The client's `Transfer-Encoding` is hop-by-hop and dropped,
 * and Node's client frames the body of a GET, DELETE or OPTIONS in no way
 * unless told: its bytes would reach the API server as the next request on
 * the connection, authenticated as the gateway wherever a client
 * certificate is its credential (docs/security.md, finding 10). False when
 * the request has no body.
 */
export function keepBodyDelimited(headers: OutgoingHttpHeaders, req: IncomingMessage): boolean {
  if (bodyless(req)) return false;
  if (headers['content-length'] === undefined) headers['transfer-encoding'] = 'chunked';
  return true;
}

/** Copies the upstream's response headers for the client, minus hop-by-hop headers. */
export function clientResponseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const connectionNamed = listedInConnection(headers.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    // Connection-specific: HTTP/1.1 hop-by-hop, and refused outright in an HTTP/2 response.
    if (name === 'connection' || name === 'keep-alive' || name === 'transfer-encoding' || name === 'proxy-connection' || name === 'upgrade') continue;
    if (connectionNamed?.has(name)) continue;
    out[name] = headers[name];
  }
  return out;
}

/** {@link clientResponseHeaders} as name/value pairs without Content-Length, for a raw response whose body length the writer sets. */
export function clientResponseHeaderPairs(headers: IncomingHttpHeaders): [string, string][] {
  const pairs: [string, string][] = [];
  for (const [name, value] of Object.entries(clientResponseHeaders(headers))) {
    if (name === 'content-length' || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [String(value)]) pairs.push([name, v]);
  }
  return pairs;
}

function listedInConnection(value: string | undefined): Set<string> | undefined {
  if (value === undefined || !value.includes(',')) {
    const single = value?.trim().toLowerCase();
    return single && single !== 'keep-alive' && single !== 'close' && single !== 'upgrade' ? new Set([single]) : undefined;
  }
  return new Set(value.split(',').map((v) => v.trim().toLowerCase()));
}
