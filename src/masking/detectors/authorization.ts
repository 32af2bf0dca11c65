/**
 * Credentials after an HTTP authorization scheme, as logged request headers
 * show them: `Bearer <token>` and `Basic <base64 of user:password>`.
 *
 * To leave prose alone ("bearer authentication", "basic setup"), a bearer
 * token must be at least 16 characters with both letters and digits, and a
 * basic credential must decode to something containing `:`.
 *
 * @module
 */
import { ALNUM_CHARS, B64TOKEN, BASE64, MASK_PREFIX, charIn, runEnd, skipBlanks } from './chars.js';
import type { Detector, Emit } from './types.js';

const MIN_BEARER = 16;
const MIN_BASIC = 8;

export const authorizationHeader: Detector = {
  names: ['authorization-header'],
  // The scheme (ASCII-only case-insensitive: no `u` flag) and the blank after it.
  needs: ['bB', 'aA', ' \t'],
  scan(text: string, emit: Emit): void {
    // Literals only: linear whatever the input.
    const schemes = /bearer|basic/gi;
    for (let m = schemes.exec(text); m !== null; m = schemes.exec(text)) {
      const at = m.index;
      const after = at + m[0].length;
      if (charIn(ALNUM_CHARS, text, at - 1) || (text.charCodeAt(after) !== 0x20 && text.charCodeAt(after) !== 0x09)) continue;
      const start = skipBlanks(text, after, 8);
      if (text.startsWith(MASK_PREFIX, start)) continue;
      const basic = m[0].length === 5;
      const end = runEnd(text, start, basic ? BASE64 : B64TOKEN);
      const token = text.slice(start, end);
      if (basic ? looksLikeBasic(token) : looksLikeBearer(token)) emit(start, end, 'authorization-header');
      schemes.lastIndex = Math.max(end, schemes.lastIndex);
    }
  },
};

function looksLikeBearer(token: string): boolean {
  return token.length >= MIN_BEARER && /[0-9]/.test(token) && /[A-Za-z]/.test(token);
}

function looksLikeBasic(token: string): boolean {
  return token.length >= MIN_BASIC && Buffer.from(token, 'base64').toString('latin1').includes(':');
}
