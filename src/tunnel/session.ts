import { EventEmitter } from 'node:events';
import type { RawData, WebSocket } from 'ws';
import { decodeFrame, encodeFrame, FRAME_HEADER_BYTES } from './frames.js';
import type { Frame } from './frames.js';
import { TunnelStream } from './stream.js';
import type { StreamLink } from './stream.js';

export { TunnelResetError, TunnelStream } from './stream.js';

/** The WebSocket subprotocol both ends of a tunnel speak. */
export const TUNNEL_SUBPROTOCOL = 'gatehouse-tunnel.v1';

export interface TunnelSessionOptions {
  /** The gateway opens streams; the agent accepts them. */
  side: 'gateway' | 'agent';
  /** Per-stream flow-control window; both ends must use the same value. Default 256 KiB. */
  initialWindowBytes?: number;
  /** Largest DATA payload in one frame. Default 64 KiB. */
  maxFrameBytes?: number;
  /** WebSocket ping interval; two intervals without a pong close the session. Default 15 s. */
  pingIntervalMs?: number;
}

export interface TunnelStats {
  openStreams: number;
  /** WebSocket message bytes received and sent, frame headers included. */
  bytesIn: number;
  bytesOut: number;
}

export interface TunnelSessionEvents {
  /** Agent side: the gateway opened a stream. */
  stream: [stream: TunnelStream];
  /** A CONTROL message from the peer. */
  control: [message: Record<string, unknown>];
  /** Emitted exactly once. */
  close: [info: { reason: string }];
}

/** A multiplexed tunnel over one WebSocket, between the gateway and a cluster agent. */
export interface TunnelSession extends EventEmitter<TunnelSessionEvents> {
  readonly side: 'gateway' | 'agent';
  readonly closed: boolean;
  /**
   * Gateway side: opens a stream to the agent. Throws {@link TunnelClosedError} once the session closed.
   * Pass it to node's HTTP client as `createConnection` and leave `agent` unset: with `agent: false`
   * node (20) ignores `createConnection` and dials TCP.
   */
  openStream(): TunnelStream;
  sendControl(message: Record<string, unknown>): void;
  close(reason: string): void;
  openStreams(): number;
  stats(): TunnelStats;
}

/** The tunnel went away; every stream still open fails with it. */
export class TunnelClosedError extends Error {
  readonly code = 'ETUNNELCLOSED';
  constructor(
    readonly reason: string,
    peer: string = 'the cluster agent',
  ) {
    super(`the tunnel to ${peer} closed: ${reason}`);
    this.name = 'TunnelClosedError';
  }
}

const DEFAULT_WINDOW_BYTES = 256 * 1024;
const DEFAULT_MAX_FRAME_BYTES = 64 * 1024;
const DEFAULT_PING_INTERVAL_MS = 15_000;
const MAX_STREAM_ID = 0xffff_ffff;
// WebSocket close codes: normal closure and protocol error (RFC 6455 §7.4.1).
const CLOSE_NORMAL = 1000;
const CLOSE_PROTOCOL_ERROR = 1002;
// A close frame's reason may hold at most 123 bytes.
const MAX_CLOSE_REASON_BYTES = 123;

/**
 * The largest WebSocket message a session sends: use it (or more) as `maxPayload`
 * on either end's WebSocket.
 */
export function maxTunnelMessageBytes(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES): number {
  return FRAME_HEADER_BYTES + maxFrameBytes;
}

/**
 * Runs the tunnel protocol over an open WebSocket. The gateway side opens
 * streams (odd ids); the agent side emits `'stream'` for each. Protocol
 * violations close the whole session with the reason; the session also
 * closes when the WebSocket does or stops answering pings.
 *
 * @example
 * const session = createTunnelSession(ws, { side: 'gateway' });
 * const req = http.request({ createConnection: () => session.openStream(), path: '/version' });
 */
export function createTunnelSession(ws: WebSocket, options: TunnelSessionOptions): TunnelSession {
  return new Session(ws, options);
}

class Session extends EventEmitter<TunnelSessionEvents> implements TunnelSession, StreamLink {
  readonly side: 'gateway' | 'agent';
  readonly windowBytes: number;
  readonly maxFrameBytes: number;
  private readonly ws: WebSocket;
  private readonly streams = new Map<number, TunnelStream>();
  private readonly peer: string;
  private nextStreamId = 1;
  private lastPeerStreamId = 0;
  private bytesIn = 0;
  private bytesOut = 0;
  private missedPongs = 0;
  private readonly pinger: NodeJS.Timeout;
  private isClosed = false;

  constructor(ws: WebSocket, options: TunnelSessionOptions) {
    super();
    this.ws = ws;
    this.side = options.side;
    this.peer = options.side === 'gateway' ? 'the cluster agent' : 'the gateway';
    this.windowBytes = options.initialWindowBytes ?? DEFAULT_WINDOW_BYTES;
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data, isBinary) => this.receive(data, isBinary));
    ws.on('pong', () => {
      this.missedPongs = 0;
    });
    ws.on('close', (code, reason) => this.shutdown(reason.toString('utf8') || `the WebSocket closed with code ${code}`));
    ws.on('error', (err) => this.shutdown(err.message));
    const interval = options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS;
    this.pinger = setInterval(() => this.ping(), interval);
    this.pinger.unref();
  }

  get closed(): boolean {
    return this.isClosed;
  }

  openStream(): TunnelStream {
    if (this.side !== 'gateway') throw new Error('only the gateway opens tunnel streams');
    if (this.isClosed) throw new TunnelClosedError('the session is closed', this.peer);
    if (this.nextStreamId > MAX_STREAM_ID) {
      this.close('stream ids exhausted');
      throw new TunnelClosedError('stream ids exhausted', this.peer);
    }
    const stream = new TunnelStream(this.nextStreamId, this);
    this.nextStreamId += 2;
    this.streams.set(stream.id, stream);
    this.send({ type: 'open', streamId: stream.id });
    return stream;
  }

  sendControl(message: Record<string, unknown>): void {
    this.send({ type: 'control', message });
  }

  close(reason: string): void {
    this.shutdown(reason, CLOSE_NORMAL);
  }

  openStreams(): number {
    return this.streams.size;
  }

  stats(): TunnelStats {
    return { openStreams: this.streams.size, bytesIn: this.bytesIn, bytesOut: this.bytesOut };
  }

  send(frame: Frame, done?: (err?: Error) => void): void {
    if (this.isClosed) {
      if (done) process.nextTick(done, new TunnelClosedError('the session is closed', this.peer));
      return;
    }
    const message = encodeFrame(frame);
    this.bytesOut += message.length;
    this.ws.send(message, done && ((err) => done(err)));
  }

  released(stream: TunnelStream): void {
    if (this.streams.get(stream.id) === stream) this.streams.delete(stream.id);
  }

  private receive(data: RawData, isBinary: boolean): void {
    if (this.isClosed) return;
    if (!isBinary || !Buffer.isBuffer(data)) return this.violation('a text message is not a tunnel frame');
    this.bytesIn += data.length;
    let frame: Frame;
    try {
      frame = decodeFrame(data);
    } catch (err) {
      return this.violation((err as Error).message);
    }
    const problem = this.dispatch(frame);
    if (problem) this.violation(problem);
  }

  // Returns a protocol violation, if any.
  private dispatch(frame: Frame): string | undefined {
    if (frame.type === 'control') {
      this.emit('control', frame.message);
      return undefined;
    }
    if (frame.type === 'open') return this.accept(frame.streamId);
    const stream = this.streams.get(frame.streamId);
    switch (frame.type) {
      case 'data':
        if (frame.data.length > this.maxFrameBytes) return `a DATA frame of ${frame.data.length} bytes exceeds ${this.maxFrameBytes}`;
        if (!stream) return this.resetUnknown(frame.streamId);
        return stream.receiveData(frame.data);
      case 'end':
        if (!stream) return this.resetUnknown(frame.streamId);
        return stream.receiveEnd();
      case 'reset':
        stream?.receiveReset(frame.reason);
        return undefined;
      case 'credit':
        // Credit for a stream already gone is normal: it crossed our RESET or END.
        return stream?.receiveCredit(frame.bytes);
    }
  }

  private accept(streamId: number): string | undefined {
    if (this.side !== 'agent') return 'the agent may not open streams';
    if (streamId % 2 !== 1 || streamId <= this.lastPeerStreamId) return `OPEN for stream ${streamId}, which is not a new odd id`;
    this.lastPeerStreamId = streamId;
    const stream = new TunnelStream(streamId, this);
    this.streams.set(streamId, stream);
    if (this.listenerCount('stream') === 0) stream.destroy(new Error('nobody accepts tunnel streams'));
    else this.emit('stream', stream);
    return undefined;
  }

  private resetUnknown(streamId: number): undefined {
    this.send({ type: 'reset', streamId, reason: 'no such stream' });
    return undefined;
  }

  private violation(problem: string): void {
    this.shutdown(`protocol error: ${problem}`, CLOSE_PROTOCOL_ERROR);
  }

  private ping(): void {
    if (this.missedPongs >= 2) {
      this.ws.terminate();
      this.shutdown('no answer to pings');
      return;
    }
    this.missedPongs++;
    this.ws.ping();
  }

  private shutdown(reason: string, closeCode?: number): void {
    if (this.isClosed) return;
    this.isClosed = true;
    clearInterval(this.pinger);
    const error = new TunnelClosedError(reason, this.peer);
    for (const stream of [...this.streams.values()]) stream.abort(error);
    this.streams.clear();
    if (closeCode !== undefined && this.ws.readyState === this.ws.OPEN) this.ws.close(closeCode, closeReason(reason));
    this.emit('close', { reason });
  }
}

function closeReason(reason: string): string {
  let out = reason;
  while (Buffer.byteLength(out) > MAX_CLOSE_REASON_BYTES) out = out.slice(0, -1);
  return out;
}
