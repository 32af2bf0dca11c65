import type { Socket } from 'node:net';
import { GatehouseError } from '../errors/codes.js';
import type { Upstream, UpstreamRequest } from '../upstream/client.js';
import type { Masker } from '../masking/index.js';

/** How requests are forwarded, fixed at start-up. */
export interface ForwardOptions {
  timeouts: UpstreamTimeouts;
  /** Forward the principal with Impersonate-* headers (identity.impersonation.enabled). */
  impersonate: boolean;
  /** Applied to the responses of requests policy decided to mask. */
  masker: Masker | undefined;
}

export interface UpstreamTimeouts {
  /** Time allowed to open the TCP+TLS connection. */
  connectMs: number;
  /** Time allowed until the upstream sends response headers (watches and logs send them at once). */
  responseHeadersMs: number;
}

/** Explains why the upstream could not be used, for the client's Status. */
export function upstreamFailure(err: unknown, upstream: Upstream): GatehouseError {
  if (err instanceof GatehouseError) return err;
  const where = upstream.where;
  const message = err instanceof Error ? err.message : String(err);
  if (message.startsWith('exec credential plugin') || message.startsWith('token file')) {
    return new GatehouseError('GH_UPSTREAM_CREDENTIAL', `the gateway could not obtain its credential for ${where}: ${message}`, {
      cause: err,
      retryAfterSeconds: 5,
    });
  }
  return new GatehouseError('GH_UPSTREAM_UNAVAILABLE', `the gateway could not reach the Kubernetes API server at ${where}: ${message}`, {
    cause: err,
    retryAfterSeconds: 1,
  });
}

/**
 * Aborts an upstream request that cannot connect, or whose response headers
 * do not arrive, in time. Once headers arrive no timer runs: watches and
 * `logs -f` may stay open for hours.
 */
export function armUpstreamTimeouts(upReq: UpstreamRequest, timeouts: UpstreamTimeouts, upstream: Upstream): void {
  const where = upstream.where;
  const fail = (what: string, ms: number): void => {
    upReq.destroy(new GatehouseError('GH_UPSTREAM_TIMEOUT', `the Kubernetes API server at ${where} did not ${what} within ${ms} ms`));
  };
  const headersTimer = setTimeout(() => fail('answer', timeouts.responseHeadersMs), timeouts.responseHeadersMs);
  headersTimer.unref();
  // Plain listeners taken off together (not `once`, a wrapper each): a watch would carry them for its whole life.
  const clear = (): void => {
    clearTimeout(headersTimer);
    upReq.off('response', clear);
    upReq.off('upgrade', clear);
    upReq.off('close', clear);
    upReq.off('socket', onSocket);
  };
  // Node's HTTP/1.1 client only: an HTTP/2 stream, or a read on undici's pool, rides a connection its pool connects
  // (and times out) itself.
  const onSocket = (socket: Socket): void => {
    upReq.off('socket', onSocket);
    if (!socket.connecting) return;
    const connectTimer = setTimeout(() => fail('accept a connection', timeouts.connectMs), timeouts.connectMs);
    connectTimer.unref();
    const done = (): void => clearTimeout(connectTimer);
    socket.once('connect', done);
    socket.once('close', done);
  };
  upReq.on('response', clear);
  upReq.on('upgrade', clear);
  upReq.on('close', clear);
  upReq.on('socket', onSocket);
}
