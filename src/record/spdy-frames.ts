/**
 * An incremental reader of SPDY/3.1 frames, for watching one direction of a
 * connection the proxy forwards unchanged (kubectl's SPDY exec and attach).
 * Data frame payloads are handed on as they arrive, so frames split across
 * TCP chunks cost no buffering; only a control frame is held until whole
 * (they are small: a SYN_STREAM carries one compressed header block).
 *
 * SPDY/3 header blocks are zlib streams compressed with a fixed dictionary,
 * one compression context per direction for the whole connection. Node's
 * synchronous zlib API starts a fresh context on every call, so the reader
 * keeps the compressed blocks of its direction and inflates them all again
 * (sync-flushed) at each new block, keeping only the new output: quadratic
 * in theory, but an exec session opens at most five streams, and the history
 * is capped. This keeps decoding synchronous, so chunks reach the
 * recorder in the order they were forwarded.
 *
 * Anything that breaks the framing (a version other than 3, an unknown
 * control frame type, a bad length, a header block that does not inflate)
 * stops the reader for good: `failure` says why, and later bytes are
 * ignored. It never throws.
 *
 * @module
 */

import { constants, inflateSync } from 'node:zlib';
import { FrameReader } from './frame-reader.js';

/** Receives the streams and data of one direction. */
export interface SpdySink {
  /** A SYN_STREAM opened `streamId`; header names are lowercase (as SPDY/3 requires), values as sent. */
  streamOpened(streamId: number, headers: ReadonlyMap<string, string>): void;
  /** The next payload bytes of a data frame on `streamId`. May be a view into the chunk pushed. */
  data(streamId: number, data: Buffer): void;
  /** `streamId` carries nothing more in this direction (FIN flag, or RST_STREAM). */
  finished(streamId: number): void;
}

// Control frame types (SETTINGS = 4 has a variable length and is skipped; 5 was NOOP, gone in v3).
const SYN_STREAM = 1;
const SYN_REPLY = 2;
const RST_STREAM = 3;
const PING = 6;
const GOAWAY = 7;
const HEADERS = 8;
const WINDOW_UPDATE = 9;
export const FLAG_FIN = 0x01;

const VERSION = 3;
const HEADER_LENGTH = 8;
const STREAM_ID_MASK = 0x7fff_ffff;
// Control frames are held whole; the header blocks kubectl and the API server send are a few hundred bytes.
const MAX_CONTROL_PAYLOAD = 64 * 1024;
const MAX_HEADER_HISTORY = 256 * 1024;
const MAX_HEADER_OUTPUT = 1024 * 1024;
// The fixed payload sizes of control frames that carry no header block.
const FIXED_LENGTH: ReadonlyMap<number, number> = new Map([
  [RST_STREAM, 8],
  [PING, 4],
  [GOAWAY, 8],
  [WINDOW_UPDATE, 8],
]);

/**
 * The SPDY/3 header compression dictionary (draft 3, section 2.6.10.1):
 * length-prefixed words, then a run of raw text. Its Adler-32 is 0xe3c6a7c2.
 */
export const SPDY3_DICTIONARY: Buffer = Buffer.concat([
  ...[
    'options', 'head', 'post', 'put', 'delete', 'trace', 'accept', 'accept-charset', 'accept-encoding', 'accept-language',
    'accept-ranges', 'age', 'allow', 'authorization', 'cache-control', 'connection', 'content-base', 'content-encoding',
    'content-language', 'content-length', 'content-location', 'content-md5', 'content-range', 'content-type', 'date', 'etag',
    'expect', 'expires', 'from', 'host', 'if-match', 'if-modified-since', 'if-none-match', 'if-range', 'if-unmodified-since',
    'last-modified', 'location', 'max-forwards', 'pragma', 'proxy-authenticate', 'proxy-authorization', 'range', 'referer',
    'retry-after', 'server', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'user-agent', 'vary', 'via', 'warning',
    'www-authenticate', 'method', 'get', 'status', '200 OK', 'version', 'HTTP/1.1', 'url', 'public', 'set-cookie', 'keep-alive',
    'origin',
  ].map((word) => {
    const b = Buffer.alloc(4 + word.length);
    b.writeUInt32BE(word.length);
    b.write(word, 4, 'latin1');
    return b;
  }),
  Buffer.from(
    '100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505' +
      '203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized' +
      '403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable' +
      'Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT' +
      'chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,' +
      'text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.',
    'latin1',
  ),
]);

export class SpdyFrameReader extends FrameReader {
  readonly #sink: SpdySink;
  #control: { type: number; flags: number; payload: Buffer; have: number } | undefined;
  #streamId = 0;
  #dataFlags = 0;
  /** This direction's compressed header blocks, and how much of their inflated output was already read. */
  readonly #blocks: Buffer[] = [];
  #blockBytes = 0;
  #inflated = 0;

  constructor(sink: SpdySink) {
    super(HEADER_LENGTH, HEADER_LENGTH);
    this.#sink = sink;
  }

  protected payload(chunk: Buffer, at: number): number {
    const n = Math.min(this.remaining, chunk.length - at);
    this.remaining -= n;
    const control = this.#control;
    if (control) {
      chunk.copy(control.payload, control.have, at, at + n);
      control.have += n;
      if (this.remaining === 0) this.#controlFrame(control.type, control.flags, control.payload);
    } else {
      this.#sink.data(this.#streamId, chunk.subarray(at, at + n));
      if (this.remaining === 0) this.#endData();
    }
    return n;
  }

  protected parseHeader(): void {
    const h = this.header;
    this.have = 0;
    const flags = h[4]!;
    const length = h.readUIntBE(5, 3);
    if ((h[0]! & 0x80) === 0) {
      this.#control = undefined;
      this.#streamId = h.readUInt32BE(0) & STREAM_ID_MASK;
      this.#dataFlags = flags;
      this.remaining = length;
      if (length === 0) this.#endData();
      return;
    }
    const version = h.readUInt16BE(0) & 0x7fff;
    if (version !== VERSION) return this.fail(`SPDY version ${version} is not 3`);
    const type = h.readUInt16BE(2);
    const fixed = FIXED_LENGTH.get(type);
    if (fixed !== undefined ? length !== fixed : type < SYN_STREAM || type > WINDOW_UPDATE || type === 5) {
      return this.fail(`control frame type ${type} with length ${length} is not SPDY/3.1`);
    }
    if (length > MAX_CONTROL_PAYLOAD) return this.fail(`a control frame of ${length} bytes is too large`);
    this.#control = { type, flags, payload: Buffer.alloc(length), have: 0 };
    this.remaining = length;
    if (length === 0) this.#controlFrame(type, flags, this.#control.payload);
  }

  #endData(): void {
    if ((this.#dataFlags & FLAG_FIN) !== 0) this.#sink.finished(this.#streamId);
  }

  #controlFrame(type: number, flags: number, payload: Buffer): void {
    this.#control = undefined;
    // SYN_STREAM: stream id, associated stream id, priority, slot, then the header block; SYN_REPLY and HEADERS: stream id, then the block.
    const blockAt = type === SYN_STREAM ? 10 : type === SYN_REPLY || type === HEADERS ? 4 : undefined;
    if (blockAt !== undefined || type === RST_STREAM) {
      if (payload.length < Math.max(blockAt ?? 0, 4)) return this.fail(`control frame type ${type} is too short`);
    }
    const streamId = payload.length >= 4 ? payload.readUInt32BE(0) & STREAM_ID_MASK : 0;
    if (blockAt !== undefined) {
      // Every block feeds this direction's compression context, even those not read.
      this.#blocks.push(payload.subarray(blockAt));
      this.#blockBytes += payload.length - blockAt;
      if (this.#blockBytes > MAX_HEADER_HISTORY) return this.fail('the header blocks exceed what the recorder keeps');
      // Each block is inflated as it comes, so the next one's output starts where this one's ends.
      const block = this.#inflateLast();
      if (!block) return;
      if (type === SYN_STREAM) {
        const headers = parseNameValueBlock(block);
        if (!headers) return this.fail('a header block is malformed');
        this.#sink.streamOpened(streamId, headers);
      }
    }
    if (type === RST_STREAM || (blockAt !== undefined && (flags & FLAG_FIN) !== 0)) this.#sink.finished(streamId);
  }

  /** Inflates the header blocks so far and returns the newest one's output. */
  #inflateLast(): Buffer | undefined {
    let out: Buffer;
    try {
      out = inflateSync(Buffer.concat(this.#blocks), {
        dictionary: SPDY3_DICTIONARY,
        finishFlush: constants.Z_SYNC_FLUSH,
        maxOutputLength: MAX_HEADER_OUTPUT,
      });
    } catch (err) {
      this.fail(`a header block does not inflate (${err instanceof Error ? err.message : String(err)})`);
      return undefined;
    }
    const block = out.subarray(this.#inflated);
    this.#inflated = out.length;
    return block;
  }

}

/** A SPDY/3 name/value block: a 32-bit count, then 32-bit-length-prefixed names and values. */
function parseNameValueBlock(block: Buffer): Map<string, string> | undefined {
  const headers = new Map<string, string>();
  let at = 0;
  const next = (): string | undefined => {
    if (at + 4 > block.length) return undefined;
    const n = block.readUInt32BE(at);
    if (at + 4 + n > block.length) return undefined;
    const s = block.toString('latin1', at + 4, at + 4 + n);
    at += 4 + n;
    return s;
  };
  if (block.length < 4) return undefined;
  const count = block.readUInt32BE(0);
  at = 4;
  for (let i = 0; i < count; i++) {
    const name = next();
    const value = next();
    if (name === undefined || value === undefined) return undefined;
    headers.set(name.toLowerCase(), value);
  }
  return at === block.length ? headers : undefined;
}

/**
 * One data frame, as written to a SPDY stream.
 *
 * @example
 * dataFrame(1, Buffer.from('{"status":"Failure"}'), FLAG_FIN);
 */
export function dataFrame(streamId: number, payload: Buffer, flags = 0): Buffer {
  const frame = Buffer.alloc(HEADER_LENGTH + payload.length);
  frame.writeUInt32BE(streamId & STREAM_ID_MASK);
  frame[4] = flags;
  frame.writeUIntBE(payload.length, 5, 3);
  payload.copy(frame, HEADER_LENGTH);
  return frame;
}
