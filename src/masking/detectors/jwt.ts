/**
 * JSON Web Tokens (and JWE): base64url segments separated by dots, whose
 * header and payload are JSON objects (so they start with `eyJ` / `ey`).
 *
 * @module
 */
import { BASE64URL, charIn, runEnd } from './chars.js';
import type { Detector, Emit } from './types.js';

/** Shortest header and payload segments taken for a JWT (`{"alg":"x"}` encodes to 16). */
const MIN_SEGMENT = 10;
/** A JWE has five segments; a JWS three. */
const MAX_SEGMENTS = 5;

export const jwt: Detector = {
  names: ['jwt'],
  needs: ['J', 'y'], // from `eyJ`
  scan(text: string, emit: Emit): void {
    let from = 0;
    for (;;) {
      const start = text.indexOf('eyJ', from);
      if (start < 0) return;
      if (charIn(BASE64URL, text, start - 1)) {
        // Inside a longer run: a token cannot start here; skip the whole run (linear).
        from = runEnd(text, start, BASE64URL);
        continue;
      }
      const headerEnd = runEnd(text, start, BASE64URL);
      if (headerEnd - start < MIN_SEGMENT || text.charCodeAt(headerEnd) !== 0x2e /* . */) {
        from = headerEnd;
        continue;
      }
      const payloadStart = headerEnd + 1;
      const payloadEnd = runEnd(text, payloadStart, BASE64URL);
      if (payloadEnd - payloadStart < MIN_SEGMENT || !text.startsWith('ey', payloadStart) || text.charCodeAt(payloadEnd) !== 0x2e) {
        // A token may still start at the payload (it begins after a dot, a boundary).
        from = payloadStart;
        continue;
      }
      // The signature may be empty (`alg: none`); a JWE continues with two more segments.
      let end = runEnd(text, payloadEnd + 1, BASE64URL);
      for (let segments = 3; segments < MAX_SEGMENTS && text.charCodeAt(end) === 0x2e && charIn(BASE64URL, text, end + 1); segments++) {
        end = runEnd(text, end + 1, BASE64URL);
      }
      emit(start, end, 'jwt');
      from = end;
    }
  },
};
