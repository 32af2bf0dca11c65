import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestContext } from '../pipeline/context.js';
import type { Upstream } from '../upstream/client.js';
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.js';
import { respondWithStatus } from './respond.js';
import { armUpstreamTimeouts, upstreamFailure } from './upstream-errors.js';
import type { ForwardOptions } from './upstream-errors.js';
import { GatehouseError } from '../errors/codes.js';
import type { Completion } from '../pipeline/pipeline.js';
import type { ExchangeOutcome } from '../record/recorder.js';
import { addImpersonation } from './impersonation.js';

/**
 * Forwards one ordinary (non-upgrade) request to the upstream and streams the
 * response back: chunked lists, watches and `logs -f` flow through as the
 * upstream sends them. A body the classify stage already read is sent from
 * memory; otherwise the client's body is piped. The response is completed
 * only after the exchange is recorded (completion.done), so a client never
 * receives the end of a write the record does not hold.
 */
export async function forwardRequest(
  ctx: RequestContext,
  res: ServerResponse,
  upstream: Upstream,
  options: ForwardOptions,
  completion: Completion,
): Promise<void> {
  const { req } = ctx;
  const headers = upstreamRequestHeaders(req.headers, false);
  if (options.impersonate) addImpersonation(headers, ctx);
  if (ctx.body !== undefined) {
    delete headers['transfer-encoding'];
    headers['content-length'] = ctx.body.length;
  }
  const sentAt = process.hrtime.bigint();
  let bytesIn = ctx.body?.length ?? 0;
  let bytesOut = 0;
  let finished = false;
  const finish = (outcome: ExchangeOutcome): Promise<void> => {
    if (finished) return Promise.resolve();
    finished = true;
    return completion.done(outcome);
  };
  const upstreamFacts = (status: number | undefined): NonNullable<ExchangeOutcome['upstream']> => ({
    status,
    latencyMs: Number(process.hrtime.bigint() - sentAt) / 1e6,
    bytesIn,
    bytesOut,
  });

  let upReq;
  try {
    upReq = await upstream.request({ method: req.method ?? 'GET', path: req.url ?? '/', headers });
  } catch (err) {
    await refuseAfterRecording(ctx, res, upstreamFailure(err, upstream), finish);
    return;
  }
  armUpstreamTimeouts(upReq, options.timeouts, upstream);

  // A client that goes away (Ctrl-C on `get -w`) must free the upstream watch; the record says it was cut short.
  const abortUpstream = (): void => {
    if (res.writableFinished) return;
    upReq.destroy();
    void finish({ status: res.statusCode, aborted: true, upstream: upstreamFacts(res.statusCode) }).catch(() => undefined);
  };
  res.once('close', abortUpstream);

  upReq.on('response', (upRes: IncomingMessage) => {
    const status = upRes.statusCode ?? 502;
    if (status === 401) upstream.invalidateCredential();
    res.writeHead(status, upRes.statusMessage, clientResponseHeaders(upRes.headers));
    // Send headers now: a watch may not produce a byte for minutes.
    res.flushHeaders();
    const captured: Buffer[] = [];
    let capturedBytes = 0;
    upRes.on('data', (chunk: Buffer) => {
      bytesOut += chunk.length;
      if (capturedBytes < completion.captureBytes) {
        captured.push(chunk);
        capturedBytes += chunk.length;
      }
    });
    upRes.pipe(res, { end: false });
    upRes.once('end', () => {
      const responseBody = captured.length > 0 ? { data: Buffer.concat(captured), contentType: upRes.headers['content-type'] } : undefined;
      finish({ status, upstream: upstreamFacts(status), responseBody }).then(
        () => res.end(),
        () => res.destroy(),
      );
    });
    upRes.once('error', () => res.destroy());
    upRes.once('aborted', () => res.destroy());
  });
  upReq.on('error', (err) => {
    res.off('close', abortUpstream);
    if (res.headersSent) res.destroy();
    else void refuseAfterRecording(ctx, res, upstreamFailure(err, upstream), finish);
  });

  if (ctx.body !== undefined) upReq.end(ctx.body);
  else {
    req.on('data', (chunk: Buffer) => (bytesIn += chunk.length));
    req.pipe(upReq);
  }
}

/** The upstream could not be used: record that, then answer with the Status (or with the recording failure). */
async function refuseAfterRecording(ctx: RequestContext, res: ServerResponse, error: GatehouseError, finish: (o: ExchangeOutcome) => Promise<void>): Promise<void> {
  try {
    await finish({ status: error.httpStatus, code: error.code });
    respondWithStatus(res, error, ctx.id);
  } catch (err) {
    respondWithStatus(res, err instanceof GatehouseError ? err : error, ctx.id);
  }
}
