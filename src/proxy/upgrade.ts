import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { RequestContext } from '../pipeline/context.js';
import type { Upstream } from '../upstream/client.js';
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.js';
import { respondWithStatusOnSocket, writeRawResponse } from './respond.js';
import { armUpstreamTimeouts, upstreamFailure } from './upstream-errors.js';
import type { ForwardOptions } from './upstream-errors.js';
import { addImpersonation } from './impersonation.js';

// A refused upgrade carries a short Status; anything longer is not worth holding.
const MAX_REFUSAL_BODY = 64 * 1024;

/**
 * Forwards an upgrade request (exec, attach, port-forward over WebSocket or
 * SPDY) on a fresh HTTP/1.1 connection. On 101 the two sockets are joined
 * byte for byte. When the upstream refuses the upgrade, its answer is relayed
 * and the client connection closed, so nothing the client sends afterwards
 * can reach the upstream without passing the pipeline again — and kubectl
 * falls back from WebSocket to SPDY on its own.
 */
export async function forwardUpgrade(
  ctx: RequestContext,
  clientSocket: Duplex,
  head: Buffer,
  upstream: Upstream,
  options: ForwardOptions,
): Promise<void> {
  const { req } = ctx;
  const headers = upstreamRequestHeaders(req.headers, true);
  if (options.impersonate) addImpersonation(headers, ctx);
  let upReq;
  try {
    upReq = await upstream.upgradeRequest({ method: req.method ?? 'GET', path: req.url ?? '/', headers });
  } catch (err) {
    respondWithStatusOnSocket(clientSocket, upstreamFailure(err, upstream), ctx.id);
    return;
  }
  armUpstreamTimeouts(upReq, options.timeouts, upstream);
  const abortUpstream = (): void => {
    upReq.destroy();
  };
  clientSocket.once('close', abortUpstream);

  upReq.on('upgrade', (upRes: IncomingMessage, upSocket: Socket, upHead: Buffer) => {
    clientSocket.off('close', abortUpstream);
    let responseHead = `HTTP/1.1 101 ${upRes.statusMessage || 'Switching Protocols'}\r\n`;
    const raw = upRes.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) responseHead += `${raw[i]}: ${raw[i + 1]}\r\n`;
    responseHead += '\r\n';
    setNoDelay(clientSocket);
    upSocket.setNoDelay(true);
    clientSocket.write(responseHead, 'latin1');
    if (upHead.length > 0) clientSocket.write(upHead);
    if (head.length > 0) upSocket.write(head);
    upSocket.pipe(clientSocket);
    clientSocket.pipe(upSocket);
    const closeBoth = (): void => {
      upSocket.destroy();
      clientSocket.destroy();
    };
    upSocket.once('error', closeBoth);
    clientSocket.once('error', closeBoth);
    upSocket.once('close', () => clientSocket.end());
    clientSocket.once('close', () => upSocket.end());
  });

  upReq.on('response', (upRes: IncomingMessage) => {
    if (upRes.statusCode === 401) upstream.invalidateCredential();
    const chunks: Buffer[] = [];
    let size = 0;
    upRes.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_REFUSAL_BODY) chunks.push(chunk);
    });
    upRes.once('end', () => {
      clientSocket.off('close', abortUpstream);
      const headers: [string, string][] = [];
      for (const [name, value] of Object.entries(clientResponseHeaders(upRes.headers))) {
        if (name === 'content-length' || value === undefined) continue;
        for (const v of Array.isArray(value) ? value : [String(value)]) headers.push([name, v]);
      }
      writeRawResponse(clientSocket, upRes.statusCode ?? 502, headers, Buffer.concat(chunks));
    });
    upRes.once('error', () => clientSocket.destroy());
  });

  upReq.on('error', (err) => {
    clientSocket.off('close', abortUpstream);
    respondWithStatusOnSocket(clientSocket, upstreamFailure(err, upstream), ctx.id);
  });
  upReq.end();
}

function setNoDelay(socket: Duplex): void {
  const s = socket as Partial<Socket>;
  if (typeof s.setNoDelay === 'function') s.setNoDelay(true);
}
