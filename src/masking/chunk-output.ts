/**
 * Assembling the output of a masking stream from pieces of the input
 * (forwarded byte for byte) and re-serialised JSON text.
 *
 * @module
 */

const EMPTY = Buffer.alloc(0);
// Below half of Node's pool size: a first buffer this small is carved from the shared pool, not allocated on its own.
const FIRST_ROOM = 4095;

/**
 * The bytes a masking stream is about to push, written into one buffer as
 * they come: input bytes are copied, text is encoded in place. A run of
 * masked list items then costs no string concatenation, no buffer per item
 * and no concat.
 */
export class ChunkOutput {
  /** Where the next bytes go: `buf[0, size)` is pending, the rest is free room. */
  private buf: Buffer = EMPTY;
  private size = 0;

  /** Bytes allocated at least when room runs out: what the largest output so far came to, up to `capacity`. */
  private room: number;

  /**
   * @param capacity the most allocated ahead when room runs out: about what the stream pushes at once. A stream
   * starts small and allocates what its outputs have needed, so masking one small object (an agent's GET) does not
   * allocate a LIST's worth per request.
   */
  constructor(private readonly capacity: number) {
    this.room = Math.min(capacity, FIRST_ROOM);
  }

  /** Bytes pending. */
  get pending(): number {
    return this.size;
  }

  /** Adds input bytes, forwarded as they are. */
  bytes(piece: Buffer): void {
    this.range(piece, 0, piece.length);
  }

  /** Adds `chunk[from, to)`. */
  range(chunk: Buffer, from: number, to: number): void {
    if (to <= from) return;
    this.reserve(to - from);
    chunk.copy(this.buf, this.size, from, to);
    this.size += to - from;
  }

  /** Adds text, written as UTF-8. */
  string(text: string): void {
    // A UTF-16 unit takes at most 3 bytes; count exactly only when that bound does not fit.
    if (this.buf.length - this.size < text.length * 3) this.reserve(Buffer.byteLength(text, 'utf8'));
    this.size += this.buf.write(text, this.size, 'utf8');
  }

  /** Everything added since the last call, as one buffer (undefined when nothing was). */
  take(): Buffer | undefined {
    if (this.size === 0) return undefined;
    const out = this.buf.subarray(0, this.size);
    if (this.size > this.room) this.room = Math.min(this.capacity, this.size);
    // The room left is not kept: it would pin the whole allocation while the stream idles (a watch, for hours).
    this.buf = EMPTY;
    this.size = 0;
    return out;
  }

  /** Makes room for `n` more bytes, moving what is pending into a new buffer when it does not fit. */
  private reserve(n: number): void {
    if (this.buf.length - this.size >= n) return;
    const next = Buffer.allocUnsafe(Math.max(this.room, 2 * (this.size + n)));
    this.buf.copy(next, 0, 0, this.size);
    this.buf = next;
  }
}
