import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestContext } from '../pipeline/context.js';
import type { Upstream } from '../upstream/client.js';
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.js';
import { respondWithStatus } from './respond.js';
import { armUpstreamTimeouts, upstreamFailure } from './upstream-errors.js';
import type { ForwardOptions } from './upstream-errors.js';
import { addImpersonation } from './impersonation.js';

/**
 * Forwards one ordinary (non-upgrade) request to the upstream and streams the
 * response back: chunked lists, watches and `logs -f` flow through as the
 * upstream sends them. A body the classify stage already read is sent from
 * memory; otherwise the client's body is piped.
 */
export async function forwardRequest(ctx: RequestContext, res: ServerResponse, upstream: Upstream, options: ForwardOptions): Promise<void> {
  const { req } = ctx;
  const headers = upstreamRequestHeaders(req.headers, false);
  if (options.impersonate) addImpersonation(headers, ctx);
  if (ctx.body !== undefined) {
    delete headers['transfer-encoding'];
    headers['content-length'] = ctx.body.length;
  }
  let upReq;
  try {
    upReq = await upstream.request({ method: req.method ?? 'GET', path: req.url ?? '/', headers });
  } catch (err) {
    respondWithStatus(res, upstreamFailure(err, upstream), ctx.id);
    return;
  }
  armUpstreamTimeouts(upReq, options.timeouts, upstream);

  // A client that goes away (Ctrl-C on `get -w`) must free the upstream watch.
  const abortUpstream = (): void => {
    if (!res.writableFinished) upReq.destroy();
  };
  res.once('close', abortUpstream);

  upReq.on('response', (upRes: IncomingMessage) => {
    if (upRes.statusCode === 401) upstream.invalidateCredential();
    res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, clientResponseHeaders(upRes.headers));
    // Send headers now: a watch may not produce a byte for minutes.
    res.flushHeaders();
    upRes.pipe(res);
    upRes.once('error', () => res.destroy());
    upRes.once('aborted', () => res.destroy());
  });
  upReq.on('error', (err) => {
    res.off('close', abortUpstream);
    if (res.headersSent) res.destroy();
    else respondWithStatus(res, upstreamFailure(err, upstream), ctx.id);
  });

  if (ctx.body !== undefined) upReq.end(ctx.body);
  else req.pipe(upReq);
}
