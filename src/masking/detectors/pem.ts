/**
 * PEM private keys: the whole block from `-----BEGIN … PRIVATE KEY-----` to
 * the matching `-----END … -----`, across lines (real or `\n`-escaped). A
 * block with no end (cut off) is masked to the end of the text.
 * Certificates and public keys are left alone.
 *
 * @module
 */
import type { Detector, Emit } from './types.js';

const BEGIN = '-----BEGIN ';
const END = '-----END ';
const DASHES = '-----';
/** Longest label between `BEGIN ` and the dashes (`ENCRYPTED PRIVATE KEY`, `PGP PRIVATE KEY BLOCK`…). */
const MAX_LABEL = 64;

/** Where the private-key label of a BEGIN line at `begin` ends (index after its dashes), or -1 when it is not one. */
function privateKeyHeaderEnd(text: string, begin: number): number {
  const labelStart = begin + BEGIN.length;
  const label = boundedLabel(text, labelStart);
  return label !== undefined && label.includes('PRIVATE KEY') ? labelStart + label.length + DASHES.length : -1;
}

/** Where the END line after `from` ends (index after its dashes), or -1 when there is none. */
export function privateKeyEnd(text: string, from: number): number {
  const end = text.indexOf(END, from);
  if (end < 0) return -1;
  const label = boundedLabel(text, end + END.length);
  return label === undefined ? text.length : end + END.length + label.length + DASHES.length;
}

/** The label from `start` to the next dashes, looking no further than {@link MAX_LABEL} characters. */
function boundedLabel(text: string, start: number): string | undefined {
  const window = text.slice(start, start + MAX_LABEL + DASHES.length);
  const dashes = window.indexOf(DASHES);
  return dashes < 0 ? undefined : window.slice(0, dashes);
}

export const privateKey: Detector = {
  names: ['private-key'],
  needs: ['-', ' ', 'B', 'N'], // from BEGIN
  scan(text: string, emit: Emit): void {
    let from = 0;
    for (;;) {
      const begin = text.indexOf(BEGIN, from);
      if (begin < 0) return;
      const headerEnd = privateKeyHeaderEnd(text, begin);
      if (headerEnd < 0) {
        from = begin + BEGIN.length;
        continue;
      }
      const end = privateKeyEnd(text, headerEnd);
      if (end < 0) {
        emit(begin, text.length, 'private-key');
        return;
      }
      emit(begin, end, 'private-key');
      from = end;
    }
  },
};

/**
 * True when `text` ends inside a private key block: its last private-key
 * BEGIN line has no END after it. The line masker then masks the lines that
 * follow until the END line.
 */
export function endsInsidePrivateKey(text: string): boolean {
  let begin = text.lastIndexOf(BEGIN);
  while (begin >= 0) {
    const headerEnd = privateKeyHeaderEnd(text, begin);
    if (headerEnd >= 0) return text.indexOf(END, headerEnd) < 0;
    begin = begin === 0 ? -1 : text.lastIndexOf(BEGIN, begin - 1);
  }
  return false;
}
