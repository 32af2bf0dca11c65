/**
 * Character classes and bounded scanning helpers shared by the detectors.
 * Every detector is a hand scanner over these tables (plus `indexOf` for
 * literal prefixes), so its cost is linear in the input: no backtracking.
 *
 * @module
 */

/** A set of ASCII characters as a lookup table indexed by char code. */
export type CharClass = Uint8Array;

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function charClass(chars: string): CharClass {
  const table = new Uint8Array(128);
  for (let i = 0; i < chars.length; i++) table[chars.charCodeAt(i)] = 1;
  return table;
}

/** Letters and digits. */
export const ALNUM_CHARS = charClass(ALNUM);
/** Upper-case letters and digits (AWS key ids). */
export const UPPER_DIGIT = charClass('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789');
/** Letters, digits, `_` (GitHub fine-grained tokens). */
export const WORD = charClass(ALNUM + '_');
/** The base64url alphabet: letters, digits, `-`, `_` (JWT segments, most API tokens). */
export const BASE64URL = charClass(ALNUM + '-_');
/** Letters, digits, `-` (Slack tokens). */
export const ALNUM_DASH = charClass(ALNUM + '-');
/** Standard base64 with padding. */
export const BASE64 = charClass(ALNUM + '+/=');
/** Characters of a bearer token (RFC 6750 `b64token`). */
export const B64TOKEN = charClass(ALNUM + '-._~+/=');
/** Characters of a key in `key = value` assignments. */
export const KEY_CHARS = charClass(ALNUM + '_.-');
/** Characters of a URL scheme. */
export const SCHEME_CHARS = charClass(ALNUM + '+.-');

/** True when the character at `i` exists and belongs to `cls`. */
export function charIn(cls: CharClass, text: string, i: number): boolean {
  if (i < 0 || i >= text.length) return false;
  const c = text.charCodeAt(i);
  return c < 128 && cls[c] === 1;
}

/** The index of the first character at or after `from` not in `cls` (or the text's length). */
export function runEnd(text: string, from: number, cls: CharClass): number {
  let i = from;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c >= 128 || cls[c] !== 1) break;
    i++;
  }
  return i;
}

/** Skips spaces and tabs from `from`, at most `max` of them; returns the new index. */
export function skipBlanks(text: string, from: number, max: number): number {
  let i = from;
  const limit = Math.min(text.length, from + max);
  while (i < limit) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09) break;
    i++;
  }
  return i;
}

/** True for ASCII whitespace (space, tab, CR, LF, VT, FF). */
export function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** The text of every masked value starts with this, so no detector masks a mask again. */
export const MASK_PREFIX = '<masked';
