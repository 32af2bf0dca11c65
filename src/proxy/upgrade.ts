import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { RequestContext } from '../pipeline/context.js';
import type { Upstream } from '../upstream/client.js';
import { clientResponseHeaderPairs, upstreamRequestHeaders } from './headers.js';
import { respondWithStatusOnSocket, writeRawResponse } from './respond.js';
import { armUpstreamTimeouts, upstreamFailure } from './upstream-errors.js';
import type { ForwardOptions } from './upstream-errors.js';
import { GatehouseError } from '../errors/codes.js';
import type { Completion } from '../pipeline/pipeline.js';
import { addImpersonation } from './impersonation.js';
import { createSessionTap, sessionFraming } from '../record/session-tap.js';
import type { SessionTap } from '../record/session-tap.js';
import { createSessionOutputMasker } from '../masking/index.js';
import { masksAnswer } from './mask-response.js';
import { maskerForPod } from './pod-secrets.js';
import type { Masker } from '../masking/index.js';

// How long a client has to read the gateway's farewell and hang up before it is cut off.
const FAREWELL_MS = 1000;
// Once one side closed, how long the other may take to close after being ended before it is cut off:
// the API server does not always close a SPDY connection when kubectl half-closes it.
const HALF_CLOSE_MS = 2000;
// A refused upgrade carries a short Status; anything longer is not worth holding.
const MAX_REFUSAL_BODY = 64 * 1024;
const EMPTY: Buffer = Buffer.alloc(0);

/**
 * Forwards an upgrade request (exec, attach, port-forward over WebSocket or
 * SPDY) on a fresh HTTP/1.1 connection. On 101 the two sockets are joined
 * byte for byte, each chunk shown to the session tap (src/record/session-tap.ts)
 * that records what it can decode; the tap only ever shortens the
 * forwarding, when the gateway ends a session. When policy says `mask`, an
 * exec or attach session's stdout and stderr are rewritten on their way to
 * the client (src/masking/session-output.ts); other masked sessions are
 * refused. When the upstream refuses the upgrade, its answer is relayed
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
  completion: Completion,
): Promise<void> {
  const { req } = ctx;
  const sentAt = process.hrtime.bigint();
  const upstreamFacts = (status: number) => ({ status, latencyMs: Number(process.hrtime.bigint() - sentAt) / 1e6, bytesIn: 0, bytesOut: 0 });
  // The upstream could not be used: record that, then answer with the Status (or with the recording failure).
  const refuse = (error: GatehouseError): void => {
    completion.done({ status: error.httpStatus, code: error.code }).then(
      () => respondWithStatusOnSocket(clientSocket, error, ctx.id),
      (err: unknown) => respondWithStatusOnSocket(clientSocket, err instanceof GatehouseError ? err : error, ctx.id),
    );
  };
  const masking = masksAnswer(ctx.decision);
  let masker = masking ? options.masker : undefined;
  if (masking) {
    // A session policy wants masked is masked or refused, never passed raw.
    const unmaskable = sessionUnmaskable(ctx, masker);
    if (unmaskable) return refuse(new GatehouseError('GH_MASKING_FAILED', `policy wants this session masked, and ${unmaskable}, so it was refused`));
    // Only pods' exec and attach get here: the values of the pod's Secrets are looked for too.
    try {
      masker = await maskerForPod(masker!, upstream, ctx.request!.namespace, ctx.request!.name);
    } catch (err) {
      return refuse(err as GatehouseError);
    }
  }
  const headers = upstreamRequestHeaders(req.headers, true);
  if (options.impersonate) addImpersonation(headers, ctx);
  let upReq;
  try {
    upReq = await upstream.upgradeRequest({ method: req.method ?? 'GET', path: req.url ?? '/', headers });
  } catch (err) {
    refuse(upstreamFailure(err, upstream));
    return;
  }
  armUpstreamTimeouts(upReq, options.timeouts, upstream);
  const abortUpstream = (): void => {
    upReq.destroy();
  };
  clientSocket.once('close', abortUpstream);

  upReq.on('upgrade', (upRes: IncomingMessage, upSocket: Socket, upHead: Buffer) => {
    clientSocket.off('close', abortUpstream);
    const closeBoth = (): void => {
      upSocket.destroy();
      clientSocket.destroy();
    };
    const framing = sessionFraming(ctx.request?.subresource ?? '', upRes.headers);
    if (masker && framing.kind !== 'channels') {
      upSocket.destroy();
      return refuse(new GatehouseError('GH_MASKING_FAILED', `policy wants this session masked, and the gateway cannot read its output (${framing.kind === 'opaque' ? framing.why : 'SPDY'}), so it was refused`));
    }
    const session = createSessionTap({
      framing,
      end: (farewell) => {
        if (!farewell) return closeBoth();
        // kubectl hangs up by itself once it read the farewell; whatever still flows meanwhile is no longer forwarded.
        clientSocket.write(farewell);
        setTimeout(closeBoth, FAREWELL_MS).unref();
      },
    });
    // The session is recorded as started before a byte of it flows.
    completion.done({ status: 101, upstream: upstreamFacts(101), session }).then(() => join(upRes, upSocket, upHead, session, closeBoth), closeBoth);
  });

  const join = (upRes: IncomingMessage, upSocket: Socket, upHead: Buffer, session: SessionTap, closeBoth: () => void): void => {
    if (clientSocket.destroyed) {
      upSocket.destroy();
      session.close();
      return;
    }
    let responseHead = `HTTP/1.1 101 ${upRes.statusMessage || 'Switching Protocols'}\r\n`;
    const raw = upRes.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) responseHead += `${raw[i]}: ${raw[i + 1]}\r\n`;
    responseHead += '\r\n';
    setNoDelay(clientSocket);
    upSocket.setNoDelay(true);
    clientSocket.write(responseHead, 'latin1');
    // What the client is sent is what the tap sees, so a masked session is recorded masked.
    const toClient = (bytes: Buffer): Buffer => bytes.subarray(0, session.fromUpstream(bytes));
    const output = masker && maskedOutput(masker, (bytes) => {
      if (bytes.length > 0 && !clientSocket.destroyed) clientSocket.write(toClient(bytes));
    }, (why) => session.endSession(new GatehouseError('GH_MASKING_FAILED', `the session's output could not be masked (${why}), so the gateway ended it`)));
    const fromUpstream = output ? (chunk: Buffer) => toClient(output.write(chunk)) : toClient;
    if (upHead.length > 0) clientSocket.write(fromUpstream(upHead));
    if (head.length > 0) upSocket.write(head.subarray(0, session.fromClient(head)));
    relay(upSocket, clientSocket, fromUpstream, output && (() => toClient(output.end())));
    relay(clientSocket, upSocket, (chunk) => chunk.subarray(0, session.fromClient(chunk)));
    let open = 2;
    const closed = (): void => {
      output?.close();
      if (--open === 0) session.close(output?.masked());
    };
    upSocket.once('close', closed);
    clientSocket.once('close', closed);
    upSocket.once('error', closeBoth);
    clientSocket.once('error', closeBoth);
    const endAfter = (socket: Duplex): void => {
      socket.end();
      setTimeout(() => socket.destroy(), HALF_CLOSE_MS).unref();
    };
    upSocket.once('close', () => endAfter(clientSocket));
    clientSocket.once('close', () => endAfter(upSocket));
  };

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
      const headers = clientResponseHeaderPairs(upRes.headers);
      const status = upRes.statusCode ?? 502;
      const body = Buffer.concat(chunks);
      completion
        .done({ status, upstream: upstreamFacts(status), responseBody: { data: body, contentType: upRes.headers['content-type'] } })
        .then(
          () => writeRawResponse(clientSocket, status, headers, body),
          () => clientSocket.destroy(),
        );
    });
    upRes.once('error', () => clientSocket.destroy());
  });

  upReq.on('error', (err) => {
    clientSocket.off('close', abortUpstream);
    refuse(upstreamFailure(err, upstream));
  });
  upReq.end();
}

/** Like `from.pipe(to)`, with each chunk replaced by what `pass` makes of it, and `last` written before the end. */
function relay(from: Duplex, to: Duplex, pass: (chunk: Buffer) => Buffer, last?: () => Buffer): void {
  from.on('data', (chunk: Buffer) => {
    const out = pass(chunk);
    if (out.length > 0 && !to.write(out)) from.pause();
  });
  to.on('drain', () => from.resume());
  from.once('end', () => {
    const out = last?.();
    if (out && out.length > 0) to.write(out);
    to.end();
  });
}

/** Why a session policy wants masked cannot be, or undefined when it can. */
function sessionUnmaskable(ctx: RequestContext, masker: Masker | undefined): string | undefined {
  const subresource = ctx.request?.subresource ?? '';
  if (subresource !== 'exec' && subresource !== 'attach') return `the gateway masks the output of exec and attach only, not of ${subresource || 'this upgrade'} (its bytes are not text)`;
  if (!masker?.sessions.enabled) return 'masking exec and attach output is off (masking.sessions.enabled)';
  // SPDY data frames count against flow-control windows the client keeps: rewriting them would break the session.
  if (ctx.req.headers.upgrade?.toLowerCase() !== 'websocket') {
    return 'the gateway masks exec and attach output over WebSocket only: use kubectl 1.30 or later, without KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false';
  }
  return undefined;
}

/**
 * The API server → client side of a masked session. A line left unfinished
 * is released, masked, once the output has been quiet for
 * `masker.sessions.holdMs`: the bound on how long a terminal's echo of typed
 * characters waits. The trade-off: a credential printed in pieces with a
 * longer pause between them passes in those pieces (docs/masking.md).
 */
function maskedOutput(masker: Masker, send: (bytes: Buffer) => void, fail: (why: string) => void) {
  const output = createSessionOutputMasker(masker);
  let timer: NodeJS.Timeout | undefined;
  let failed = false;
  // Never throws into the data path: a failure ends the session, and nothing more leaves the masker.
  const guarded = (produce: () => Buffer): Buffer => {
    if (failed) return EMPTY;
    let bytes: Buffer = EMPTY;
    let why: string | undefined;
    try {
      bytes = produce();
      why = output.failure;
    } catch (err) {
      why = err instanceof Error ? err.message : String(err);
    }
    if (why === undefined) return bytes;
    failed = true;
    fail(why);
    return EMPTY;
  };
  const release = (): void => send(guarded(() => output.release()));
  return {
    write(chunk: Buffer): Buffer {
      clearTimeout(timer);
      const bytes = guarded(() => output.write(chunk));
      if (!failed && output.holding) timer = setTimeout(release, masker.sessions.holdMs);
      return bytes;
    },
    end: (): Buffer => {
      clearTimeout(timer);
      return guarded(() => output.end());
    },
    close: (): void => clearTimeout(timer),
    masked: (): boolean => output.report().masked > 0,
  };
}

function setNoDelay(socket: Duplex): void {
  const s = socket as Partial<Socket>;
  if (typeof s.setNoDelay === 'function') s.setNoDelay(true);
}
