/**
 * Framing JSON values in a byte stream without parsing them: tracks strings
 * (with escapes) and nesting byte by byte, so values split across chunks at
 * any byte (inside a string, an escape or a UTF-8 sequence) come out whole.
 *
 * @module
 */
import { GatehouseError } from '../errors/codes.js';

/** Default most bytes a masking stream holds at once (one event, item or member): objects are capped at ~1.5 MB by etcd. */
export const DEFAULT_MAX_HELD_BYTES = 16 * 1024 * 1024;
/** Paths kept in a stream's cumulative report. */
export const DEFAULT_STREAM_REPORT_PATHS = 64;

/** An error of a masking stream: the response could not be masked, so nothing more of it is forwarded. */
export function maskStreamError(what: string, message: string): GatehouseError {
  return new GatehouseError('GH_MASKING_FAILED', `masking the ${what} failed: ${message}`);
}

/** True for JSON whitespace. */
export function isJsonSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * Frames one JSON value at a time. Call {@link feed} with the chunk and the
 * index of the value's first byte (then with following chunks from 0) until
 * it returns the index just after the value; {@link take} returns its bytes.
 * Holds at most `maxBytes` of one value.
 */
export class JsonValueFramer {
  private parts: Buffer[] = [];
  private size = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private scalar = false;
  private started = false;
  private done: Buffer | undefined;

  constructor(
    private readonly maxBytes: number,
    private readonly what: string,
  ) {}

  /** True while a value is started and not complete. */
  get active(): boolean {
    return this.started;
  }

  /**
   * Consumes bytes of the current value from `chunk[from]` on (the first call
   * must start at the value's first byte). Returns the index just after the
   * value when it completes in this chunk, else -1 (the bytes are kept).
   *
   * @throws GatehouseError when the value grows past `maxBytes`.
   */
  feed(chunk: Buffer, from: number): number {
    let i = from;
    if (!this.started) {
      this.started = true;
      const c = chunk[i]!;
      if (c === 0x7b || c === 0x5b) this.depth = 1;
      else if (c === 0x22) this.inString = true;
      else this.scalar = true;
      i++;
    }
    const n = chunk.length;
    for (; i < n; i++) {
      const c = chunk[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 0x5c) this.escaped = true;
        else if (c === 0x22) {
          this.inString = false;
          if (this.depth === 0) return this.complete(chunk, from, i + 1);
        }
      } else if (this.scalar) {
        if (c === 0x2c || c === 0x7d || c === 0x5d || isJsonSpace(c)) return this.complete(chunk, from, i);
      } else if (c === 0x22) this.inString = true;
      else if (c === 0x7b || c === 0x5b) this.depth++;
      else if ((c === 0x7d || c === 0x5d) && --this.depth === 0) return this.complete(chunk, from, i + 1);
    }
    this.parts.push(chunk.subarray(from));
    this.size += n - from;
    if (this.size > this.maxBytes) throw this.tooLarge();
    return -1;
  }

  /** At the end of input: a scalar still open is complete there; anything else open is truncated (undefined). */
  finish(): Buffer | undefined {
    if (!this.started || !this.scalar) return undefined;
    this.done = Buffer.concat(this.parts, this.size);
    this.reset();
    return this.done;
  }

  /** The bytes of the value that just completed. */
  take(): Buffer {
    const done = this.done!;
    this.done = undefined;
    return done;
  }

  private complete(chunk: Buffer, from: number, end: number): number {
    const tail = chunk.subarray(from, end);
    const size = this.size + tail.length;
    if (size > this.maxBytes) throw this.tooLarge();
    this.done = this.parts.length === 0 ? tail : Buffer.concat([...this.parts, tail], size);
    this.reset();
    return end;
  }

  private reset(): void {
    this.parts = [];
    this.size = 0;
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.scalar = false;
    this.started = false;
  }

  private tooLarge(): GatehouseError {
    return maskStreamError(this.what, `a value is larger than ${this.maxBytes} bytes, the most the gateway holds to mask one`);
  }
}

/** Parses a framed value. @throws GatehouseError when it is not JSON. */
export function parseFramed(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw maskStreamError(what, `not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
}
