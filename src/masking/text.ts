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
