import { STATUS_CODES } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { GatehouseError } from '../errors/codes.js';
import { statusFor } from '../kube/status.js';

/** Writes a Gatehouse refusal as a Kubernetes Status to a normal HTTP response. */
export function respondWithStatus(res: ServerResponse, error: GatehouseError, requestId: string): void {
  if (res.headersSent) {
    res.destroy(error);
    return;
  }
  const body = JSON.stringify(statusFor(error));
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-cache, private',
    'audit-id': requestId,
  };
  if (error.retryAfterSeconds !== undefined) headers['retry-after'] = error.retryAfterSeconds;
  if (error.httpStatus === 401) headers['www-authenticate'] = 'Bearer realm="gatehouse"';
  res.writeHead(error.httpStatus, headers);
  res.end(body);
}

/**
 * Writes a Gatehouse refusal as a Kubernetes Status onto the raw socket of an
 * upgrade request (no ServerResponse exists there) and closes it.
 */
export function respondWithStatusOnSocket(socket: Duplex, error: GatehouseError, requestId: string): void {
  const body = JSON.stringify(statusFor(error));
  writeRawResponse(socket, error.httpStatus, [
    ['Content-Type', 'application/json'],
    ['Cache-Control', 'no-cache, private'],
    ['Audit-Id', requestId],
  ], Buffer.from(body));
}

/** Writes a complete HTTP/1.1 response with a body on a raw socket, then ends it. */
export function writeRawResponse(socket: Duplex, status: number, headers: [string, string][], body: Buffer): void {
  if (socket.destroyed) return;
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
  for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
  head += `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
  socket.end(Buffer.concat([Buffer.from(head, 'latin1'), body]));
}
