import { Duplex } from 'node:stream';
import type { Frame } from './frames.js';

/** What a stream needs from its session. @internal */
export interface StreamLink {
  /** Bytes either side may have unacknowledged in flight on one stream. */
  readonly windowBytes: number;
  readonly maxFrameBytes: number;
  /** Hands a frame to the WebSocket; `done` runs once it was written (or with the reason it could not be). */
  send(frame: Frame, done?: (err?: Error) => void): void;
  /** The stream is gone: forget its id. */
  released(stream: TunnelStream): void;
}

/** The peer reset the stream (or the stream was reset locally); `code` matches a reset TCP connection. */
export class TunnelResetError extends Error {
  readonly code = 'ECONNRESET';
  constructor(readonly reason: string) {
    super(`the tunnel stream was reset: ${reason}`);
    this.name = 'TunnelResetError';
  }
}

interface PendingWrite {
  rest: Buffer;
  inFlight: number;
  error: Error | undefined;
  callback: (err?: Error | null) => void;
}

/**
 * One multiplexed byte stream of a tunnel session. It behaves enough like a
 * `net.Socket` for node's HTTP client and server: `end()` half-closes (END),
 * an abortive `destroy()` resets (RESET), and writes are flow-controlled per
 * stream by credit, so a consumer that stops reading blocks only its own
 * sender, never the tunnel.
 */
export class TunnelStream extends Duplex {
  readonly id: number;
  readonly remoteAddress = 'tunnel';
  readonly localAddress = 'tunnel';
  // The stream id stands in for both ports, so logs can tell streams apart.
  readonly remotePort: number;
  readonly localPort: number;
  readonly connecting = false;
  /** Payload bytes handed to the WebSocket. */
  bytesWritten = 0;
  /** Idle timeout in ms, 0 when off (as on net.Socket). */
  timeout = 0;

  private readonly link: StreamLink;
  private sendCredit: number;
  private unacknowledged = 0;
  private readonly creditBatch: number;
  private pending: PendingWrite | undefined;
  private sentEnd = false;
  private peerEnded = false;
  private resetByPeer = false;
  private sessionGone = false;
  private idleTimer: NodeJS.Timeout | undefined;

  /** @internal Created by the session. */
  constructor(id: number, link: StreamLink) {
    super({ allowHalfOpen: true });
    this.id = id;
    this.remotePort = id;
    this.localPort = id;
    this.link = link;
    this.sendCredit = link.windowBytes;
    // Returning credit in batches keeps CREDIT frames few; a quarter window keeps the sender from ever running dry.
    this.creditBatch = Math.max(1, Math.floor(link.windowBytes / 4));
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.pending = { rest: chunk, inFlight: 0, error: undefined, callback };
    this.activity();
    this.pump();
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.sentEnd = true;
    this.link.send({ type: 'end', streamId: this.id }, (err) => callback(err));
  }

  override _read(): void {
    this.returnCredit();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    // Like closing a TCP socket: after our END with nothing left unread it is a clean close; otherwise the peer is told.
    const clean = this.sentEnd && (this.peerEnded || this.readableLength === 0);
    if (!clean && !this.resetByPeer && !this.sessionGone) {
      this.link.send({ type: 'reset', streamId: this.id, reason: err?.message ?? 'the stream was closed before it ended' });
    }
    this.pending = undefined;
    clearTimeout(this.idleTimer);
    this.link.released(this);
    callback(err);
  }

  /** Ends the write side and destroys the stream once it is written, as `net.Socket#destroySoon` does. */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  /** Emits 'timeout' after `ms` without data either way (0 turns it off), as `net.Socket#setTimeout` does. */
  setTimeout(ms: number, callback?: () => void): this {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.timeout = ms;
    if (ms > 0) {
      this.idleTimer = setTimeout(() => this.emit('timeout'), ms);
      this.idleTimer.unref();
    }
    if (callback) {
      if (ms > 0) this.once('timeout', callback);
      else this.off('timeout', callback);
    }
    return this;
  }

  // Frames leave as soon as they are written and the session pings for liveness: these are no-ops.
  setNoDelay(_noDelay?: boolean): this {
    return this;
  }
  setKeepAlive(_enable?: boolean, _initialDelay?: number): this {
    return this;
  }
  // A stream holds no handle of its own; the WebSocket's socket is what keeps the process alive.
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }

  /** @internal DATA arrived; returns a protocol violation, if any. */
  receiveData(data: Buffer): string | undefined {
    if (this.peerEnded) return `DATA after END on stream ${this.id}`;
    if (this.unacknowledged + data.length > this.link.windowBytes) {
      return `stream ${this.id} sent ${this.unacknowledged + data.length} bytes beyond its ${this.link.windowBytes}-byte window`;
    }
    this.unacknowledged += data.length;
    this.activity();
    if (this.push(data)) this.returnCredit();
    return undefined;
  }

  /** @internal END arrived. */
  receiveEnd(): string | undefined {
    if (this.peerEnded) return `a second END on stream ${this.id}`;
    this.peerEnded = true;
    this.push(null);
    return undefined;
  }

  /** @internal RESET arrived. */
  receiveReset(reason: string): void {
    // Both sides already ended: the reset only says the peer stopped reading, and nothing is lost.
    if (this.sentEnd && this.peerEnded) return;
    this.resetByPeer = true;
    this.destroy(new TunnelResetError(reason));
  }

  /** @internal CREDIT arrived; returns a protocol violation, if any. */
  receiveCredit(bytes: number): string | undefined {
    if (this.sendCredit + bytes > this.link.windowBytes) return `stream ${this.id} returned more credit than was sent`;
    this.sendCredit += bytes;
    this.pump();
    return undefined;
  }

  /** @internal The session closed: fail without sending anything (a stream already ended both ways has nothing to fail). */
  abort(err: Error): void {
    this.sessionGone = true;
    this.destroy(this.sentEnd && this.peerEnded ? undefined : err);
  }

  // Sends as much of the pending write as credit allows; its callback runs once all of it was written.
  private pump(): void {
    const write = this.pending;
    if (!write) return;
    while (write.rest.length > 0 && this.sendCredit > 0) {
      const n = Math.min(write.rest.length, this.sendCredit, this.link.maxFrameBytes);
      const data = write.rest.subarray(0, n);
      write.rest = write.rest.subarray(n);
      this.sendCredit -= n;
      this.bytesWritten += n;
      write.inFlight++;
      this.link.send({ type: 'data', streamId: this.id, data }, (err) => {
        write.inFlight--;
        write.error ??= err;
        this.settle(write);
      });
    }
  }

  private settle(write: PendingWrite): void {
    if (write.rest.length > 0 || write.inFlight > 0 || this.pending !== write) return;
    this.pending = undefined;
    write.callback(write.error);
  }

  private returnCredit(): void {
    if (this.unacknowledged < this.creditBatch || this.peerEnded || this.destroyed) return;
    const bytes = this.unacknowledged;
    this.unacknowledged = 0;
    this.link.send({ type: 'credit', streamId: this.id, bytes });
  }

  private activity(): void {
    this.idleTimer?.refresh();
  }
}
