/**
 * Graceful shutdown of the main listener: knows which requests are in flight
 * (and which of them stream for as long as the client wants), and drains them
 * in the order load balancers and clients expect.
 *
 * @module
 */

import type { ServerResponse } from 'node:http';
import type { ServerHttp2Session } from 'node:http2';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { isStreamingUrl, isWatchUrl } from '../kube/streaming-url.js';
import { closeAfter } from '../pipeline/http2-compat.js';

export interface DrainOptions {
  /** Keep serving this long after readyz starts failing, so load balancers stop sending new work first. */
  delayMs: number;
  /** Most time in-flight ordinary requests get to finish before everything is cut. */
  drainMs: number;
}

export interface DrainReport {
  /** Ordinary requests still running at the deadline, cut off. */
  cut: number;
  /** Watches, log follows and upgraded sessions ended. */
  streams: number;
}

/** The listener as the drain uses it: an https.Server, or Node's HTTP/2 server that also serves HTTP/1.1 (no closeAllConnections). */
export interface DrainableServer {
  close(): unknown;
  closeIdleConnections(): void;
  closeAllConnections?: () => void;
}

export interface Lifecycle {
  /** Follows one request of the main listener until its response closes. */
  track(res: ServerResponse): void;
  /** Follows one upgraded connection (exec, attach, port-forward) until it closes. */
  trackUpgrade(socket: Duplex): void;
  /** Follows one HTTP/2 connection until it closes, so a drain can tell its client to go elsewhere (GOAWAY). */
  trackSession(session: ServerHttp2Session): void;
  inFlight(): { requests: number; watches: number };
  upgradedSessions(): number;
  /** True from the moment drain() was called. */
  draining(): boolean;
  /**
   * Fails readiness, waits `delayMs`, stops accepting, lets ordinary requests
   * finish (at most `drainMs`), then ends streams and sessions and resolves
   * once every connection is closed.
   */
  drain(server: DrainableServer, options: DrainOptions): Promise<DrainReport>;
}

const POLL_MS = 50;
// After everything was cut, how long closing sockets get to report (and their records to be queued).
const SETTLE_MS = 2_000;

// The console's server-sent events stream like watches do.
function isStreaming(res: ServerResponse): boolean {
  return isStreamingUrl(res.req.url ?? '') || res.req.headers.accept === 'text/event-stream';
}

/**
 * @example
 * const lifecycle = createLifecycle();
 * server.on('request', (req, res) => { lifecycle.track(res); handle(req, res); });
 * process.once('SIGTERM', () => lifecycle.drain(server, { delayMs: 0, drainMs: 20_000 }));
 */
export function createLifecycle(): Lifecycle {
  const active = new Set<ServerResponse>();
  const upgraded = new Set<Duplex>();
  const sessions = new Set<ServerHttp2Session>();
  let draining = false;
  // Shared listeners: tracking allocates no closure per request.
  function untrack(this: ServerResponse): void {
    active.delete(this);
  }
  function untrackUpgrade(this: Duplex): void {
    upgraded.delete(this);
  }
  function untrackSession(this: ServerHttp2Session): void {
    sessions.delete(this);
  }
  const ordinaryInFlight = (): number => {
    let n = 0;
    for (const res of active) if (!isStreaming(res)) n += 1;
    return n;
  };

  return {
    track(res) {
      // Clients open a new connection (to another replica) for their next request.
      if (draining) closeAfter(res);
      active.add(res);
      res.on('close', untrack);
    },
    trackUpgrade(socket) {
      upgraded.add(socket);
      socket.on('close', untrackUpgrade);
    },
    trackSession(session) {
      sessions.add(session);
      session.on('close', untrackSession);
    },
    inFlight() {
      let watches = 0;
      for (const res of active) if (isWatchUrl(res.req.url ?? '')) watches += 1;
      return { requests: active.size, watches };
    },
    upgradedSessions: () => upgraded.size,
    draining: () => draining,
    async drain(server, options) {
      draining = true;
      for (const res of active) closeAfter(res);
      if (options.delayMs > 0) await sleep(options.delayMs);
      server.close();
      server.closeIdleConnections();
      // GOAWAY: no new streams; those in flight go on, and an idle connection closes now.
      for (const session of sessions) session.close();
      const deadline = Date.now() + options.drainMs;
      while (ordinaryInFlight() > 0 && Date.now() < deadline) await sleep(POLL_MS);
      const cut = ordinaryInFlight();
      const streams = active.size - cut + upgraded.size;
      // Ending the response makes the forwarder close the upstream side and record the exchange as cut short.
      for (const res of active) res.destroy();
      for (const socket of upgraded) socket.destroy();
      for (const session of sessions) session.destroy();
      // An HTTP/2 listener has no closeAllConnections; what is left of its HTTP/1.1 side is idle by now.
      if (server.closeAllConnections) server.closeAllConnections();
      else server.closeIdleConnections();
      const settled = Date.now() + SETTLE_MS;
      while ((active.size > 0 || upgraded.size > 0) && Date.now() < settled) await sleep(POLL_MS);
      return { cut, streams };
    },
  };
}
