/**
 * Framing JSON values in a byte stream without parsing them: tracks strings
 * (with escapes) and nesting byte by byte, so values split across chunks at
 * any byte (inside a string, an escape or a UTF-8 sequence) come out whole.
 *
 * @module
 */
import { GatehouseError } from '../errors/codes.js';

/** Default most bytes a masking stream holds at once (one event, item or member): objects are capped at ~1.5 MB by etcd. */
export const DEFAULT_MAX_HELD_BYTES = 16 * 1024 * 1024;
/** Paths kept in a stream's cumulative report. */
export const DEFAULT_STREAM_REPORT_PATHS = 64;

/** An error of a masking stream: the response could not be masked, so nothing more of it is forwarded. */
export function maskStreamError(what: string, message: string): GatehouseError {
  return new GatehouseError('GH_MASKING_FAILED', `masking the ${what} failed: ${message}`);
}

const NO_COMMAS: readonly number[] = Object.freeze([]);

/** True for JSON whitespace. */
export function isJsonSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * Frames one JSON value at a time. Call {@link feed} with the chunk and the
 * index of the value's first byte (then with following chunks from 0) until
 * it returns the index just after the value; {@link take} returns its bytes.
 * Holds at most `maxBytes` of one value.
 */
export class JsonValueFramer {
  private parts: Buffer[] = [];
  private size = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private scalar = false;
  private object = false;
  private started = false;
  private done: Buffer | undefined;
  /** Offsets (from the value's first byte) of the commas between the members of the object being framed. */
  private commas: number[] = [];
  private doneCommas: readonly number[] = NO_COMMAS;
  /** No string of the value so far holds an escape or a control character. */
  private plain = true;
  private donePlain = true;

  constructor(
    private readonly maxBytes: number,
    private readonly what: string,
  ) {}

  /** True while a value is started and not complete. */
  get active(): boolean {
    return this.started;
  }

  /**
   * Consumes bytes of the current value from `chunk[from]` on (the first call
   * must start at the value's first byte). Returns the index just after the
   * value when it completes in this chunk, else -1 (the bytes are kept).
   *
   * @throws GatehouseError when the value grows past `maxBytes`.
   */
  feed(chunk: Buffer, from: number): number {
    let i = from;
    if (!this.started) {
      this.started = true;
      const c = chunk[i]!;
      if (c === 0x7b || c === 0x5b) this.depth = 1;
      else if (c === 0x22) this.inString = true;
      else this.scalar = true;
      this.object = c === 0x7b;
      i++;
    }
    const n = chunk.length;
    if (this.scalar) {
      for (; i < n; i++) {
        const c = chunk[i]!;
        if (c === 0x2c || c === 0x7d || c === 0x5d || isJsonSpace(c)) return this.complete(chunk, from, i);
      }
      return this.keepRest(chunk, from);
    }
    // The hottest loop of response masking: state in locals, and string contents skipped two tests per byte.
    let depth = this.depth;
    let inString = this.inString;
    const object = this.object;
    /** Offset in the value = this base + index in the chunk. */
    const base = this.size - from;
    if (this.escaped) {
      this.escaped = false;
      i++; // the byte escaped by a backslash that ended the previous chunk
    }
    while (i < n) {
      if (inString) {
        let c = chunk[i]!;
        while (c !== 0x22 && c !== 0x5c && c >= 0x20 && ++i < n) c = chunk[i]!;
        if (i >= n) break;
        if (c === 0x5c) {
          this.plain = false;
          i += 2; // past n when the escaped byte is in the next chunk
          continue;
        }
        if (c < 0x20) {
          this.plain = false; // not JSON: the parse that follows says so
          i++;
          continue;
        }
        i++;
        inString = false;
        if (depth === 0) return this.complete(chunk, from, i);
      } else {
        const c = chunk[i++]!;
        if (c === 0x22) inString = true;
        else if (c === 0x7b || c === 0x5b) depth++;
        else if ((c === 0x7d || c === 0x5d) && --depth === 0) return this.complete(chunk, from, i);
        else if (c === 0x2c && depth === 1 && object) this.commas.push(base + i - 1);
      }
    }
    this.escaped = i > n;
    this.depth = depth;
    this.inString = inString;
    return this.keepRest(chunk, from);
  }

  /** At the end of input: a scalar still open is complete there; anything else open is truncated (undefined). */
  finish(): Buffer | undefined {
    if (!this.started || !this.scalar) return undefined;
    this.done = Buffer.concat(this.parts, this.size);
    this.doneCommas = NO_COMMAS;
    this.donePlain = true;
    this.reset();
    return this.done;
  }

  /** The bytes of the value that just completed. */
  take(): Buffer {
    const done = this.done!;
    this.done = undefined;
    return done;
  }

  /** For the value just taken, when it is an object: the offsets of the commas between its members (see {@link memberReplacements}). */
  get memberCommas(): readonly number[] {
    return this.doneCommas;
  }

  /** For the value just taken: true when none of its strings holds an escape or a control character (each is spelt as it decodes). */
  get plainStrings(): boolean {
    return this.donePlain;
  }

  /** Keeps `chunk[from…]`, a value's bytes that continue in the next chunk. */
  private keepRest(chunk: Buffer, from: number): number {
    this.parts.push(chunk.subarray(from));
    this.size += chunk.length - from;
    if (this.size > this.maxBytes) throw this.tooLarge();
    return -1;
  }

  private complete(chunk: Buffer, from: number, end: number): number {
    const tail = chunk.subarray(from, end);
    const size = this.size + tail.length;
    if (size > this.maxBytes) throw this.tooLarge();
    this.done = this.parts.length === 0 ? tail : Buffer.concat([...this.parts, tail], size);
    this.doneCommas = this.commas.length === 0 ? NO_COMMAS : this.commas;
    this.donePlain = this.plain;
    this.reset();
    return end;
  }

  private reset(): void {
    this.parts = [];
    this.size = 0;
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.scalar = false;
    this.object = false;
    this.started = false;
    this.plain = true;
    if (this.commas.length > 0) this.commas = [];
  }

  private tooLarge(): GatehouseError {
    return maskStreamError(this.what, `a value is larger than ${this.maxBytes} bytes, the most the gateway holds to mask one`);
  }
}

/** Parses a framed value. @throws GatehouseError when it is not JSON. */
export function parseFramed(bytes: Buffer, what: string): unknown {
  return parseFramedText(bytes.toString('utf8'), what);
}

/** Parses the text of a framed value. @throws GatehouseError when it is not JSON. */
export function parseFramedText(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Not V8's message: it quotes the text around the fault, which may be a secret, into logs and traces.
    throw maskStreamError(what, 'not valid JSON');
  }
}

/** A range of a framed value's text, and the text that replaces it. */
export interface Replacement {
  readonly from: number;
  readonly to: number;
  readonly text: string;
}

/**
 * How to turn the JSON of an object into the JSON of its masked copy by
 * replacing only its changed members: most of a masked list item (its
 * metadata) is unchanged, and keeping those bytes costs a copy instead of a
 * `JSON.stringify`. (Splicing further down, into a changed member, costs
 * more than it saves: finding the members in JavaScript is slower than V8's
 * `JSON.stringify`.)
 *
 * `text` is the object's JSON as framed; `commas` are the offsets of the
 * commas between its members; `before` is its parse and `after` the masked
 * copy. Returns the replacements in order, each a whole member (from the
 * byte after the previous comma or the `{` to the next comma or the `}`)
 * replaced by `"key":value` in compact JSON. Undefined when the members
 * cannot be matched one to one with the keys, in order (a duplicate key, an
 * escaped key, an integer-like key JavaScript orders first), or when
 * `after` has other keys: the caller then serialises the whole object.
 */
export function memberReplacements(text: string, commas: readonly number[], before: Record<string, unknown>, after: Record<string, unknown>): Replacement[] | undefined {
  const keys = Object.keys(before);
  if (keys.length !== commas.length + 1 || !sameKeys(keys, after) || !replacedMembers.read(text, commas)) return undefined;
  const out: Replacement[] = [];
  for (let m = 0; m < keys.length; m++) {
    const key = keys[m]!;
    // The key as written must be this key, so the member's text is this member's (and the key is valid JSON as it is).
    if (replacedMembers.keys[m] !== key) return undefined;
    const value = after[key];
    if (value !== before[key]) out.push({ from: replacedMembers.memberFrom[m]!, to: replacedMembers.valueTo[m]!, text: `"${key}":${compactJson(value)}` });
  }
  return out;
}

/**
 * The members of a framed JSON object, read from its text and the offsets of
 * the commas between them ({@link JsonValueFramer.memberCommas}): each one's
 * key as written between its quotes, and where the member and its value are.
 * Reused from object to object.
 */
export class ObjectMembers {
  count = 0;
  readonly keys: string[] = [];
  /** Where each member starts (after the `{` or the comma before it), where its value starts and where it ends (its comma, or the `}`). */
  readonly memberFrom: number[] = [];
  readonly valueFrom: number[] = [];
  readonly valueTo: number[] = [];

  /**
   * False when the text is not an object of `"key":value` members (`{}`
   * among them). A key is read up to the next `"`, so an escaped key reads
   * as something else: callers compare keys, or know there is no escape.
   */
  read(text: string, commas: readonly number[]): boolean {
    this.count = 0;
    if (text.charCodeAt(0) !== 0x7b) return false;
    let start = 1;
    for (let m = 0; m <= commas.length; m++) {
      const end = m < commas.length ? commas[m]! : text.length - 1;
      let at = start;
      while (at < end && isJsonSpace(text.charCodeAt(at))) at++;
      if (text.charCodeAt(at) !== 0x22) return false;
      const close = text.indexOf('"', at + 1);
      if (close < 0 || close >= end) return false;
      let colon = close + 1;
      while (colon < end && isJsonSpace(text.charCodeAt(colon))) colon++;
      if (text.charCodeAt(colon) !== 0x3a) return false;
      this.keys[this.count] = text.slice(at + 1, close);
      this.memberFrom[this.count] = start;
      this.valueFrom[this.count] = colon + 1;
      this.valueTo[this.count] = end;
      this.count++;
      start = end + 1;
    }
    return true;
  }

  /**
   * Reads `text[from, to)` as an object of `"key":"string"` members written
   * compactly (no space), each string without an escape (callers know: the
   * framer's {@link JsonValueFramer.plainStrings}). False for anything else,
   * `{}` among them.
   */
  readStrings(text: string, from: number, to: number): boolean {
    this.count = 0;
    if (text.charCodeAt(from) !== 0x7b || text.charCodeAt(to - 1) !== 0x7d) return false;
    let at = from + 1;
    for (;;) {
      if (text.charCodeAt(at) !== 0x22) return false;
      const close = text.indexOf('"', at + 1);
      if (close < 0 || close + 2 >= to || text.charCodeAt(close + 1) !== 0x3a || text.charCodeAt(close + 2) !== 0x22) return false;
      const valueTo = text.indexOf('"', close + 3) + 1;
      if (valueTo <= 0 || valueTo >= to) return false;
      this.keys[this.count] = text.slice(at + 1, close);
      this.memberFrom[this.count] = at;
      this.valueFrom[this.count] = close + 2;
      this.valueTo[this.count] = valueTo;
      this.count++;
      if (valueTo === to - 1) return true;
      if (text.charCodeAt(valueTo) !== 0x2c) return false;
      at = valueTo + 1;
    }
  }
}

// One object at a time: memberReplacements runs to its end without yielding.
const replacedMembers = new ObjectMembers();

/**
 * `JSON.stringify(value)`, written by hand for the common masked member: an
 * object of strings without characters JSON escapes (a Secret's `data` with
 * every value replaced). Node 20's `JSON.stringify` costs ~0.5 µs for such a
 * small object, mostly per call; this a fifth of that.
 */
export function compactJson(value: unknown): string {
  if (!isObject(value)) return JSON.stringify(value);
  let out = '{';
  // for…in visits a parsed object's keys in JSON.stringify's order (integer-like first, then insertion order).
  for (const key in value) {
    const v = value[key];
    if (typeof v !== 'string' || !isPlainJsonText(key) || !isPlainJsonText(v)) return JSON.stringify(value);
    out += `${out.length === 1 ? '' : ','}"${key}":"${v}"`;
  }
  return `${out}}`;
}

/** True when `s` is printable ASCII without `"` or `\`: JSON writes it as it is. */
function isPlainJsonText(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/** True when `obj` has exactly `keys`, in that order (the masker renames the keys of managedFields field sets). */
function sameKeys(keys: readonly string[], obj: Record<string, unknown>): boolean {
  const other = Object.keys(obj);
  if (other.length !== keys.length) return false;
  for (let i = 0; i < keys.length; i++) if (other[i] !== keys[i]) return false;
  return true;
}

/** True for a JSON object (not an array, not null). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
