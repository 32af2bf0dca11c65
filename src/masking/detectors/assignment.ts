/**
 * Credentials in `key = value` / `key: value` assignments whose key names a
 * secret: `password=…`, `DB_PASSWORD: …`, `"client_secret":"…"`,
 * `aws_secret_access_key = …`, `--token=…`, `spring.datasource.password=…`,
 * `?access_token=…&`. Only the value is masked.
 *
 * The key must END with one of the words below once lower-cased and stripped
 * of `_`, `.`, `-` (so `secretName`, `tokenTTL`, `passwordFile` are names,
 * not secrets, and stay). Bare `key` is not a secret word: label selectors
 * (`key: app`) are everywhere in Kubernetes.
 *
 * @module
 */
import { KEY_CHARS, MASK_PREFIX, charIn, isSpace, skipBlanks } from './chars.js';
import type { Detector, DetectorName, Emit } from './types.js';

/** Normalised key endings that name a secret, with the detector reported for them (most specific first). */
const SECRET_WORDS: readonly (readonly [string, DetectorName])[] = [
  ['secretaccesskey', 'aws-secret-key'],
  ['awssecretkey', 'aws-secret-key'],
  ...['password', 'passwd', 'passphrase', 'secret', 'token', 'apikey', 'accesskey', 'secretkey', 'privatekey', 'signingkey', 'encryptionkey', 'credential', 'credentials'].map(
    (w) => [w, 'assignment'] as const,
  ),
];

/** The last letters of the secret words, either case, as a table by char code. */
const LAST_LETTERS = new Uint8Array(128);
for (const [w] of SECRET_WORDS) {
  const c = w.charCodeAt(w.length - 1);
  LAST_LETTERS[c] = LAST_LETTERS[c - 32] = 1;
}

/** Longest key looked at (characters before the separator). */
const MAX_KEY = 64;
/** Longest value masked from one assignment; the scan resumes after it. */
const MAX_VALUE = 4096;
/** Blanks allowed around the separator. */
const MAX_BLANKS = 8;
/** Unquoted values that are not secrets. */
const NOT_SECRETS: ReadonlySet<string> = new Set(['null', 'nil', 'none', 'true', 'false', 'undefined', '~']);

export const assignment: Detector = {
  names: ['aws-secret-key', 'assignment'],
  // Every secret word holds an `a` or an `e` (either case): a timestamp's `:` is no reason to look.
  needs: ['=:', 'aeAE'],
  scan(text: string, emit: Emit): void {
    const n = text.length;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c !== 0x3d /* = */ && c !== 0x3a /* : */) continue;
      const valueFrom = separatorEnd(text, i);
      if (valueFrom < 0) continue;
      const name = secretKeyAt(text, i);
      if (name === undefined) continue;
      const value = valueAt(text, valueFrom);
      if (value === undefined) continue;
      emit(value.start, value.end, name);
      i = value.next - 1;
    }
  },
};

/** Index after the separator at `i` (`=`, `:` or `:=`), or -1 when it is a comparison, `::` or a URL scheme. */
function separatorEnd(text: string, i: number): number {
  const next = text.charCodeAt(i + 1);
  if (text.charCodeAt(i) === 0x3d) {
    const prev = text.charCodeAt(i - 1);
    // `==`, `!=`, `<=`, `>=`
    return next === 0x3d || prev === 0x3d || prev === 0x21 || prev === 0x3c || prev === 0x3e ? -1 : i + 1;
  }
  if (next === 0x3d) return i + 2; // `:=`
  if (next === 0x3a || next === 0x2f) return -1; // `::`, `://`
  return i + 1;
}

/** The detector for the key just before the separator at `sep`, when that key names a secret. */
function secretKeyAt(text: string, sep: number): DetectorName | undefined {
  let end = sep;
  let blanks = 0;
  while (end > 0 && blanks < MAX_BLANKS && (text.charCodeAt(end - 1) === 0x20 || text.charCodeAt(end - 1) === 0x09)) {
    end--;
    blanks++;
  }
  const q = text.charCodeAt(end - 1);
  if (q === 0x22 || q === 0x27) end--; // a quoted key: "password": …
  // Every secret word ends in one of these letters: most separators (timestamps, URLs, prose) stop here.
  if (LAST_LETTERS[text.charCodeAt(end - 1)] !== 1) return undefined;
  let start = end;
  while (start > 0 && end - start < MAX_KEY && charIn(KEY_CHARS, text, start - 1)) start--;
  if (start === end) return undefined;
  const key = normaliseKey(text.slice(start, end));
  for (const [word, name] of SECRET_WORDS) if (key.endsWith(word)) return name;
  return undefined;
}

function normaliseKey(key: string): string {
  let out = '';
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c === 0x5f || c === 0x2e || c === 0x2d) continue;
    out += c >= 0x41 && c <= 0x5a ? String.fromCharCode(c + 32) : key[i];
  }
  return out;
}

/** The value starting at `from` (after blanks): quoted or up to a delimiter; `next` is where scanning resumes. */
function valueAt(text: string, from: number): { start: number; end: number; next: number } | undefined {
  const start0 = skipBlanks(text, from, MAX_BLANKS);
  const q = text.charCodeAt(start0);
  const quoted = q === 0x22 || q === 0x27;
  const start = quoted ? start0 + 1 : start0;
  // Decided before scanning the value, so a rejected value costs nothing (the scan stays linear).
  if (!worthScanning(text, start, quoted)) return undefined;
  const close = quoted ? closingQuote(text, start, q) : -1;
  // A quoted value runs to its closing quote; without one in reach, up to the first delimiter.
  const end = close >= 0 ? close : unquotedEnd(text, start);
  if (end === start || (!quoted && end - start <= 16 && NOT_SECRETS.has(text.slice(start, end).toLowerCase()))) return undefined;
  return { start, end, next: close >= 0 ? close + 1 : end };
}

function closingQuote(text: string, from: number, quote: number): number {
  const limit = Math.min(text.length, from + MAX_VALUE);
  for (let j = from; j < limit; j++) {
    const c = text.charCodeAt(j);
    if (c === 0x5c) j++;
    else if (c === quote) return j;
  }
  return -1;
}

function unquotedEnd(text: string, from: number): number {
  const limit = Math.min(text.length, from + MAX_VALUE);
  let j = from;
  while (j < limit && !isValueDelimiter(text.charCodeAt(j))) j++;
  return j;
}

function isValueDelimiter(c: number): boolean {
  switch (c) {
    case 0x22: // "
    case 0x27: // '
    case 0x60: // `
    case 0x2c: // ,
    case 0x3b: // ;
    case 0x26: // &
    case 0x29: // )
    case 0x7d: // }
    case 0x5d: // ]
    case 0x3c: // <
    case 0x3e: // >
      return true;
    default:
      return isSpace(c);
  }
}

/** False for values that are not the secret itself: masks, structures, references, block scalars (`token: {`, `password=$DB_PASSWORD`, `secret: |`). */
function worthScanning(text: string, start: number, quoted: boolean): boolean {
  if (start >= text.length || text.startsWith(MASK_PREFIX, start)) return false;
  if (quoted) return true;
  const first = text.charCodeAt(start);
  return first !== 0x7b && first !== 0x5b && first !== 0x24 && first !== 0x7c;
}
