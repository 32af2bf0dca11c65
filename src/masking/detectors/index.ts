/**
 * The credential detectors, and finding what they match in a text.
 *
 * @module
 */
import { assignment } from './assignment.js';
import { authorizationHeader } from './authorization.js';
import { gcpPrivateKey } from './gcp.js';
import { jwt } from './jwt.js';
import { privateKey } from './pem.js';
import { awsAccessKey, gatehouseToken, githubToken, gitlabToken, slackToken } from './tokens.js';
import { urlCredentials } from './url.js';
import { detectorNames, type Detector, type DetectorName, type Emit } from './types.js';

export { detectorNames, type Detector, type DetectorName } from './types.js';
export { endsInsidePrivateKey, privateKeyEnd } from './pem.js';

/** Every detector, each once (the order does not matter: findings are sorted and merged). */
const ALL: readonly Detector[] = [privateKey, gcpPrivateKey, jwt, awsAccessKey, githubToken, gitlabToken, slackToken, gatehouseToken, urlCredentials, authorizationHeader, assignment];

/** A range of text to mask and the detector that found it. */
export interface Span {
  start: number;
  end: number;
  detector: DetectorName;
}

const RANK: ReadonlyMap<DetectorName, number> = new Map(detectorNames.map((name, i) => [name, i]));

/** No credential this module knows fits in fewer characters (`token=x` is 7). */
const MIN_TEXT = 7;

/**
 * A compiled set of detectors: the ones whose names are given (all by default).
 *
 * @example
 * const scanner = createTextScanner(['jwt', 'private-key']);
 * scanner.scan('Authorization: Bearer eyJhbGciOi…'); // → [{ start: 22, end: …, detector: 'jwt' }]
 */
export interface TextScanner {
  readonly names: readonly DetectorName[];
  /** The findings in `text`, sorted and merged (overlaps become one span, named by the earliest, then longest, then most specific); undefined when none. */
  scan(text: string): Span[] | undefined;
  /**
   * For a caller's own pass over a text: per ASCII char code, bits of what
   * the detectors need; OR them over the text's characters and ask
   * {@link mayFind} before calling {@link scan}.
   */
  readonly needBits: Readonly<Uint32Array>;
  /** False when no detector can find anything in a text of `length` characters whose {@link needBits} OR to `present`. */
  mayFind(present: number, length: number): boolean;
  /** No finding fits in fewer characters: a shorter text needs no pass over its characters. */
  readonly minLength: number;
}

export function createTextScanner(names: readonly DetectorName[] = detectorNames): TextScanner {
  const wanted = new Set(names);
  const detectors = ALL.filter((d) => d.names.some((n) => wanted.has(n)));
  const gate = new CharGate(detectors);
  const enabled = [...wanted];
  return {
    names: enabled,
    scan(text) {
      if (text.length < MIN_TEXT || detectors.length === 0) return undefined;
      const present = gate.present(text);
      let spans: Span[] | undefined;
      let emit: Emit | undefined;
      for (let i = 0; i < detectors.length; i++) {
        const needs = gate.needs[i]!;
        if ((present & needs) !== needs) continue;
        emit ??= (start, end, detector) => {
          if (wanted.has(detector)) (spans ??= []).push({ start, end, detector });
        };
        detectors[i]!.scan(text, emit);
      }
      return spans === undefined ? undefined : mergeSpans(spans);
    },
    needBits: gate.bits,
    mayFind(present, length) {
      return length >= MIN_TEXT && gate.mayFind(present);
    },
    minLength: MIN_TEXT,
  };
}

/** Distinct {@link Detector.needs} entries a gate tracks (one bit each). */
const MAX_NEEDS = 31;

/**
 * Which detectors can find something in a text, from the characters it
 * holds: one pass over the text instead of a search per detector, so the
 * common short string (a name, a timestamp, a uid) costs one loop.
 */
class CharGate {
  /** Per detector: the bits of its needs. */
  readonly needs: readonly number[];
  /** Per ASCII character: the bits of the needs it satisfies. */
  readonly bits = new Uint32Array(128);
  private readonly all: number;

  constructor(detectors: readonly Detector[]) {
    const bitOf = new Map<string, number>();
    this.needs = detectors.map((d) => {
      let mask = 0;
      for (const alternatives of d.needs) {
        let bit = bitOf.get(alternatives);
        // Out of bits: the need is left out, which only lets the detector run more often.
        if (bit === undefined && bitOf.size < MAX_NEEDS) {
          bit = 1 << bitOf.size;
          bitOf.set(alternatives, bit);
          for (let i = 0; i < alternatives.length; i++) {
            const c = alternatives.charCodeAt(i);
            if (c >= 128) throw new Error(`detector ${d.names[0]}: needs must be ASCII`);
            this.bits[c]! |= bit;
          }
        }
        if (bit !== undefined) mask |= bit;
      }
      return mask;
    });
    this.all = this.needs.reduce((a, b) => a | b, 0);
  }

  /** The bits of every need `text` satisfies. */
  present(text: string): number {
    const bits = this.bits;
    const all = this.all;
    let present = 0;
    for (let i = 0; i < text.length && present !== all; i++) {
      const c = text.charCodeAt(i);
      if (c < 128) present |= bits[c]!;
    }
    return present;
  }

  /** True when some detector's needs are all in `present`. */
  mayFind(present: number): boolean {
    for (const needs of this.needs) if ((present & needs) === needs) return true;
    return false;
  }
}

export function mergeSpans(spans: Span[]): Span[] {
  if (spans.length === 1) return spans;
  spans.sort((a, b) => a.start - b.start || b.end - a.end || RANK.get(a.detector)! - RANK.get(b.detector)!);
  const out: Span[] = [];
  let current = { ...spans[0]! };
  for (let i = 1; i < spans.length; i++) {
    const s = spans[i]!;
    if (s.start < current.end) {
      if (s.end > current.end) current.end = s.end;
    } else {
      out.push(current);
      current = { ...s };
    }
  }
  out.push(current);
  return out;
}
