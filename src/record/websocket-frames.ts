/**
 * An incremental reader of RFC 6455 WebSocket frames, for watching one
 * direction of a connection the proxy forwards unchanged. It keeps only a
 * frame header (at most 14 bytes) between calls: payload bytes are handed on
 * as they arrive, unmasked, so frames split across TCP chunks and messages
 * fragmented into many frames cost no buffering. Control frames (close,
 * ping, pong) may come between the fragments of a message and are skipped.
 *
 * A sink that rewrites the connection (exec output masking) also asks for
 * the end of each data message and for the control frames, whole (they are
 * at most 125 bytes); a sink that only watches leaves those out.
 *
 * Anything that breaks the framing rules (reserved bits or opcodes, a
 * continuation with no message open, an oversized or fragmented control
 * frame, a length beyond 2^53) stops the reader for good: `failure` says why,
 * and later bytes are ignored. It never throws.
 *
 * @module
 */

import { FrameReader } from './frame-reader.js';

/** Receives the data messages of one direction. */
export interface FrameSink {
  /** A data message starts (opcode 1 text, 2 binary); its payload follows through `payload`. */
  messageStart(opcode: number): void;
  /** The next unmasked payload bytes of the current data message. May be a view into the chunk pushed. */
  payload(data: Buffer): void;
  /** The current data message's final frame has ended. */
  messageEnd?(): void;
  /** A whole control frame (8 close, 9 ping, 10 pong), its payload unmasked. */
  control?(opcode: number, payload: Buffer): void;
}

const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;
const MAX_HEADER = 14;
// 2^53: lengths beyond this cannot be counted exactly in a JavaScript number.
const MAX_HIGH_WORD = 0x1fffff;

export class WebSocketFrameReader extends FrameReader {
  readonly #sink: FrameSink;
  #masked = false;
  /** Where the mask key sits in `header`, and the payload's position in it. */
  #keyAt = 0;
  #maskAt = 0;
  /** The current frame is a control frame: its payload is skipped, or held for `sink.control`. */
  #control = false;
  #opcode = 0;
  /** The current frame is the final one of its message. */
  #fin = false;
  readonly #controlPayload = Buffer.alloc(125);
  #controlHave = 0;
  /** A fragmented data message is open (its final frame has not come). */
  #inMessage = false;

  constructor(sink: FrameSink) {
    // A header needs 2 bytes until its length byte says more.
    super(MAX_HEADER, 2);
    this.#sink = sink;
  }

  protected payload(chunk: Buffer, at: number): number {
    const n = Math.min(this.remaining, chunk.length - at);
    this.remaining -= n;
    if (this.#control) {
      if (this.#sink.control) {
        this.#unmask(chunk.subarray(at, at + n)).copy(this.#controlPayload, this.#controlHave);
        this.#controlHave += n;
      }
    } else {
      this.#sink.payload(this.#unmask(chunk.subarray(at, at + n)));
    }
    if (this.remaining === 0) this.#frameEnd();
    return n;
  }

  /** The forwarded bytes stay masked; the sink gets an unmasked copy. */
  #unmask(piece: Buffer): Buffer {
    if (!this.#masked) return piece;
    const n = piece.length;
    const out = Buffer.allocUnsafe(n);
    const key = this.#keyAt;
    let m = this.#maskAt;
    for (let i = 0; i < n; i++) out[i] = piece[i]! ^ this.header[key + (m++ & 3)]!;
    this.#maskAt = m & 3;
    return out;
  }

  #frameEnd(): void {
    if (this.#control) this.#sink.control?.(this.#opcode, Buffer.from(this.#controlPayload.subarray(0, this.#controlHave)));
    else if (this.#fin) this.#sink.messageEnd?.();
  }

  protected parseHeader(): void {
    const h = this.header;
    const b0 = h[0]!;
    const b1 = h[1]!;
    const len7 = b1 & 0x7f;
    const masked = (b1 & 0x80) !== 0;
    const need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0);
    if (this.need < need) {
      this.need = need;
      return;
    }
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    if ((b0 & 0x70) !== 0) return this.fail('reserved bits are set (a compression extension is not supported)');
    let length = len7;
    if (len7 === 126) length = h.readUInt16BE(2);
    else if (len7 === 127) {
      const high = h.readUInt32BE(2);
      if (high > MAX_HIGH_WORD) return this.fail('the frame length is too large');
      length = high * 0x1_0000_0000 + h.readUInt32BE(6);
    }
    const control = opcode >= OP_CLOSE;
    if (control) {
      if (opcode !== OP_CLOSE && opcode !== OP_PING && opcode !== OP_PONG) return this.fail(`unknown control opcode ${opcode}`);
      if (!fin || length > 125) return this.fail('a control frame is fragmented or longer than 125 bytes');
    } else if (opcode === OP_CONTINUATION) {
      if (!this.#inMessage) return this.fail('a continuation frame came with no message open');
      this.#inMessage = !fin;
    } else if (opcode === OP_TEXT || opcode === OP_BINARY) {
      if (this.#inMessage) return this.fail('a new message started inside a fragmented one');
      this.#inMessage = !fin;
      this.#sink.messageStart(opcode);
    } else {
      return this.fail(`unknown opcode ${opcode}`);
    }
    this.#control = control;
    this.#opcode = opcode;
    this.#fin = fin;
    this.#controlHave = 0;
    this.#masked = masked;
    // The mask key stays in `header` while the payload is read; the next header is read only after it.
    this.#keyAt = need - 4;
    this.#maskAt = 0;
    this.remaining = length;
    this.have = 0;
    this.need = 2;
    if (length === 0) this.#frameEnd();
  }

}

/**
 * One unfragmented, unmasked frame, as a server sends it.
 *
 * @example
 * serverFrame(0x2, Buffer.from([3, ...Buffer.from('{"status":"Failure"}')]));
 */
export function serverFrame(opcode: number, payload: Buffer): Buffer {
  const n = payload.length;
  const headerLength = n < 126 ? 2 : n < 0x10000 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + n);
  frame[0] = 0x80 | opcode;
  if (n < 126) frame[1] = n;
  else if (n < 0x10000) {
    frame[1] = 126;
    frame.writeUInt16BE(n, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(n / 0x1_0000_0000), 2);
    frame.writeUInt32BE(n % 0x1_0000_0000, 6);
  }
  payload.copy(frame, headerLength);
  return frame;
}
