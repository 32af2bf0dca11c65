import { STATUS_CODES } from 'node:http';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import * as http2 from 'node:http2';
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders as Http2Headers, OutgoingHttpHeaders as Http2OutgoingHeaders } from 'node:http2';
import { Readable, Writable } from 'node:stream';
import * as tls from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import type { UpstreamRequest, UpstreamResponse } from './exchange.js';

export interface Http2PoolOptions {
  host: string;
  port: number;
  /** The `:authority` of every request (the kubeconfig server's host[:port]). */
  authority: string;
  tls: Pick<ConnectionOptions, 'secureContext' | 'rejectUnauthorized' | 'servername'>;
  /** A session with no stream left is closed after this long (default 30 s). */
  idleMs?: number;
  /** Time allowed for TCP, TLS and the server's first SETTINGS (default 10 s, as `timeouts.connectMs`). */
  connectMs?: number;
}

/** How many sessions are open and how many streams they carry. */
export interface Http2PoolStats {
  sessions: number;
  streams: number;
}

/** HTTP/2 sessions to one API server, each carrying as many streams as the server allows. */
export interface Http2Pool {
  /**
   * Opens a stream on a session with room, connecting another session when
   * all are full. Resolves undefined when the server does not offer HTTP/2
   * (ALPN), which is remembered: the caller then uses HTTP/1.1.
   */
  request(method: string, path: string, headers: OutgoingHttpHeaders): Promise<UpstreamRequest | undefined>;
  stats(): Http2PoolStats;
  /** Destroys every session and the streams on them. */
  close(): void;
}

// Streams per session: what the server's SETTINGS allow (100 for kube-apiserver), 100 when they name no limit, and
// never more than 1 000.
const DEFAULT_STREAMS = 100;
const MAX_STREAMS = 1000;
// What the gateway lets the API server send ahead on the connection; each stream keeps HTTP/2's 64 KiB window,
// so a stalled client holds at most that much of its watch here.
const CONNECTION_WINDOW = 8 * 1024 * 1024;
// Headers HTTP/2 forbids (RFC 9113 §8.2.2), and Host, which becomes :authority.
const NOT_HTTP2 = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'http2-settings']);

interface Slot {
  session: ClientHttp2Session;
  streams: number;
  /** No new streams: the server sent GOAWAY, or the session failed. */
  draining: boolean;
  idle: NodeJS.Timeout | undefined;
}

/**
 * Creates the pool that carries long-lived requests (watches, `logs -f`):
 * a thousand watches ride ten TLS connections instead of a thousand, which
 * is most of their memory in the gateway and in the API server. Short
 * requests stay on HTTP/1.1 keep-alive connections, which Node serves with
 * less CPU per request.
 *
 * @example
 * const pool = createHttp2Pool({ host: '10.0.0.1', port: 6443, authority: '10.0.0.1:6443', tls });
 * const req = await pool.request('GET', '/api/v1/pods?watch=1', { authorization });
 */
export function createHttp2Pool(options: Http2PoolOptions): Http2Pool {
  const idleMs = options.idleMs ?? 30_000;
  const connectMs = options.connectMs ?? 10_000;
  const slots: Slot[] = [];
  let connecting: Promise<Slot | undefined> | undefined;
  let unsupported = false;
  let closed = false;

  const room = (slot: Slot): number => {
    return Math.min(slot.session.remoteSettings.maxConcurrentStreams ?? DEFAULT_STREAMS, MAX_STREAMS) - slot.streams;
  };

  const forget = (slot: Slot): void => {
    slot.draining = true;
    clearTimeout(slot.idle);
    const at = slots.indexOf(slot);
    if (at >= 0) slots.splice(at, 1);
  };

  const connect = async (): Promise<Slot | undefined> => {
    const socket = tls.connect({ ...options.tls, host: options.host, port: options.port, ALPNProtocols: ['h2', 'http/1.1'] });
    const session = await new Promise<ClientHttp2Session | undefined>((resolve, reject) => {
      const fail = (err: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      const timer = setTimeout(() => fail(new Error(`no HTTP/2 session within ${connectMs} ms`)), connectMs);
      socket.once('error', fail);
      socket.once('secureConnect', () => {
        if (socket.alpnProtocol !== 'h2') {
          clearTimeout(timer);
          socket.off('error', fail);
          socket.destroy();
          resolve(undefined);
          return;
        }
        socket.setKeepAlive(true, 30_000);
        const session = http2.connect(`https://${options.authority}`, { createConnection: () => socket, settings: { enablePush: false } });
        session.once('error', fail);
        session.once('remoteSettings', () => {
          clearTimeout(timer);
          socket.off('error', fail);
          session.off('error', fail);
          resolve(session);
        });
      });
    });
    if (!session) {
      unsupported = true;
      return undefined;
    }
    if (closed) {
      session.destroy();
      throw new Error('the upstream is closed');
    }
    session.setLocalWindowSize(CONNECTION_WINDOW);
    session.unref();
    const slot: Slot = { session, streams: 0, draining: false, idle: undefined };
    // Streams on a failing session fail on their own; the session only leaves the pool.
    session.on('error', () => forget(slot));
    session.once('goaway', () => forget(slot));
    session.once('close', () => forget(slot));
    slots.push(slot);
    return slot;
  };

  const release = (slot: Slot): void => {
    slot.streams -= 1;
    if (slot.streams > 0 || slot.draining) return;
    slot.idle = setTimeout(() => {
      forget(slot);
      slot.session.close();
    }, idleMs);
    slot.idle.unref();
  };

  // A slot with room for one more stream, which is counted at once: callers waiting on one connect resume together.
  const acquire = async (): Promise<Slot | undefined> => {
    for (;;) {
      if (unsupported) return undefined;
      if (closed) throw new Error('the upstream is closed');
      const slot = slots.find((s) => !s.draining && room(s) > 0);
      if (slot) {
        slot.streams += 1;
        clearTimeout(slot.idle);
        slot.idle = undefined;
        return slot;
      }
      connecting ??= connect().finally(() => (connecting = undefined));
      if ((await connecting) === undefined) return undefined;
    }
  };

  return {
    async request(method, path, headers) {
      const slot = await acquire();
      if (!slot) return undefined;
      let stream: ClientHttp2Stream;
      try {
        // endStream false: Node would end a GET at once, and the request side is ended by whoever writes its body.
        const pseudo = { ':method': method, ':path': path, ':authority': options.authority, ':scheme': 'https' };
        stream = slot.session.request({ ...http2Headers(headers), ...pseudo }, { endStream: false });
      } catch (err) {
        release(slot);
        throw err;
      }
      stream.once('close', () => release(slot));
      return new Http2UpstreamRequest(stream);
    },
    stats() {
      return { sessions: slots.length, streams: slots.reduce((sum, s) => sum + s.streams, 0) };
    },
    close() {
      closed = true;
      for (const slot of [...slots]) {
        forget(slot);
        slot.session.destroy();
      }
    },
  };
}

function http2Headers(headers: OutgoingHttpHeaders): Http2OutgoingHeaders {
  const out: Http2OutgoingHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    const key = name.toLowerCase();
    if (value === undefined || NOT_HTTP2.has(key)) continue;
    // TE is allowed only as "trailers".
    if (key === 'te' && value !== 'trailers') continue;
    out[key] = value;
  }
  return out;
}

/** The request side of one stream; `response` carries the answer as an {@link Http2UpstreamResponse}. */
class Http2UpstreamRequest extends Writable {
  private response: Http2UpstreamResponse | undefined;

  constructor(private readonly stream: ClientHttp2Stream) {
    // Not destroyed when the body is sent: the stream lives on until the answer ends.
    super({ autoDestroy: false });
    stream.once('response', (headers: Http2Headers) => {
      // Already failed (and answered with a Status): a late answer has nobody to go to.
      if (this.destroyed) return;
      this.response = new Http2UpstreamResponse(stream, headers);
      this.emit('response', this.response);
    });
    // As with HTTP/1.1: once the answer has begun, a failure is the answer's, not the request's.
    stream.once('error', (err: Error) => {
      if (this.response) this.response.destroy(err);
      else this.destroy(err);
    });
    stream.once('close', () => {
      // Closed with no answer and no error (a GOAWAY that left the stream unprocessed, say).
      if (!this.response && !this.destroyed) this.destroy(new Error(`the API server closed the HTTP/2 stream (code ${stream.rstCode ?? 'none'})`));
    });
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.stream.write(chunk, encoding, callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.stream.end(callback);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    // Abandoned by the caller: the answer goes with it, quietly, as the caller asked for it to end.
    this.response?.destroy();
    cancel(this.stream);
    callback(err);
  }
}

/** The answer of one stream, with HTTP/1.1's status fields so it relays like one. */
class Http2UpstreamResponse extends Readable implements UpstreamResponse {
  readonly statusCode: number;
  readonly statusMessage: string;
  readonly headers: IncomingHttpHeaders;

  constructor(
    private readonly stream: ClientHttp2Stream,
    headers: Http2Headers,
  ) {
    super();
    this.statusCode = Number(headers[':status']);
    this.statusMessage = STATUS_CODES[this.statusCode] ?? '';
    const plain: IncomingHttpHeaders = {};
    for (const [name, value] of Object.entries(headers)) if (!name.startsWith(':')) plain[name] = value;
    this.headers = plain;
    stream.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) stream.pause();
    });
    // A session torn down mid-answer also ends its streams' bodies; only the close code tells a complete answer
    // (NO_ERROR) from a cut one, so the answer ends at the close.
    stream.once('close', () => {
      if (this.destroyed) return;
      if (stream.rstCode === http2.constants.NGHTTP2_NO_ERROR && stream.readableEnded) {
        this.push(null);
        return;
      }
      this.emit('aborted');
      this.destroy(new Error(`the API server's HTTP/2 stream was reset (code ${stream.rstCode ?? 'unknown'}) before the answer was complete`));
    });
  }

  override _read(): void {
    this.stream.resume();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    cancel(this.stream);
    callback(err);
  }
}

// RST_STREAM(CANCEL), so the API server ends the watch; nothing to do once the stream is over.
function cancel(stream: ClientHttp2Stream): void {
  if (!stream.closed && !stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
}
