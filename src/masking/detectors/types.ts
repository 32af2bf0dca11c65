/**
 * Every detector's name, in the order overlapping findings are named (most
 * specific first). `pod-secret` is not a pattern: it names the values of the
 * Secrets a pod uses, found in that pod's exec, attach and log output
 * (src/masking/known-values.ts).
 */
export const detectorNames = [
  'pod-secret',
  'gcp-private-key',
  'private-key',
  'jwt',
  'aws-access-key',
  'github-token',
  'gitlab-token',
  'slack-token',
  'gatehouse-token',
  'connection-string',
  'url-credentials',
  'authorization-header',
  'aws-secret-key',
  'assignment',
] as const;

export type DetectorName = (typeof detectorNames)[number];

/** Reports one finding: the half-open range `[start, end)` of the text to mask, and which detector found it. */
export type Emit = (start: number, end: number, name: DetectorName) => void;

/**
 * A credential detector. `scan` reports findings left to right and must run in
 * time linear in the text's length (a hand scanner, `indexOf`, or a regex made
 * only of literals), whatever the input.
 */
export interface Detector {
  /** The names this detector can report (most detectors have one). */
  readonly names: readonly DetectorName[];
  /**
   * ASCII characters every finding needs in the text: each entry lists
   * alternatives (`'=:'`: an `=` or a `:`) and every entry must be present.
   * The scanner skips the detector on a text that lacks one, so each entry
   * must hold for every input: leaving one out only costs time, a wrong one
   * misses credentials.
   */
  readonly needs: readonly string[];
  scan(text: string, emit: Emit): void;
}
