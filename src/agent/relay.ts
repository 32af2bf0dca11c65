import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { pipeline } from 'node:stream';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { GatehouseError } from '../errors/codes.js';
import { clientResponseHeaderPairs, clientResponseHeaders, keepBodyDelimited } from '../proxy/headers.js';
import { respondWithStatus, respondWithStatusOnSocket, writeRawResponse } from '../proxy/respond.js';
import type { Upstream, UpstreamResponse } from '../upstream/client.js';
import { TunnelStream } from '../tunnel/session.js';

/** Carries the gateway's requests, one per tunnel stream, to the API server with the agent's credential. */
export interface AgentRelay {
  /** Serves one tunnel stream as an HTTP/1.1 connection. */
  handle(stream: TunnelStream): void;
  /** Destroys every stream still being served; later streams are refused. */
  close(): void;
}

// Request headers that end at the agent besides the hop-by-hop ones: the API server sees the agent's credential only.
const AGENT_DROPPED = ['te', 'trailer', 'upgrade', 'host', 'authorization', 'proxy-authorization'];
// Refusals of an upgrade are short Status objects; anything this large is not one.
const MAX_REFUSAL_BODY = 1024 * 1024;

/**
 * Creates the agent's relay: an `http.Server` that never listens and is fed
 * tunnel streams instead. Bodies stream both ways unbuffered, response
 * headers are flushed at once (watches start immediately), upgrades (exec,
 * attach, port-forward) are spliced byte for byte after the API server's 101.
 * Impersonate-* headers the gateway sends pass through.
 *
 * @example
 * const relay = createAgentRelay(createUpstream(inClusterTarget()), log);
 * session.on('stream', (stream) => relay.handle(stream));
 */
export function createAgentRelay(upstream: Upstream, log: Logger): AgentRelay {
  // Watches, `logs -f` and exec sessions live for hours: no server-side timeouts.
  const server = createServer({ requestTimeout: 0 }, (req, res) => void forward(req, res));
  server.timeout = 0;
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Only tunnel streams are ever fed to this server.
    if (socket instanceof TunnelStream) void forwardUpgrade(req, socket, head);
    else socket.destroy();
  });
  server.on('clientError', (err, socket) => {
    log.debug({ err }, 'tunnel stream closed with an error');
    socket.destroy();
  });
  const streams = new Set<TunnelStream>();
  let closed = false;

  const unreachable = (req: IncomingMessage, err: unknown): GatehouseError => {
    log.warn({ err, method: req.method, path: req.url }, 'could not reach the API server');
    const why = err instanceof Error ? err.message : String(err);
    // 502, not the gateway's own 503: the gateway relays this answer as the agent's, like any API server response.
    return new GatehouseError('GH_UPSTREAM_UNAVAILABLE', `the cluster agent could not reach its API server at ${upstream.where}: ${why}`, {
      cause: err,
      retryAfterSeconds: 1,
      relayed: { httpStatus: 502, reason: 'ServiceUnavailable' },
    });
  };

  const relayResponse = (upRes: UpstreamResponse, res: ServerResponse): void => {
    if (upRes.statusCode === 401) upstream.invalidateCredential();
    res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, clientResponseHeaders(upRes.headers));
    res.flushHeaders();
    pipeline(upRes, res, (err) => {
      if (err) log.debug({ err }, 'response stream ended early');
    });
  };

  const forward = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let upReq;
    try {
      upReq = await upstream.request({ method: req.method ?? 'GET', path: req.url ?? '/', headers: agentRequestHeaders(req, false) });
    } catch (err) {
      respondWithStatus(res, unreachable(req, err), requestId(req));
      return;
    }
    // The gateway gave up (client gone, stream reset): free the upstream request, which may be a watch.
    res.once('close', () => {
      if (!res.writableFinished) upReq.destroy();
    });
    upReq.once('response', (upRes: UpstreamResponse) => relayResponse(upRes, res));
    upReq.once('error', (err) => respondWithStatus(res, unreachable(req, err), requestId(req)));
    // pipe, not pipeline: an upstream failure must not destroy the connection the 502 is written to.
    req.pipe(upReq);
  };

  const forwardUpgrade = async (req: IncomingMessage, socket: TunnelStream, head: Buffer): Promise<void> => {
    // The server stops listening for errors on a stream once it is upgraded.
    socket.on('error', (err) => log.debug({ err }, 'upgraded tunnel stream failed'));
    const refuse = (err: unknown): void => respondWithStatusOnSocket(socket, unreachable(req, err), requestId(req));
    let upReq;
    try {
      upReq = await upstream.upgradeRequest({ method: req.method ?? 'GET', path: req.url ?? '/', headers: agentRequestHeaders(req, true) });
    } catch (err) {
      refuse(err);
      return;
    }
    const abort = (): void => {
      upReq.destroy();
    };
    socket.once('close', abort);
    upReq.once('upgrade', (upRes: IncomingMessage, upSocket: Socket, upHead: Buffer) => {
      socket.off('close', abort);
      upSocket.setNoDelay(true);
      socket.write(switchingProtocolsHead(upRes), 'latin1');
      if (upHead.length > 0) socket.write(upHead);
      if (head.length > 0) upSocket.write(head);
      splice(socket, upSocket);
    });
    upReq.once('response', (upRes: IncomingMessage) => {
      if (upRes.statusCode === 401) upstream.invalidateCredential();
      relayRefusal(upRes, socket);
    });
    upReq.once('error', refuse);
    upReq.end();
  };

  return {
    handle(stream) {
      if (closed) {
        stream.destroy(new Error('the cluster agent is shutting down'));
        return;
      }
      streams.add(stream);
      stream.once('close', () => streams.delete(stream));
      server.emit('connection', stream);
    },
    close() {
      closed = true;
      for (const stream of streams) stream.destroy();
    },
  };
}

/**
 * The gateway's request headers for the API server: hop-by-hop headers and
 * the gateway's own Authorization removed (the upstream applies the agent's
 * credential), a streamed body kept delimited.
 */
function agentRequestHeaders(req: IncomingMessage, upgrade: boolean): OutgoingHttpHeaders {
  // Hop-by-hop filtering is the same as for responses: Connection, Keep-Alive, Transfer-Encoding and what Connection names.
  const out = clientResponseHeaders(req.headers);
  for (const name of AGENT_DROPPED) delete out[name];
  if (upgrade) {
    out.connection = 'Upgrade';
    out.upgrade = req.headers.upgrade;
  } else {
    keepBodyDelimited(out, req);
  }
  return out;
}

function switchingProtocolsHead(upRes: IncomingMessage): string {
  let head = `HTTP/1.1 101 ${upRes.statusMessage || 'Switching Protocols'}\r\n`;
  const raw = upRes.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) head += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return `${head}\r\n`;
}

// Joins the tunnel stream and the API server's socket with backpressure; a half-close travels across, a failure closes both.
function splice(stream: TunnelStream, upSocket: Socket): void {
  stream.pipe(upSocket);
  upSocket.pipe(stream);
  const closeBoth = (): void => {
    stream.destroy();
    upSocket.destroy();
  };
  upSocket.once('error', closeBoth);
  stream.once('error', closeBoth);
  stream.once('close', () => upSocket.destroy());
  upSocket.once('close', () => stream.destroySoon());
}

// A refused upgrade (a short Status, usually) is relayed whole on the raw stream, then the stream is closed.
function relayRefusal(upRes: IncomingMessage, socket: TunnelStream): void {
  const chunks: Buffer[] = [];
  let size = 0;
  upRes.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_REFUSAL_BODY) upRes.destroy(new Error(`the API server's refusal of an upgrade is larger than ${MAX_REFUSAL_BODY} bytes`));
    else chunks.push(chunk);
  });
  upRes.once('end', () => {
    writeRawResponse(socket, upRes.statusCode ?? 502, clientResponseHeaderPairs(upRes.headers), Buffer.concat(chunks));
  });
  upRes.once('error', (err) => socket.destroy(err));
}

// The gateway's Audit-Id, so its record and the agent's log line name the same request.
function requestId(req: IncomingMessage): string {
  const id = req.headers['audit-id'];
  return (Array.isArray(id) ? id[0] : id) ?? randomUUID();
}
