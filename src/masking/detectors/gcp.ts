/**
 * The `private_key` of a Google Cloud service-account key file (JSON): the
 * whole string value, whatever it holds.
 *
 * @module
 */
import { skipBlanks } from './chars.js';
import type { Detector, Emit } from './types.js';

const KEY = '"private_key"';

export const gcpPrivateKey: Detector = {
  names: ['gcp-private-key'],
  needs: ['"', '_', 'k'], // from KEY
  scan(text: string, emit: Emit): void {
    let from = 0;
    for (;;) {
      const at = text.indexOf(KEY, from);
      if (at < 0) return;
      from = at + KEY.length;
      const colon = skipBlanks(text, from, 8);
      if (text.charCodeAt(colon) !== 0x3a) continue;
      const quote = skipBlanks(text, colon + 1, 8);
      if (text.charCodeAt(quote) !== 0x22) continue;
      const start = quote + 1;
      let end = start;
      while (end < text.length) {
        const c = text.charCodeAt(end);
        if (c === 0x22) break;
        end += c === 0x5c ? 2 : 1;
      }
      end = Math.min(end, text.length);
      if (end > start) emit(start, end, 'gcp-private-key');
      from = end;
    }
  },
};
