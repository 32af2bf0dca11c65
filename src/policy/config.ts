/**
 * The `policy` section of gatehouse.yaml, and opening the policy it names.
 *
 * @module
 */

import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { compileCel } from './cel/index.js';
import { defaultActions } from './model.js';
import type { CelCompiler, CompiledPolicy } from './model.js';
import { watchPolicy } from './watch.js';
import type { PolicyLog, ReloadTrigger, WatchedPolicy } from './watch.js';

const shadowConfigSchema = z
  .object({
    /** The proposed policy: evaluated and recorded on live traffic, never enforced. */
    paths: z.array(z.string()).min(1, 'list the proposed policy files or directories'),
    /** Also load the guardrail pack into the shadow policy. */
    builtinGuardrails: z.boolean().default(false),
  })
  .strict();
export type ShadowConfig = z.infer<typeof shadowConfigSchema>;

/**
 * ```yaml
 * policy:
 *   paths: [/etc/gatehouse/policies]   # files or directories of *.yaml
 *   defaultAction: deny                # when no rule matches and no Policy document sets it
 *   builtinGuardrails: true            # also load the shipped policies/guardrails pack
 *   shadow: { paths: [/etc/gatehouse/proposed] }   # optional: evaluated and recorded, never enforced
 * ```
 */
export const policyConfigSchema = z
  .object({
    paths: z.array(z.string()).default([]),
    defaultAction: z.enum(defaultActions).default('deny'),
    builtinGuardrails: z.boolean().default(true),
    /** Rules switched off by name, e.g. a guardrail that does not fit this cluster. */
    disabledRules: z.array(z.string().min(1)).default([]),
    /** A proposed policy run beside this one and only recorded (shadow mode, src/policy/shadow.ts). `shadow: { paths: [...] }` */
    shadow: shadowConfigSchema.optional(),
  })
  .strict();

export type PolicyConfig = z.infer<typeof policyConfigSchema>;

/** The section's value when gatehouse.yaml has none: `policyConfigSchema.default(defaultPolicyConfig)`. */
export const defaultPolicyConfig: PolicyConfig = Object.freeze({ paths: [], defaultAction: 'deny', builtinGuardrails: true, disabledRules: [] });

/** The directory of the shipped guardrail pack (same relative place from src/policy and dist/policy). */
export function builtinGuardrailsDir(): string {
  return fileURLToPath(new URL('../../policies/guardrails', import.meta.url));
}

/** The shipped permissive start: allows everything no other rule catches (opt in by adding it to `paths`). */
export function baselineAllowFile(): string {
  return fileURLToPath(new URL('../../policies/baseline-allow.yaml', import.meta.url));
}

/** Every path the policy is loaded from: the guardrail pack first when enabled, then the configured paths. */
export function policyPaths(config: PolicyConfig): string[] {
  return config.builtinGuardrails ? [builtinGuardrailsDir(), ...config.paths] : [...config.paths];
}

/**
 * Loads the configured policy and watches it for edits.
 *
 * @throws PolicyLoadError when the policy is invalid at start-up.
 * @example
 * const handle = openPolicy(config.policy, { log });
 * const stage = createPolicyStage({ policy: handle, namespaceLabels, resolveObject });
 */
export function openPolicy(
  config: PolicyConfig,
  deps: { log: PolicyLog; onChange?: (policy: CompiledPolicy) => void; onReload?: (trigger: ReloadTrigger, ok: boolean) => void; compile?: CelCompiler },
): WatchedPolicy {
  return watchPolicy(policyPaths(config), deps.compile ?? compileCel, deps.onChange ?? (() => undefined), deps.log, {
    defaultAction: config.defaultAction,
    disabledRules: config.disabledRules,
    onReload: deps.onReload,
  });
}
