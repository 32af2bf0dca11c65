import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { createRequire } from 'node:module';
import { Readable, Writable } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import type { Dispatcher, Pool as UndiciPool } from 'undici';
import { GatehouseError } from '../errors/codes.js';
import type { UpstreamRequest, UpstreamResponse } from './exchange.js';

// Only undici's connection pool, not its index: the index also loads fetch, WebSocket, caches and mocks, ~9 MB
// more resident memory in every gateway (measured: a bare Node process grows 11 MB with the pool, 20 MB with all).
const Pool = createRequire(import.meta.url)('undici/lib/dispatcher/pool.js') as typeof UndiciPool;

export interface ReadPoolOptions {
  /** The API server's origin, e.g. `https://10.0.0.1:6443`. */
  origin: string;
  tls: Pick<ConnectionOptions, 'secureContext' | 'rejectUnauthorized' | 'servername'> | undefined;
  /** Time allowed for TCP and TLS (default 10 s, as `timeouts.connectMs`). */
  connectMs?: number;
}

/** Keep-alive HTTP/1.1 connections to one API server for short reads. */
export interface ReadPool {
  /** A GET or HEAD that is not long-lived: sent when the request (and any body written to it) ends. */
  request(method: string, path: string, headers: OutgoingHttpHeaders): UpstreamRequest;
  close(): void;
}

/**
 * Most bytes of a read's body held to send with it. Kubernetes reads carry
 * none (the API server ignores one), but a client may send one, and undici
 * sends a body whole: this bounds what one request can make the gateway hold.
 */
export const MAX_READ_BODY_BYTES = 1024 * 1024;

// Headers undici refuses in a request (it manages them itself); the forwarder strips the others already.
const REFUSED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'expect']);

/**
 * Creates the pool that carries short reads (GET of an object, LIST) over
 * undici instead of Node's `https` client: measured side by side under the
 * same load, the gateway spends 5 % (one request at a time) to 15 % (16 at
 * once) less CPU per small GET, and short reads are most of what clients
 * send. Writes keep Node's client: they stream bodies the classify stage may
 * not have read.
 *
 * @example
 * const pool = createReadPool({ origin: 'https://10.0.0.1:6443', tls });
 * const req = pool.request('GET', '/api/v1/namespaces', { authorization });
 * req.once('response', (res) => res.pipe(out));
 * req.end();
 */
export function createReadPool(options: ReadPoolOptions): ReadPool {
  const connectMs = options.connectMs ?? 10_000;
  const pool = new Pool(options.origin, {
    connect: { ...options.tls, timeout: connectMs },
    // The forwarder times the answer's headers itself, and a LIST may take long between chunks: no undici timers.
    headersTimeout: 0,
    bodyTimeout: 0,
    // Idle connections are kept 30 s: undici's default (4 s) would cost a TLS handshake after every short pause.
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 30_000,
  });
  return {
    request(method, path, headers) {
      return new ReadRequest(pool, method, path, headers, connectMs);
    },
    close() {
      void pool.destroy().catch(() => undefined);
    },
  };
}

/** The request side of one read; `response` carries the answer as a {@link ReadResponse}. */
class ReadRequest extends Writable {
  private readonly body: Buffer[] = [];
  private bodyBytes = 0;
  private controller: Dispatcher.DispatchController | undefined;
  private response: ReadResponse | undefined;

  constructor(
    private readonly pool: UndiciPool,
    private readonly method: string,
    private readonly path: string,
    private readonly headers: OutgoingHttpHeaders,
    private readonly connectMs: number,
  ) {
    // Not destroyed when the body is sent: the exchange lives on until the answer ends, as a ClientRequest does.
    super({ autoDestroy: false });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.bodyBytes += chunk.length;
    if (this.bodyBytes > MAX_READ_BODY_BYTES) {
      callback(new GatehouseError('GH_BODY_TOO_LARGE', `the body of this ${this.method} request is larger than ${MAX_READ_BODY_BYTES} bytes, the most the gateway forwards with a read`));
      return;
    }
    this.body.push(chunk);
    callback();
  }

  override _final(callback: (err?: Error | null) => void): void {
    const headers: Record<string, string | string[]> = {};
    for (const name in this.headers) {
      const value = this.headers[name];
      if (value === undefined || REFUSED.has(name)) continue;
      headers[name] = typeof value === 'number' ? String(value) : value;
    }
    const body = this.body.length === 0 ? null : Buffer.concat(this.body, this.bodyBytes);
    try {
      this.pool.dispatch({ method: this.method, path: this.path, headers, body }, this.handler());
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    // Abandoned by the caller before the answer ended: the answer goes with it, quietly (the caller asked for it to
    // end), and the connection is closed rather than read to its end (the answer's own destroy aborts).
    if (!this.response) this.controller?.abort(err ?? new Error('the request was abandoned'));
    else if (!this.response.complete) this.response.destroy();
    callback(err);
  }

  private handler(): Dispatcher.DispatchHandler {
    return {
      onRequestStart: (controller) => {
        this.controller = controller;
        if (this.destroyed) controller.abort(new Error('the request was abandoned'));
      },
      onResponseStart: (controller, statusCode, headers, statusMessage) => {
        // 1xx answers are not the answer.
        if (statusCode < 200 || this.destroyed) return;
        this.response = new ReadResponse(controller, statusCode, statusMessage ?? '', nodeHeaders(headers));
        this.emit('response', this.response);
      },
      onResponseData: (_controller, chunk) => {
        this.response?.gather(chunk);
      },
      onResponseEnd: () => {
        this.response?.arrived();
        // The exchange is over: 'close', as a ClientRequest emits it once its answer is in.
        this.destroy();
      },
      onResponseError: (_controller, err) => {
        const response = this.response;
        if (!response) {
          // Worded as the HTTP/2 pool words its own: undici's names the address and the setting instead.
          const timedOut = (err as { code?: string }).code === 'UND_ERR_CONNECT_TIMEOUT';
          this.destroy(timedOut ? new Error(`no connection within ${this.connectMs} ms`, { cause: err }) : err);
          return;
        }
        // As with Node's client: once the answer has begun, a failure is the answer's, not the request's.
        if (!response.destroyed) {
          response.emit('aborted');
          response.destroy(err);
        }
        this.destroy();
      },
    };
  }
}

/** Bytes of an answer held before pushing them on in one piece, and the most its reader holds before undici pauses. */
const GATHER_BYTES = 64 * 1024;

/** The answer of one read, with the fields of Node's `IncomingMessage` the forwarder reads. */
class ReadResponse extends Readable implements UpstreamResponse {
  /** The whole answer arrived (it may not all be read yet). */
  complete = false;
  /** Pieces taken and not yet pushed. */
  private gathered: Buffer[] = [];
  private gatheredBytes = 0;
  private pushScheduled = false;
  private pushedAny = false;

  constructor(
    private readonly controller: Dispatcher.DispatchController,
    readonly statusCode: number,
    readonly statusMessage: string,
    readonly headers: IncomingHttpHeaders,
  ) {
    super({ highWaterMark: GATHER_BYTES });
  }

  /**
   * Takes a piece of the body. The API server sends a LIST in pieces of
   * 2 KiB or less, each a TLS record read on its own; pushing each through
   * the streams after this costs more than copying them together, so the
   * pieces one turn of the event loop brings are pushed as one (or at once
   * from 64 KiB on). The first goes at once: most answers are one piece.
   */
  gather(chunk: Buffer): void {
    if (!this.pushedAny) {
      this.pushedAny = true;
      if (!this.push(chunk)) this.controller.pause();
      return;
    }
    this.gathered.push(chunk);
    this.gatheredBytes += chunk.length;
    if (this.gatheredBytes >= GATHER_BYTES) this.pushGathered();
    else if (!this.pushScheduled) {
      this.pushScheduled = true;
      setImmediate(this.pushGathered);
    }
  }

  arrived(): void {
    this.complete = true;
    this.pushGathered();
    this.push(null);
  }

  private readonly pushGathered = (): void => {
    this.pushScheduled = false;
    if (this.gatheredBytes === 0 || this.destroyed) return;
    const gathered = this.gathered;
    const piece = gathered.length === 1 ? gathered[0]! : Buffer.concat(gathered, this.gatheredBytes);
    this.gathered = [];
    this.gatheredBytes = 0;
    // Paused only right after a push: the stream asks for more (`_read`) once its reader has taken enough of it.
    if (!this.push(piece)) this.controller.pause();
  };

  override _read(): void {
    if (this.controller.paused) this.controller.resume();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    // Abandoned before the whole answer arrived: the connection is closed rather than read to its end. (Not an Error
    // made for every complete answer: its stack trace costs more than the rest of this class.)
    if (!this.complete) this.controller.abort(err ?? new Error('the answer was abandoned'));
    // As Node's IncomingMessage does: the error is emitted only to a listener, never as an uncaught exception.
    callback(this.listenerCount('error') > 0 ? err : null);
  }
}

/** Repeated headers joined as Node's `IncomingMessage` joins them: `set-cookie` stays a list, the others take `, `. */
function nodeHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  for (const name in headers) {
    const value = headers[name];
    if (Array.isArray(value) && name !== 'set-cookie') headers[name] = value.join(', ');
  }
  return headers;
}
