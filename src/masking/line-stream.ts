/**
 * Masking text streams line by line: `pods/log` (also `-f`), and the
 * stdout/stderr of exec and attach.
 *
 * Lines are held until their `\n`, so a credential split across chunks is
 * seen whole. A line longer than `maxLineBytes` is masked in pieces:
 * - a piece ends just after the last *cut* byte in the first `maxLineBytes`
 *   (whitespace or one of `"'`,;{}[]()<>`), characters no token contains;
 *   the last 512 characters already emitted are kept as context, so a
 *   `password=` in one piece still masks its value in the next;
 * - when the first `maxLineBytes` hold no cut byte at all, that run is
 *   replaced by `<masked:long-run>` and dropped up to the next cut byte or
 *   newline (conservative: it may be a giant token; it is never forwarded).
 *
 * A private key (`-----BEGIN … PRIVATE KEY-----`) whose END is on a later
 * line masks every line up to and including the END line (at most 256
 * lines, so a lost END does not swallow the rest of the log). Each such line
 * becomes `<masked:private-key>`.
 *
 * @module
 */
import { isUtf8 } from 'node:buffer';
import { Transform, type TransformCallback } from 'node:stream';
import { endsInsidePrivateKey, privateKeyEnd, type Span } from './detectors/index.js';
import type { Masker } from './masker.js';
import { ReportBuilder, type MaskReport } from './report.js';
import { DEFAULT_STREAM_REPORT_PATHS } from './json-frame.js';
import { applySpans, detectorMask, maskOfLength, maskSpansInPlace } from './text.js';

/** Default longest line masked whole (bytes). */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;
/** Smallest `maxLineBytes` accepted: longer than the longest bounded finding (a URL authority, 1 KiB). */
export const MIN_MAX_LINE_BYTES = 4096;
/** Characters of an over-long line kept as context for its next piece. */
const CONTEXT_CHARS = 512;
/** Lines masked after a private key's BEGIN line when no END line comes. */
const MAX_KEY_LINES = 256;

export interface LineMaskOptions {
  /** Longest line (bytes) masked whole; longer lines are masked in pieces (default 64 KiB, at least 4 KiB). */
  maxLineBytes?: number;
  /** Paths kept in the cumulative report (default 64). */
  maxReportPaths?: number;
  /**
   * Replace each finding with a mask of its own byte length (`<masked:jwt>***…`,
   * or `*`s when shorter), so the output is exactly as long as the input:
   * for exec and attach output, where a `kubectl cp` tar stream's file sizes
   * and a terminal's columns must stay true. Default off (log lines).
   */
  keepLength?: boolean;
}

/**
 * A push-style line masker for one text stream (one per log stream, one per
 * exec/attach channel).
 */
export interface LineMasker {
  /** Masks the complete lines in `chunk`; keeps an unfinished line for later (returns what can be sent now). */
  write(chunk: Buffer): Buffer;
  /**
   * Releases the unfinished line up to its last cut byte (for interactive
   * output that waits without a newline: a shell prompt). Bytes after it stay
   * held, so a token being printed is never released in halves.
   */
  flush(): Buffer;
  /**
   * Releases everything held, masked as a piece of the unfinished line (the
   * line stays open: its tail is kept as context for what follows). For
   * interactive output that went quiet mid-word: typed characters echoed by
   * a terminal. A credential printed in pieces with a pause between them
   * can pass in those pieces; see docs/masking.md.
   */
  release(): Buffer;
  /** Bytes of an unfinished line held (0: nothing waits). */
  readonly held: number;
  /** End of stream: masks and returns whatever is held. */
  end(): Buffer;
  /** Everything masked so far (paths are `line N`, 1-based). */
  report(): MaskReport;
}

const EMPTY = Buffer.alloc(0);
const NEWLINE = Buffer.from('\n');

function isCutByte(c: number): boolean {
  switch (c) {
    case 0x20:
    case 0x09:
    case 0x0d:
    case 0x0b:
    case 0x0c:
    case 0x22: // "
    case 0x27: // '
    case 0x60: // `
    case 0x2c: // ,
    case 0x3b: // ;
    case 0x7b: // {
    case 0x7d: // }
    case 0x5b: // [
    case 0x5d: // ]
    case 0x28: // (
    case 0x29: // )
    case 0x3c: // <
    case 0x3e: // >
      return true;
    default:
      return false;
  }
}

function lastCut(buf: Buffer, end: number): number {
  for (let i = end - 1; i >= 0; i--) if (isCutByte(buf[i]!)) return i;
  return -1;
}

function firstCut(buf: Buffer, from: number): number {
  for (let i = from; i < buf.length; i++) if (isCutByte(buf[i]!)) return i;
  return -1;
}

/**
 * Creates a line masker for one stream.
 *
 * @example
 * const stdout = createLineMasker(masker);
 * ws.send(Buffer.concat([Buffer.from([1]), stdout.write(frame.subarray(1))])); // channel 1 = stdout
 * // on close: send stdout.end(); record stdout.report()
 */
export function createLineMasker(masker: Masker, options: LineMaskOptions = {}): LineMasker {
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  if (!Number.isInteger(maxLineBytes) || maxLineBytes < MIN_MAX_LINE_BYTES) {
    throw new RangeError(`maxLineBytes must be an integer of at least ${MIN_MAX_LINE_BYTES}`);
  }
  const keepLength = options.keepLength ?? false;
  const scanner = masker.detectors;
  const followsKeys = scanner.names.includes('private-key');
  const report = new ReportBuilder(options.maxReportPaths ?? DEFAULT_STREAM_REPORT_PATHS);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  /** Tail of what was already emitted of the current line. */
  let context = '';
  let keyLines = -1; // ≥ 0 while inside a private key block
  let skippingRun = false;
  let lineNo = 1;

  const found = (detector: string): void => report.add(detector, report.wantsPath() ? `line ${lineNo}` : undefined);

  /** Masks a line (`complete`) or a piece of one; returns bytes to emit (without the newline). */
  const maskSegment = (bytes: Buffer, complete: boolean): Buffer => {
    // Bytes that are not UTF-8 (a binary file in a tar stream) are read one character per byte, so keepLength can
    // overwrite a finding's own bytes and leave every other byte as it came.
    const encoding = keepLength && !isUtf8(bytes) ? 'latin1' : 'utf8';
    const text = bytes.toString(encoding);
    let keyEnd = 0; // characters at the start of `text` that end a private key block
    if (keyLines >= 0) {
      found('private-key');
      const end = privateKeyEnd(text, 0);
      if (end < 0) {
        if (++keyLines >= MAX_KEY_LINES) keyLines = -1;
        if (complete) lineNo++;
        return Buffer.from(keepLength ? maskOfLength('private-key', bytes.length) : detectorMask('private-key'), 'latin1');
      }
      keyLines = -1;
      keyEnd = end;
      context = '';
    }
    const rest = keyEnd === 0 ? text : text.slice(keyEnd);
    const full = context + rest;
    const spans = scanner.scan(full);
    if (spans !== undefined) for (const s of spans) if (s.end > context.length) found(s.detector);
    let out: Buffer;
    if (spans === undefined && keyEnd === 0) {
      out = bytes;
    } else if (keepLength) {
      // Offsets in `full` less the context (already emitted) plus the key block's end are offsets in `text`.
      const shift = keyEnd - context.length;
      const inText: Span[] = keyEnd > 0 ? [{ start: 0, end: keyEnd, detector: 'private-key' }] : [];
      for (const s of spans ?? []) if (s.end > context.length) inText.push({ start: Math.max(s.start, context.length) + shift, end: s.end + shift, detector: s.detector });
      out = maskSpansInPlace(bytes, text, encoding, inText);
    } else {
      out = Buffer.from((keyEnd > 0 ? detectorMask('private-key') : '') + (spans === undefined ? rest : applySpans(full, spans, context.length)));
    }
    if (followsKeys && endsInsidePrivateKey(full)) keyLines = 0;
    context = complete ? '' : full.slice(-CONTEXT_CHARS);
    if (complete) lineNo++;
    return out;
  };

  /** Emits pieces of the held line while it is at least `maxLineBytes` long. */
  const cutLongLine = (out: Buffer[]): void => {
    while (pendingBytes >= maxLineBytes) {
      const buf = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
      const cut = lastCut(buf, maxLineBytes);
      let rest: Buffer;
      if (cut >= 0) {
        out.push(maskSegment(buf.subarray(0, cut + 1), false));
        rest = buf.subarray(cut + 1);
      } else {
        // A run of maxLineBytes with no cut byte: never forwarded.
        found('long-run');
        const next = firstCut(buf, maxLineBytes);
        out.push(Buffer.from(keepLength ? maskOfLength('long-run', next < 0 ? buf.length : next) : detectorMask('long-run'), 'latin1'));
        context = '';
        if (next < 0) skippingRun = true;
        rest = next < 0 ? EMPTY : buf.subarray(next);
      }
      pending = rest.length === 0 ? [] : [rest];
      pendingBytes = rest.length;
    }
  };

  return {
    write(chunk) {
      const out: Buffer[] = [];
      let from = 0;
      if (skippingRun) {
        while (from < chunk.length && chunk[from] !== 0x0a && !isCutByte(chunk[from]!)) from++;
        if (keepLength && from > 0) out.push(Buffer.alloc(from, '*'));
        if (from === chunk.length) return out.length === 0 ? EMPTY : out[0]!;
        skippingRun = false;
      }
      for (let nl = chunk.indexOf(0x0a, from); nl >= 0; nl = chunk.indexOf(0x0a, from)) {
        const piece = chunk.subarray(from, nl);
        const line = pending.length === 0 ? piece : Buffer.concat([...pending, piece], pendingBytes + piece.length);
        pending = [];
        pendingBytes = 0;
        out.push(maskSegment(line, true), NEWLINE);
        from = nl + 1;
      }
      if (from < chunk.length) {
        pending.push(chunk.subarray(from));
        pendingBytes += chunk.length - from;
        cutLongLine(out);
      }
      return out.length === 0 ? EMPTY : Buffer.concat(out);
    },
    flush() {
      if (pendingBytes === 0) return EMPTY;
      const buf = Buffer.concat(pending, pendingBytes);
      const cut = lastCut(buf, buf.length);
      if (cut < 0) return EMPTY;
      const rest = buf.subarray(cut + 1);
      pending = rest.length === 0 ? [] : [rest];
      pendingBytes = rest.length;
      return maskSegment(buf.subarray(0, cut + 1), false);
    },
    release() {
      if (pendingBytes === 0) return EMPTY;
      const buf = Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      return maskSegment(buf, false);
    },
    get held() {
      return pendingBytes;
    },
    end() {
      if (pendingBytes === 0 || skippingRun) return EMPTY;
      const buf = Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      return maskSegment(buf, true);
    },
    report: () => report.build(),
  };
}

/**
 * A Transform masking a text stream line by line (bytes in, bytes out); it
 * emits `'report'` with the stream's report when the stream ends.
 */
export class LineMaskStream extends Transform {
  private readonly lines: LineMasker;

  constructor(masker: Masker, options?: LineMaskOptions) {
    super();
    this.lines = createLineMasker(masker, options);
  }

  /** Everything masked so far. */
  report(): MaskReport {
    return this.lines.report();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const out = this.lines.write(chunk);
    callback(null, out.length === 0 ? undefined : out);
  }

  override _flush(callback: TransformCallback): void {
    const out = this.lines.end();
    if (out.length > 0) this.push(out);
    this.emit('report', this.lines.report());
    callback();
  }
}

/**
 * Masks a log stream (`pods/log`, with or without `follow`) line by line.
 *
 * @example
 * const masking = createLineMaskStream(masker, { maxLineBytes: 64 * 1024 });
 * await pipeline(upstreamBody, masking, clientResponse);
 * masking.report(); // → { masked: 1, paths: ['line 42'], detectors: ['github-token'] }
 */
export function createLineMaskStream(masker: Masker, options?: LineMaskOptions): LineMaskStream {
  return new LineMaskStream(masker, options);
}
