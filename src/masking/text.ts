/**
 * Masking credentials inside one string with the detectors.
 *
 * @module
 */
import type { Span } from './detectors/index.js';

/** The replacement for a detector's finding: `<masked:jwt>`. */
export function detectorMask(detector: string): string {
  return `<masked:${detector}>`;
}

/**
 * `text` from `from` on, with every span replaced by its mask. A span that
 * starts before `from` (in context the caller already emitted) is masked
 * from `from`.
 */
export function applySpans(text: string, spans: readonly Span[], from = 0): string {
  let out = '';
  let at = from;
  for (const s of spans) {
    if (s.end <= from) continue;
    const start = Math.max(s.start, from);
    out += text.slice(at, start) + detectorMask(s.detector);
    at = s.end;
  }
  return out + text.slice(at);
}

/**
 * A mask exactly `length` bytes long: the detector's mask padded with `*`,
 * or only `*` when the finding is shorter than the mask.
 */
export function maskOfLength(detector: string, length: number): string {
  const mask = detectorMask(detector);
  return mask.length <= length ? mask + '*'.repeat(length - mask.length) : '*'.repeat(length);
}

/**
 * A copy of `bytes` with every span of `text` (their decoding with
 * `encoding`; spans sorted, not overlapping) overwritten by a mask of the
 * same byte length, so the output is as long as the input.
 */
export function maskSpansInPlace(bytes: Buffer, text: string, encoding: 'utf8' | 'latin1', spans: readonly Span[]): Buffer {
  const out = Buffer.from(bytes);
  // latin1 maps each byte to one character; UTF-8 offsets are counted along the text once.
  let char = 0;
  let byte = 0;
  const byteAt = (i: number): number => {
    if (encoding === 'latin1') return i;
    byte += Buffer.byteLength(text.slice(char, i), 'utf8');
    char = i;
    return byte;
  };
  for (const s of spans) {
    const from = byteAt(s.start);
    const to = byteAt(s.end);
    out.write(maskOfLength(s.detector, to - from), from, 'latin1');
  }
  return out;
}
