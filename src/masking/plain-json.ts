/**
 * Checking JSON text for findings without decoding it. A string with no
 * escape (and no control character, which JSON does not allow in one) is
 * spelt exactly as `JSON.parse` would return it, so it can be scanned where
 * it stands: a list item's `metadata` costs one pass over its text instead
 * of a parse and a walk of the objects it makes.
 *
 * @module
 */
import type { TextScanner } from './detectors/index.js';

/** Containers open while checking, innermost last (one check runs at a time: JavaScript is single-threaded here). */
let open = new Uint8Array(64);

// What may come next.
/** A value (at the start, after `:`, after `,` in an array); or `]` too when `closeToo` (just after `[`). */
const VALUE = 0;
/** A key (after `,` in an object); or `}` too when `closeToo` (just after `{`). */
const KEY = 1;
/** `:` after a key. */
const COLON = 2;
/** `,` or the container's close, after a value in it. */
const COMMA_OR_CLOSE = 3;
/** Nothing but spaces: the value is complete. */
const END = 4;

const OBJECT = 0x7b;
const ARRAY = 0x5b;

/**
 * True when `text[from, to)` is one JSON value (valid JSON, nesting at
 * most `maxDepth`) in which no string holds anything `scanner` finds and no
 * key is one of `stopKeys`. False means only that this shortcut does not
 * apply: the caller parses the value and masks it as usual (which also
 * reports what is not JSON).
 *
 * The caller vouches that no string of the text holds an escape or a
 * control character (`JsonValueFramer.plainStrings` for the value it
 * framed): each string then ends at the next quote and is what it decodes
 * to. Every string value is scanned on its own, as the masker scans the
 * strings of a parsed value; so is every key of the `v:…` and `k:…` forms,
 * the only keys it scans (those of `managedFields`), so nothing a parse and
 * a walk would find is missed. Spaces are the only whitespace taken
 * (compact JSON, as the API server writes it).
 */
export function plainJsonHasNoFinding(text: string, from: number, to: number, scanner: TextScanner, maxDepth: number, stopKeys: readonly string[]): boolean {
  if (open.length <= maxDepth) open = new Uint8Array(maxDepth + 1);
  let depth = 0;
  let expect = VALUE;
  let closeToo = false;
  let i = from;
  while (i < to) {
    const c = text.charCodeAt(i);
    if (c === 0x20) {
      i++;
      continue;
    }
    if (expect === VALUE || expect === KEY) {
      // The close of an empty container.
      if (closeToo && c === (expect === KEY ? 0x7d : 0x5d)) {
        i++;
        depth--;
        closeToo = false;
        expect = depth === 0 ? END : COMMA_OR_CLOSE;
        continue;
      }
      closeToo = false;
      if (expect === KEY) {
        if (c !== 0x22) return false;
        const end = stringEnd(text, i, to, scanner, true);
        if (end < 0 || isOneOf(text, i + 1, end - 1, stopKeys)) return false;
        i = end;
        expect = COLON;
        continue;
      } else if (c === OBJECT || c === ARRAY) {
        if (depth === maxDepth) return false;
        open[depth++] = c;
        i++;
        expect = c === OBJECT ? KEY : VALUE;
        closeToo = true;
        continue;
      } else {
        i = c === 0x22 ? stringEnd(text, i, to, scanner, false) : scalarEnd(text, i, to, c);
        expect = depth === 0 ? END : COMMA_OR_CLOSE;
      }
      if (i < 0) return false;
    } else if (expect === COLON) {
      if (c !== 0x3a) return false;
      i++;
      expect = VALUE;
    } else if (expect === COMMA_OR_CLOSE) {
      const container = open[depth - 1];
      i++;
      if (c === 0x2c) {
        expect = container === OBJECT ? KEY : VALUE;
      } else if ((c === 0x7d && container === OBJECT) || (c === 0x5d && container === ARRAY)) {
        depth--;
        expect = depth === 0 ? END : COMMA_OR_CLOSE;
      } else {
        return false;
      }
    } else {
      return false; // END: more than one value
    }
  }
  return expect === END;
}

/**
 * The index after the string opening at `at`, or -1 when it does not end
 * before `to` or holds a finding. A `key` is scanned only in the forms the
 * masker scans (`v:…`, `k:…`).
 */
function stringEnd(text: string, at: number, to: number, scanner: TextScanner, key: boolean): number {
  const close = text.indexOf('"', at + 1);
  if (close < 0 || close >= to) return -1;
  const length = close - at - 1;
  if (length < scanner.minLength || (key && !isValueKey(text, at + 1))) return close + 1;
  const bits = scanner.needBits;
  let present = 0;
  for (let i = at + 1; i < close; i++) {
    const c = text.charCodeAt(i);
    if (c < 128) present |= bits[c]!;
  }
  return scanner.mayFind(present, length) && scanner.scan(text.slice(at + 1, close)) !== undefined ? -1 : close + 1;
}

/** True for a key of the `v:…` or `k:…` form at `at`. */
function isValueKey(text: string, at: number): boolean {
  const first = text.charCodeAt(at);
  return (first === 0x76 || first === 0x6b) && text.charCodeAt(at + 1) === 0x3a;
}

/** True when `text[from, to)` is one of `words`. */
function isOneOf(text: string, from: number, to: number, words: readonly string[]): boolean {
  for (const word of words) if (word.length === to - from && text.startsWith(word, from)) return true;
  return false;
}

/** The index after the number or literal starting at `at` (char `c`), or -1 when there is none there. */
function scalarEnd(text: string, at: number, to: number, c: number): number {
  if (c === 0x74) return text.startsWith('true', at) && at + 4 <= to ? at + 4 : -1;
  if (c === 0x66) return text.startsWith('false', at) && at + 5 <= to ? at + 5 : -1;
  if (c === 0x6e) return text.startsWith('null', at) && at + 4 <= to ? at + 4 : -1;
  return numberEnd(text, at, to);
}

/** The index after the JSON number at `at` (`-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`), or -1. */
function numberEnd(text: string, at: number, to: number): number {
  let i = at;
  if (text.charCodeAt(i) === 0x2d) i++;
  if (text.charCodeAt(i) === 0x30) i++;
  else {
    const end = digitsEnd(text, i, to);
    if (end === i) return -1;
    i = end;
  }
  if (i < to && text.charCodeAt(i) === 0x2e) {
    const end = digitsEnd(text, i + 1, to);
    if (end === i + 1) return -1;
    i = end;
  }
  const e = text.charCodeAt(i);
  if (i < to && (e === 0x65 || e === 0x45)) {
    i++;
    const sign = text.charCodeAt(i);
    if (sign === 0x2b || sign === 0x2d) i++;
    const end = digitsEnd(text, i, to);
    if (end === i) return -1;
    i = end;
  }
  return i > to ? -1 : i;
}

function digitsEnd(text: string, from: number, to: number): number {
  let i = from;
  while (i < to) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    i++;
  }
  return i;
}
