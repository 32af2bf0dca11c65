/**
 * Masking a whole JSON response body as it streams: a LIST of thousands of
 * Secrets is masked item by item as the bytes arrive, never held whole.
 *
 * The body is one JSON object. Its members are framed at the top level;
 * the API server writes `kind` first (then `apiVersion`, `metadata`, `items`
 * or a Table's `columnDefinitions`, `rows`), so:
 * - once `kind` is known, each member is masked and forwarded as soon as it
 *   is complete, and an array member (`items`, `rows`) element by element;
 * - members before `kind` (another encoder's order) are held until it comes
 *   (or the object ends), since masking depends on it;
 * - a body that is not an object is held whole and masked at the end.
 * Each part is masked exactly as {@link Masker.maskValue} masks it inside
 * the whole object (same rules, kinds, report paths); a part with nothing to
 * mask is forwarded byte for byte, so an unmasked body is byte-identical. In
 * a masked object part (a list item) only the members that changed are
 * re-serialised (compact JSON); the others keep their bytes. A list item's
 * members that no rule reaches are checked as text rather than parsed
 * ({@link PartMasker.listItem}). Output goes out in pieces of 64 KiB, and
 * the rest once the input at hand is consumed.
 * Output length differs from the input when something is masked: drop
 * `Content-Length`, send chunked.
 *
 * @module
 */
import { Transform, type TransformCallback } from 'node:stream';
import { DEFAULT_MAX_HELD_BYTES, DEFAULT_STREAM_REPORT_PATHS, JsonValueFramer, isJsonSpace, isObject, maskStreamError, parseFramed, parseFramedText, memberReplacements, type Replacement } from './json-frame.js';
import { ChunkOutput } from './chunk-output.js';
import { responsePartMasker, type FramedObject, type Masker, type PartMasker } from './masker.js';
import { ReportBuilder, type MaskReport } from './report.js';

export interface BodyMaskOptions {
  /** Most bytes held at once: one member or element, or the members before `kind` (default 16 MiB). */
  maxBufferedBytes?: number;
  /** Paths kept in the report (default 64). */
  maxReportPaths?: number;
}

const WHAT = 'response body';
const COALESCE_BYTES = 64 * 1024;

type State =
  | 'start' // before the top-level value
  | 'member' // between members: whitespace, `,`, `}` or a key's `"`
  | 'key' // inside a key string
  | 'colon' // after a key
  | 'value' // after the colon, before the value
  | 'memberValue' // inside a member's value
  | 'elements' // inside an array member, between elements
  | 'element' // inside an element
  | 'whole' // a body that is not an object, held whole
  | 'end'; // after the top-level object

interface HeldMember {
  prefix: Buffer[];
  key: string;
  bytes: Buffer;
  framed: FramedObject;
}

/**
 * A Transform masking one JSON response body (object, List, Table, Status…)
 * as it streams; emits `'report'` at the end. Bytes that do not parse as
 * JSON, a part over `maxBufferedBytes`, or a body cut short fail the stream
 * with GH_MASKING_FAILED (nothing unmasked is forwarded).
 */
export class BodyMaskStream extends Transform {
  private readonly framer: JsonValueFramer;
  private readonly maxBuffered: number;
  private readonly total: ReportBuilder;
  private readonly parts: PartMasker;
  private readonly out = new ChunkOutput(COALESCE_BYTES + 16 * 1024);
  private state: State = 'start';
  /** Bytes since the end of the previous member (`{`, `,`, whitespace, the key and colon): forwarded with the member. */
  private prefix: Buffer[] = [];
  private prefixBytes = 0;
  private key = '';
  private index = 0;
  private kind: string | undefined;
  private kindKnown = false;
  private held: HeldMember[] = [];
  private heldBytes = 0;
  /** What the last token between members (or elements) was: the opening bracket, a value, or a comma. */
  private after: 'open' | 'value' | 'comma' = 'open';
  private pushScheduled = false;

  constructor(
    private readonly masker: Masker,
    options: BodyMaskOptions = {},
  ) {
    super();
    this.maxBuffered = options.maxBufferedBytes ?? DEFAULT_MAX_HELD_BYTES;
    this.framer = new JsonValueFramer(this.maxBuffered, WHAT);
    this.total = new ReportBuilder(options.maxReportPaths ?? DEFAULT_STREAM_REPORT_PATHS);
    this.parts = responsePartMasker(masker, this.total);
  }

  /** Everything masked so far. */
  report(): MaskReport {
    return this.total.build();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.consume(chunk, this.out);
    } catch (err) {
      callback(err as Error);
      return;
    }
    // Push in large pieces: the API server sends a list in pieces of 2 KiB or less, and a write each (a chunk of the
    // chunked encoding and a TLS record each, for the gateway and the client) costs more than the masking. A piece
    // smaller than COALESCE_BYTES waits for the rest of what the socket read brought (setImmediate runs after it).
    // Through the callback when the reader lags: a push there that fills the readable side holds back the next chunk.
    if (this.out.pending >= COALESCE_BYTES || this.readableLength >= this.readableHighWaterMark) {
      callback(null, this.out.take());
      return;
    }
    if (!this.pushScheduled && this.out.pending > 0) {
      this.pushScheduled = true;
      setImmediate(this.pushPending);
    }
    callback();
  }

  private readonly pushPending = (): void => {
    this.pushScheduled = false;
    const out = this.out.take();
    if (out !== undefined && !this.destroyed) this.push(out);
  };

  override _flush(callback: TransformCallback): void {
    try {
      const out = this.out;
      if (this.state === 'whole') {
        const bytes = this.framer.finish();
        if (bytes === undefined) throw maskStreamError(WHAT, 'the body ended in the middle of a value');
        this.forwardPrefix(out);
        this.maskWhole(bytes, out);
        this.state = 'end';
      }
      if (this.state !== 'end' && this.state !== 'start') throw maskStreamError(WHAT, 'the body ended in the middle of the object');
      if (this.state === 'start') this.forwardPrefix(out); // whitespace only
      const rest = out.take();
      if (rest !== undefined) this.push(rest);
      this.emit('report', this.total.build());
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  private consume(chunk: Buffer, out: ChunkOutput): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      const c = chunk[i]!;
      switch (this.state) {
        case 'start':
          if (isJsonSpace(c)) {
            i = this.keep(chunk, i, spaceRunEnd(chunk, i));
          } else if (c === 0x7b) {
            i = this.keep(chunk, i, i + 1);
            this.state = 'member';
            this.after = 'open';
          } else {
            this.state = 'whole';
          }
          break;
        case 'member':
          if (isJsonSpace(c)) {
            i = this.keep(chunk, i, spaceRunEnd(chunk, i));
          } else if (c === 0x2c && this.after === 'value') {
            i = this.keep(chunk, i, i + 1);
            this.after = 'comma';
          } else if (c === 0x7d && this.after !== 'comma') {
            i = this.keep(chunk, i, i + 1);
            this.endObject(out);
          } else if (c === 0x22 && this.after !== 'value') {
            this.state = 'key';
          } else {
            throw unexpected(c);
          }
          break;
        case 'key': {
          const end = this.framer.feed(chunk, i);
          if (end < 0) return;
          const bytes = this.framer.take();
          this.key = parseFramed(bytes, WHAT) as string;
          this.hold(bytes);
          i = end;
          this.state = 'colon';
          break;
        }
        case 'colon':
        case 'value':
          if (isJsonSpace(c)) {
            i = this.keep(chunk, i, spaceRunEnd(chunk, i));
          } else if (this.state === 'colon') {
            if (c !== 0x3a) throw unexpected(c);
            i = this.keep(chunk, i, i + 1);
            this.state = 'value';
          } else if (c === 0x5b && this.kindKnown) {
            // An array member once the kind is known: forwarded element by element.
            i = this.keep(chunk, i, i + 1);
            this.forwardPrefix(out);
            this.index = 0;
            this.state = 'elements';
            this.after = 'open';
          } else {
            this.state = 'memberValue';
          }
          break;
        case 'memberValue': {
          const end = this.framer.feed(chunk, i);
          if (end < 0) return;
          this.endMember(this.framer.take(), this.framer, out);
          i = end;
          this.state = 'member';
          this.after = 'value';
          break;
        }
        case 'elements':
          if (isJsonSpace(c)) {
            const end = spaceRunEnd(chunk, i);
            out.range(chunk, i, end);
            i = end;
          } else if (c === 0x2c && this.after === 'value') {
            out.range(chunk, i, i + 1);
            i++;
            this.after = 'comma';
          } else if (c === 0x5d && this.after !== 'comma') {
            out.range(chunk, i, i + 1);
            i++;
            this.state = 'member';
            this.after = 'value';
          } else if (this.after !== 'value' && c !== 0x2c && c !== 0x5d && c !== 0x7d && c !== 0x3a) {
            this.state = 'element';
          } else {
            throw unexpected(c);
          }
          break;
        case 'element': {
          const end = this.framer.feed(chunk, i);
          if (end < 0) return;
          this.maskPart(this.framer.take(), this.framer, this.index++, out);
          i = end;
          this.state = 'elements';
          this.after = 'value';
          break;
        }
        case 'whole': {
          const end = this.framer.feed(chunk, i);
          if (end < 0) return;
          this.forwardPrefix(out);
          this.maskWhole(this.framer.take(), out);
          i = end;
          this.state = 'end';
          break;
        }
        case 'end':
          if (!isJsonSpace(c)) throw unexpected(c);
          out.bytes(chunk.subarray(i, spaceRunEnd(chunk, i)));
          i = spaceRunEnd(chunk, i);
          break;
      }
    }
  }

  /** Adds `chunk[from, to)` to the prefix; returns `to`. */
  private keep(chunk: Buffer, from: number, to: number): number {
    this.hold(chunk.subarray(from, to));
    return to;
  }

  private hold(bytes: Buffer): void {
    this.prefix.push(bytes);
    this.prefixBytes += bytes.length;
    if (this.prefixBytes + this.heldBytes > this.maxBuffered) throw maskStreamError(WHAT, `more than ${this.maxBuffered} bytes held (a key, or the members before the object's kind)`);
  }

  private takePrefix(): Buffer[] {
    const prefix = this.prefix;
    this.prefix = [];
    this.prefixBytes = 0;
    return prefix;
  }

  private forwardPrefix(out: ChunkOutput): void {
    for (const piece of this.takePrefix()) out.bytes(piece);
  }

  private endMember(bytes: Buffer, framed: FramedObject, out: ChunkOutput): void {
    if (this.kindKnown) {
      this.forwardPrefix(out);
      this.maskPart(bytes, framed, undefined, out);
      return;
    }
    const prefix = this.takePrefix();
    // What the framer tells of the member is kept with it: the framer moves on.
    this.held.push({ prefix, key: this.key, bytes, framed: { memberCommas: framed.memberCommas, plainStrings: framed.plainStrings } });
    this.heldBytes += bytes.length + prefix.reduce((sum, b) => sum + b.length, 0);
    if (this.heldBytes > this.maxBuffered) throw maskStreamError(WHAT, `more than ${this.maxBuffered} bytes before the object's kind`);
    if (this.key === 'kind') {
      const kind = parseFramed(bytes, WHAT);
      if (typeof kind === 'string') this.release(kind, out);
    }
  }

  private endObject(out: ChunkOutput): void {
    if (!this.kindKnown) this.release(undefined, out);
    this.forwardPrefix(out);
    this.state = 'end';
  }

  /** The kind is known (or will never be): mask and forward the members held until now. */
  private release(kind: string | undefined, out: ChunkOutput): void {
    this.kind = kind;
    this.kindKnown = true;
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    for (const member of held) {
      this.key = member.key;
      for (const piece of member.prefix) out.bytes(piece);
      this.maskPart(member.bytes, member.framed, undefined, out);
    }
  }

  /**
   * Masks a member (index undefined) or an element of the current member
   * into `out`: the original bytes when nothing changed, else JSON with
   * only the changed members of an object re-serialised.
   */
  private maskPart(bytes: Buffer, framed: FramedObject, index: number | undefined, out: ChunkOutput): void {
    const text = bytes.toString('utf8');
    // Byte offsets are string offsets only in ASCII text.
    const ascii = text.length === bytes.length;
    // A list item: only the members that need it are parsed (most of a Secret, its metadata, is scanned as text).
    const spliced = ascii && index !== undefined ? this.parts.listItem(this.kind, this.key, index, text, framed, WHAT) : undefined;
    if (spliced !== undefined) {
      splice(bytes, spliced, out);
      return;
    }
    const value = parseFramedText(text, WHAT);
    const masked = this.parts.part(index === undefined ? { kind: this.kind, key: this.key, value } : { kind: this.kind, key: this.key, index, value });
    if (masked === value) {
      out.bytes(bytes);
      return;
    }
    const replacements = ascii && isObject(value) && isObject(masked) ? memberReplacements(text, framed.memberCommas, value, masked) : undefined;
    if (replacements === undefined) out.string(JSON.stringify(masked));
    else splice(bytes, replacements, out);
  }

  private maskWhole(bytes: Buffer, out: ChunkOutput): void {
    const value = parseFramed(bytes, WHAT);
    const { value: masked, report } = this.masker.maskValue(value);
    this.total.merge(report);
    if (masked === value) out.bytes(bytes);
    else out.string(JSON.stringify(masked));
  }
}

/** Adds `bytes` to `out` with the replacements (in order) made. */
function splice(bytes: Buffer, replacements: readonly Replacement[], out: ChunkOutput): void {
  let at = 0;
  for (const r of replacements) {
    out.range(bytes, at, r.from);
    out.string(r.text);
    at = r.to;
  }
  out.range(bytes, at, bytes.length);
}

function spaceRunEnd(chunk: Buffer, from: number): number {
  let i = from;
  while (i < chunk.length && isJsonSpace(chunk[i]!)) i++;
  return i;
}

function unexpected(c: number): Error {
  return maskStreamError(WHAT, `unexpected byte 0x${c.toString(16).padStart(2, '0')}: not a JSON object`);
}

/**
 * Masks a JSON response body (GET, LIST, Table, Status, write responses) as
 * it streams: pipe the upstream body through it instead of buffering.
 *
 * @example
 * const masking = createBodyMaskStream(masker);
 * res.removeHeader('content-length'); // the masked body has another length
 * await pipeline(upstreamBody, masking, res);
 * masking.report(); // → { masked: 15000, paths: ['items[0].data.password', …], detectors: ['secret-data', …] }
 */
export function createBodyMaskStream(masker: Masker, options?: BodyMaskOptions): BodyMaskStream {
  return new BodyMaskStream(masker, options);
}
