/**
 * The query half of the RequestInfo resolver: Go's `net/url` query parsing
 * for the few list-option keys the resolver reads, and what the API server's
 * parameter codec makes of them (the `watch` boolean, the name a field
 * selector pins, and whether decoding fails as a whole).
 *
 * Like the path, the query must be read exactly as the API server reads it,
 * or policy judges a list where a watch runs, or one object where all of
 * them are returned.
 *
 * @module
 */

import { fieldSelectorExactMatch, isGoInt64, labelSelectorParses } from './selectors.js';

/** Newer Go releases ignore the whole query when it has more parameters than this. */
const GO_MAX_QUERY_PARAMS = 10_000;

const PERCENT = 0x25;

// ---------------------------------------------------------------------------
// Query parameters (Go net/url ParseQuery semantics, for the keys that matter).
// ---------------------------------------------------------------------------

/** First values of the list-option parameters the resolver looks at. */
export interface ListQuery {
  watch?: string;
  fieldSelector?: string;
  labelSelector?: string;
  limit?: string;
  timeoutSeconds?: string;
}

type ListQueryKey = keyof ListQuery;

/** Replaces values that are not UTF-8 where only "equals X" or "is an integer" is asked. */
const NOT_UTF8 = '\uFFFD';

/**
 * Go's ParseQuery, for the keys above: '&'-separated pieces; a piece
 * containing ';' or a bad escape in its key or value is dropped; '+' is a
 * space; the first kept value of a key is the one that counts. Pieces for
 * other keys are skipped without decoding, since only these keys are read.
 *
 * @param raw The whole request target.
 * @param start Index of the first query character in `raw`, or -1 when there is no '?'.
 * @returns The decoded values, or a reason to refuse the request.
 *
 * @example
 * readListQuery('/api/v1/pods?watch=0&watch=1&limit=5', 13); // { watch: '0', limit: '5', ... }
 */
export function readListQuery(raw: string, start: number): ListQuery | string {
  let watch: string | undefined;
  let fieldSelector: string | undefined;
  let labelSelector: string | undefined;
  let limit: string | undefined;
  let timeoutSeconds: string | undefined;

  let pieces = 0;
  let pos = start < 0 ? raw.length + 1 : start;
  while (pos <= raw.length) {
    let end = raw.indexOf('&', pos);
    if (end < 0) end = raw.length;
    const pieceStart = pos;
    pos = end + 1;
    pieces++;
    if (end === pieceStart) continue;

    let keyEnd = pieceStart;
    let keyEscaped = false;
    let keyOk = true;
    for (; keyEnd < end; keyEnd++) {
      const c = raw.charCodeAt(keyEnd);
      if (c === 0x3d) break;
      if (c === 0x3b) keyOk = false;
      else if (c === PERCENT || c === 0x2b) keyEscaped = true;
    }
    if (!keyOk) continue;
    const k = keyEscaped
      ? listQueryKey(decodeQueryComponent(raw, pieceStart, keyEnd))
      : rawListQueryKey(raw, pieceStart, keyEnd);
    if (k === undefined) continue;
    if (
      (k === 'watch' && watch !== undefined) ||
      (k === 'fieldSelector' && fieldSelector !== undefined) ||
      (k === 'labelSelector' && labelSelector !== undefined) ||
      (k === 'limit' && limit !== undefined) ||
      (k === 'timeoutSeconds' && timeoutSeconds !== undefined)
    ) {
      continue;
    }

    if (hasCharIn(raw, 0x3b, keyEnd, end)) continue;
    const decoded = keyEnd < end ? decodeQueryComponent(raw, keyEnd + 1, end) : '';
    if (decoded === null) continue;
    let value: string;
    if (decoded === false) {
      if (k === 'fieldSelector' || k === 'labelSelector') {
        return `the query parameter '${k}' is not valid UTF-8 once percent-decoded`;
      }
      value = NOT_UTF8;
    } else {
      value = decoded;
    }
    if (k === 'watch') watch = value;
    else if (k === 'fieldSelector') fieldSelector = value;
    else if (k === 'labelSelector') labelSelector = value;
    else if (k === 'limit') limit = value;
    else timeoutSeconds = value;
  }
  if (pieces > GO_MAX_QUERY_PARAMS) {
    // Newer Go drops the whole query past this limit, older Go does not: the
    // API server's reading depends on how it was built.
    return `the query has more than ${GO_MAX_QUERY_PARAMS} parameters`;
  }
  return { watch, fieldSelector, labelSelector, limit, timeoutSeconds };
}

function hasCharIn(s: string, c: number, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (s.charCodeAt(i) === c) return true;
  return false;
}

/** The list-option key spelled by raw[start, end), which holds no escapes. */
function rawListQueryKey(raw: string, start: number, end: number): ListQueryKey | undefined {
  switch (end - start) {
    case 5:
      if (raw.startsWith('watch', start)) return 'watch';
      if (raw.startsWith('limit', start)) return 'limit';
      return undefined;
    case 13:
      if (raw.startsWith('fieldSelector', start)) return 'fieldSelector';
      if (raw.startsWith('labelSelector', start)) return 'labelSelector';
      return undefined;
    case 14:
      return raw.startsWith('timeoutSeconds', start) ? 'timeoutSeconds' : undefined;
    default:
      return undefined;
  }
}

function listQueryKey(key: string | null | false): ListQueryKey | undefined {
  switch (key) {
    case 'watch':
    case 'fieldSelector':
    case 'labelSelector':
    case 'limit':
    case 'timeoutSeconds':
      return key;
    default:
      return undefined;
  }
}

/** Go's QueryUnescape on raw[start, end): null for a malformed escape, false when not UTF-8. */
function decodeQueryComponent(raw: string, start: number, end: number): string | null | false {
  let needsDecode = false;
  for (let i = start; i < end; i++) {
    const c = raw.charCodeAt(i);
    if (c === PERCENT) {
      if (i + 2 >= end || hexValue(raw.charCodeAt(i + 1)) < 0 || hexValue(raw.charCodeAt(i + 2)) < 0) return null;
      needsDecode = true;
      i += 2;
    } else if (c === 0x2b) {
      needsDecode = true;
    }
  }
  const s = raw.slice(start, end);
  if (!needsDecode) return s;
  try {
    return decodeURIComponent(s.replaceAll('+', '%20'));
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// List options: what the API server's parameter codec makes of the query.
// ---------------------------------------------------------------------------

/** What the resolver takes from the decoded list options. */
export interface ListDecision {
  watch: boolean;
  /** The metadata.name the field selector pins, when decoding succeeded. */
  exactName: string | undefined;
}

/**
 * Mirrors decoding the query into ListOptions: a malformed `limit`,
 * `timeoutSeconds`, `labelSelector` or `fieldSelector` makes the whole decode
 * fail, and the resolver then falls back to a looser reading of `watch` and
 * ignores the field selector.
 *
 * @example
 * decodeListOptions({ watch: '1', fieldSelector: 'metadata.name=web' }); // { watch: true, exactName: 'web' }
 * decodeListOptions({ watch: '1', fieldSelector: 'metadata.name=web', limit: 'x' }); // { watch: true, exactName: undefined }
 */
export function decodeListOptions(q: ListQuery): ListDecision {
  let failed = false;
  if (q.limit !== undefined && !isGoInt64(q.limit)) failed = true;
  if (q.timeoutSeconds !== undefined && !isGoInt64(q.timeoutSeconds)) failed = true;
  if (q.labelSelector !== undefined && !labelSelectorParses(q.labelSelector)) failed = true;
  let exactName: string | undefined;
  if (q.fieldSelector !== undefined) {
    const match = fieldSelectorExactMatch(q.fieldSelector, 'metadata.name');
    if (match === null) failed = true;
    else exactName = match;
  }
  if (!failed) return { watch: q.watch !== undefined && !isGoBoolFalse(q.watch), exactName };
  // The fallback path compares the lower-cased value with "false" and "0" only.
  const w = q.watch;
  return { watch: w !== undefined && w !== '0' && !asciiEqualFold(w, 'false'), exactName: undefined };
}

/** runtime.Convert_Slice_string_To_bool: false only for "0" or a case-folded "false". */
function isGoBoolFalse(v: string): boolean {
  if (v === '0') return true;
  if (v.length !== 5) return false;
  // strings.EqualFold uses Unicode simple folding: U+017F (long s) folds to 's'.
  const s = v.charCodeAt(3);
  return (
    asciiEqualFold(v[0]!, 'f') &&
    asciiEqualFold(v[1]!, 'a') &&
    asciiEqualFold(v[2]!, 'l') &&
    (s === 0x73 || s === 0x53 || s === 0x17f) &&
    asciiEqualFold(v[4]!, 'e')
  );
}

/** Compares with a lower-case ASCII word, folding only A-Z. */
function asciiEqualFold(v: string, lowerWord: string): boolean {
  if (v.length !== lowerWord.length) return false;
  for (let i = 0; i < v.length; i++) {
    let c = v.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== lowerWord.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * The value of one hexadecimal digit of a percent-escape, or -1 when `c` is
 * not one. Shared by the path and the query decoders.
 *
 * @example
 * hexValue('f'.charCodeAt(0)); // 15
 */
export function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}
