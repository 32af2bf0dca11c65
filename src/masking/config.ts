/**
 * The `masking` section of gatehouse.yaml: what the masker replaces, with
 * secure defaults (Secret values, secret-looking ConfigMap keys and env
 * values, every credential detector on every string).
 *
 * @module
 */
import { z } from 'zod';
import { detectorNames } from './detectors/index.js';
import { RulePathError, compilePattern, parseRulePath } from './rule-path.js';

/** Plain-text marker written over masked values. */
export const MASK_TEXT = '<masked by gatehouse>';
/** The same marker in base64, for values that must stay valid base64 (Secret `data`, ConfigMap `binaryData`). */
export const MASK_BASE64 = Buffer.from(MASK_TEXT).toString('base64');

/** Names that mark a value as secret in the default rules. */
export const SECRET_NAME_PATTERN = '(?i)password|token|secret|key|credential';

/**
 * A masking rule: for objects of `kinds` (all kinds when absent), replace
 * the string values that `paths` select (see `rule-path.ts` for the syntax);
 * `keyPattern`, when set, keeps only values whose own key matches it (an RE2
 * pattern). `encoding: base64` writes the base64 marker, for fields that must
 * stay valid base64.
 */
export const maskRuleSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lower-case letters, digits and "-"')
      .optional(),
    kinds: z.array(z.string().min(1)).min(1).optional(),
    paths: z.array(z.string().min(1)).min(1),
    keyPattern: z.string().min(1).optional(),
    encoding: z.enum(['text', 'base64']).default('text'),
  })
  .strict()
  .superRefine((rule, ctx) => {
    const check = (path: (string | number)[], compile: () => unknown): void => {
      try {
        compile();
      } catch (err) {
        if (!(err instanceof RulePathError)) throw err;
        ctx.addIssue({ code: 'custom', path, message: err.message });
      }
    };
    rule.paths.forEach((p, i) => check(['paths', i], () => parseRulePath(p)));
    if (rule.keyPattern !== undefined) {
      const pattern = rule.keyPattern;
      check(['keyPattern'], () => compilePattern(pattern));
    }
  });

export type MaskRule = z.infer<typeof maskRuleSchema>;
export type MaskRuleInput = z.input<typeof maskRuleSchema>;

/** Where a pod spec sits in the kinds that carry one. */
const POD_SPEC_PATHS = ['spec', 'spec.template.spec', 'spec.jobTemplate.spec.template.spec', 'template.spec'];
const CONTAINER_LISTS = ['containers', 'initContainers', 'ephemeralContainers'];

/** The rules for Secrets (kept apart so `secrets: false` can drop them). */
export const secretRules: readonly MaskRule[] = Object.freeze([
  { name: 'secret-data', kinds: ['Secret'], paths: ['data.*'], encoding: 'base64' },
  { name: 'secret-string-data', kinds: ['Secret'], paths: ['stringData.*'], encoding: 'text' },
]);

/** The default rules: secret-looking ConfigMap keys, and env values with secret-looking names in pods and every pod template. */
export const defaultRules: readonly MaskRule[] = Object.freeze([
  { name: 'configmap-keys', kinds: ['ConfigMap'], paths: ['data.*'], keyPattern: SECRET_NAME_PATTERN, encoding: 'text' },
  { name: 'configmap-binary-keys', kinds: ['ConfigMap'], paths: ['binaryData.*'], keyPattern: SECRET_NAME_PATTERN, encoding: 'base64' },
  {
    name: 'env-values',
    paths: POD_SPEC_PATHS.flatMap((spec) => CONTAINER_LISTS.map((list) => `${spec}.${list}[*].env[?name=~${SECRET_NAME_PATTERN}].value`)),
    encoding: 'text',
  },
]);

/**
 * exec and attach sessions that policy marks `mask` (docs/masking.md,
 * "exec and attach"; the guardrails mark an agent's): refused unless
 * `enabled`; their stdout and stderr are then masked line by line, and a
 * mid-word tail of output that went quiet is released after `holdMs` — the
 * bound on how long typed characters echoed by a terminal wait.
 */
export const sessionMaskingSchema = z
  .object({
    enabled: z.boolean().default(true),
    holdMs: z.number().int().min(0).max(5000).default(50),
  })
  .strict();

export type SessionMaskingConfig = z.infer<typeof sessionMaskingSchema>;

/**
 * ```yaml
 * masking:
 *   secrets: true            # Secret data/stringData (and what leaks them: last-applied-configuration)
 *   defaultRules: true       # ConfigMap keys and env values named like password|token|secret|key|credential
 *   rules: []                # more rules, added to the above
 *   detectors: [jwt, …]      # credential detectors run on every string (default: all; [] turns them off)
 *   maxReportPaths: 64       # paths listed per report (the count is always exact)
 *   sessions:                # exec / attach output (WebSocket only)
 *     enabled: true          # false: an exec or attach policy marks `mask` is refused instead
 *     holdMs: 50             # how long a quiet mid-word tail of output is held
 * ```
 */
export const maskingConfigSchema = z
  .object({
    secrets: z.boolean().default(true),
    defaultRules: z.boolean().default(true),
    rules: z.array(maskRuleSchema).default([]),
    detectors: z.array(z.enum(detectorNames)).default([...detectorNames]),
    maxReportPaths: z.number().int().min(0).max(10_000).default(64),
    sessions: sessionMaskingSchema.default(() => sessionMaskingSchema.parse({})),
  })
  .strict();

export type MaskingConfig = z.infer<typeof maskingConfigSchema>;
export type MaskingConfigInput = z.input<typeof maskingConfigSchema>;

/** Every rule a config enables, in order: Secret rules, default rules, then the configured ones. */
export function enabledRules(config: MaskingConfig): MaskRule[] {
  return [...(config.secrets ? secretRules : []), ...(config.defaultRules ? defaultRules : []), ...config.rules];
}
