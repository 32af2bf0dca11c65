/**
 * What the incremental frame readers of a tapped connection share (WebSocket,
 * SPDY): hold a frame header across chunks, hand payload bytes on as they
 * come, stop at a frame boundary when asked, and stop for good at the first
 * framing error — `failure` says why, later bytes are ignored, nothing
 * throws. Subclasses parse the header and route the payload.
 *
 * @module
 */
export abstract class FrameReader {
  protected readonly header: Buffer;
  /** Header bytes held, and how many the header needs now. */
  protected have = 0;
  protected need: number;
  /** Payload bytes of the current frame still to come. */
  protected remaining = 0;
  #failure: string | undefined;

  protected constructor(maxHeader: number, firstNeed: number) {
    this.header = Buffer.alloc(maxHeader);
    this.need = firstNeed;
  }

  /** Why the reader stopped, once it has. */
  get failure(): string | undefined {
    return this.#failure;
  }

  /** True between frames: a frame written now would not split one in flight. */
  get atFrameBoundary(): boolean {
    return this.have === 0 && this.remaining === 0;
  }

  /**
   * Reads `chunk`. Returns how many of its bytes were read: all of them,
   * unless `stopAt` returned true at a frame boundary inside the chunk.
   */
  push(chunk: Buffer, stopAt?: () => boolean): number {
    if (this.#failure !== undefined) return chunk.length;
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining > 0) {
        at += this.payload(chunk, at);
      } else {
        if (this.have === 0 && stopAt?.()) return at;
        const take = Math.min(this.need - this.have, chunk.length - at);
        chunk.copy(this.header, this.have, at, at + take);
        this.have += take;
        at += take;
        if (this.have === this.need) this.parseHeader();
      }
      if (this.#failure !== undefined) return chunk.length;
    }
    return at;
  }

  /** Reads payload bytes of the current frame from `chunk` at `at`; returns how many. */
  protected abstract payload(chunk: Buffer, at: number): number;

  /** Called when `need` header bytes are held: asks for more (raise `need`) or starts the frame. */
  protected abstract parseHeader(): void;

  protected fail(reason: string): void {
    this.#failure = reason;
  }
}
