import type { IncomingHttpHeaders } from 'node:http';

/** The WebSocket subprotocol prefix a browser client uses to carry a bearer token (the API server accepts it too). */
export const WEBSOCKET_BEARER_PREFIX = 'base64url.bearer.authorization.k8s.io.';

/**
 * Extracts the bearer token a client presented, from `Authorization: Bearer`
 * or, for WebSocket clients that cannot set headers, the bearer subprotocol.
 */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (auth !== undefined) {
    const match = /^bearer\s+(\S+)\s*$/i.exec(auth);
    return match?.[1];
  }
  const protocols = headers['sec-websocket-protocol'];
  if (protocols === undefined) return undefined;
  for (const p of protocols.split(',')) {
    const proto = p.trim();
    if (proto.startsWith(WEBSOCKET_BEARER_PREFIX)) {
      const token = Buffer.from(proto.slice(WEBSOCKET_BEARER_PREFIX.length), 'base64url').toString('utf8');
      return token || undefined;
    }
  }
  return undefined;
}
