/**
 * Assembling one output chunk of a masking stream from pieces of the input
 * (forwarded byte for byte) and re-serialised JSON text.
 *
 * @module
 */

/**
 * The pieces a masking stream emits for one input chunk. Consecutive text is
 * joined as one string and encoded once: a run of masked list items costs
 * one allocation and one copy, not one `Buffer` per item and a concat.
 */
export class ChunkOutput {
  private parts: Buffer[] = [];
  private size = 0;
  private text = '';

  /** Adds input bytes, forwarded as they are. */
  bytes(piece: Buffer): void {
    if (piece.length === 0) return;
    this.flushText();
    this.parts.push(piece);
    this.size += piece.length;
  }

  /**
   * Adds `chunk[from, to)`, ASCII punctuation or whitespace between values:
   * joined to the pending text when there is some (a `,` between two masked
   * items), else forwarded as bytes.
   */
  ascii(chunk: Buffer, from: number, to: number): void {
    if (this.text === '') this.bytes(chunk.subarray(from, to));
    else this.text += chunk.toString('latin1', from, to);
  }

  /** Adds text, written as UTF-8. */
  string(text: string): void {
    this.text += text;
  }

  /** Everything added since the last call, as one buffer (undefined when nothing was). */
  take(): Buffer | undefined {
    this.flushText();
    const parts = this.parts;
    if (parts.length === 0) return undefined;
    const out = parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.size);
    this.parts = [];
    this.size = 0;
    return out;
  }

  private flushText(): void {
    if (this.text === '') return;
    const encoded = Buffer.from(this.text, 'utf8');
    this.text = '';
    this.parts.push(encoded);
    this.size += encoded.length;
  }
}
