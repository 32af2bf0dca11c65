/**
 * Inline masking: sensitive values never reach the client, whatever the
 * shape of the response. Pure functions and Transforms over decoded JSON and
 * bytes; the proxy decides when to apply them (see docs/masking.md).
 *
 * @module
 */
import type { Masker } from './masker.js';
import type { MaskReport } from './report.js';

export { createMasker, LAST_APPLIED_ANNOTATION, MAX_DEPTH, type Masker } from './masker.js';
export {
  defaultRules,
  MASK_BASE64,
  MASK_TEXT,
  maskingConfigSchema,
  maskRuleSchema,
  SECRET_NAME_PATTERN,
  secretRules,
  type MaskingConfig,
  type MaskingConfigInput,
  type MaskRule,
  type MaskRuleInput,
  type SessionMaskingConfig,
} from './config.js';
export type { MaskReport } from './report.js';
export { detectorNames, type DetectorName, type TextScanner } from './detectors/index.js';
export { createWatchMaskStream, DEFAULT_MAX_EVENT_BYTES, WatchMaskStream, type WatchMaskOptions } from './watch-stream.js';
export { BodyMaskStream, createBodyMaskStream, type BodyMaskOptions } from './body-stream.js';
export {
  createLineMasker,
  createLineMaskStream,
  DEFAULT_MAX_LINE_BYTES,
  LineMaskStream,
  type LineMasker,
  type LineMaskOptions,
} from './line-stream.js';
export { createSessionOutputMasker, type SessionOutputMasker } from './session-output.js';
export { RulePathError } from './rule-path.js';
export { createMaskedWriteGuard } from './write-guard.js';
export { knownValuesOf, MIN_KNOWN_VALUE, withKnownValues } from './known-values.js';

/**
 * Masks credentials in free text with the masker's detectors (`<masked:jwt>`…).
 *
 * @example
 * maskText(createMasker(), 'DATABASE_URL=postgres://app:hunter2@db/shop');
 * // → { text: 'DATABASE_URL=postgres://app:<masked:connection-string>@db/shop',
 * //     report: { masked: 1, paths: [], detectors: ['connection-string'] } }
 */
export function maskText(masker: Masker, text: string): { text: string; report: MaskReport } {
  return masker.maskText(text);
}
