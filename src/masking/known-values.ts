/**
 * Masking values known in advance: the values of the Secrets a pod uses (its
 * secret volumes, `secretKeyRef` env, `envFrom` Secrets) and its literal env
 * values named like credentials. The detectors find credentials by their
 * shape; a database password is just a word. When an agent runs
 * `cat /etc/db/password` or `echo $DB_PASSWORD` in the pod, or the pod logs
 * it, the value itself is what is looked for.
 *
 * @module
 */
import { maskTextWith, type Masker } from './masker.js';
import { mergeSpans, type Span, type TextScanner } from './detectors/index.js';

/**
 * Shortest value looked for. Shorter values (`true`, a port, `admin`) are
 * words any output holds; masking every occurrence would garble it and
 * still tell little about the value.
 */
export const MIN_KNOWN_VALUE = 8;
/** Most values looked for in one output (a pod with many Secrets). */
const MAX_KNOWN_VALUES = 1024;

/**
 * The values to look for in `values`: each line of each value, trimmed (a
 * one-line value is itself; a certificate or a JSON key file gives its
 * lines, since output is masked line by line); at least
 * {@link MIN_KNOWN_VALUE} characters, longest first.
 */
export function knownValuesOf(values: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const value of values) {
    for (const line of value.split(/\r?\n/)) {
      const trimmed = line.trim();
      if (trimmed.length >= MIN_KNOWN_VALUE) out.add(trimmed);
    }
  }
  return [...out].sort((a, b) => b.length - a.length).slice(0, MAX_KNOWN_VALUES);
}

/**
 * A masker whose detectors also find `values` (reported as `pod-secret`),
 * for one exec, attach or log stream. The same masker when there is nothing
 * to look for or `pod-secret` is not among the configured detectors.
 *
 * @example
 * const masker = withKnownValues(createMasker(), ['s3cr3t-db-pass']);
 * masker.maskText('connecting with s3cr3t-db-pass').text; // 'connecting with <masked:pod-secret>'
 */
export function withKnownValues(masker: Masker, values: Iterable<string>): Masker {
  const known = knownValuesOf(values);
  const base = masker.detectors;
  if (known.length === 0 || !base.names.includes('pod-secret')) return masker;
  const detectors: TextScanner = {
    names: base.names,
    scan(text) {
      const found = base.scan(text);
      let spans: Span[] | undefined;
      for (const value of known) {
        for (let at = text.indexOf(value); at >= 0; at = text.indexOf(value, at + value.length)) (spans ??= []).push({ start: at, end: at + value.length, detector: 'pod-secret' });
      }
      return spans === undefined ? found : mergeSpans(found === undefined ? spans : [...found, ...spans]);
    },
    needBits: base.needBits,
    // Any text as long as the shortest value may hold one.
    mayFind: (present, length) => length >= known.at(-1)!.length || base.mayFind(present, length),
    minLength: Math.min(base.minLength, known.at(-1)!.length),
  };
  // Free text keeps no paths: a report names only the detectors.
  return { ...masker, detectors, maskText: (text) => maskTextWith(detectors, text, 0) };
}
