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
import { detectorNames, type Detector, type DetectorName } from './types.js';

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
}

export function createTextScanner(names: readonly DetectorName[] = detectorNames): TextScanner {
  const wanted = new Set(names);
  const detectors = ALL.filter((d) => d.names.some((n) => wanted.has(n)));
  const enabled = [...wanted];
  return {
    names: enabled,
    scan(text) {
      if (text.length < MIN_TEXT || detectors.length === 0) return undefined;
      let spans: Span[] | undefined;
      const emit = (start: number, end: number, detector: DetectorName): void => {
        if (wanted.has(detector)) (spans ??= []).push({ start, end, detector });
      };
      for (const d of detectors) d.scan(text, emit);
      return spans === undefined ? undefined : mergeSpans(spans);
    },
  };
}

function mergeSpans(spans: Span[]): Span[] {
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
