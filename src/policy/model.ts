/**
 * The policy rule model: the YAML schema (zod) of a `Policy` document, and
 * the compiled, immutable form the engine evaluates. See docs/policy.md.
 *
 * @module
 */

import { z } from 'zod';
import { durationText } from '../config/duration.js';
import type { CelProgram, CompileResult } from './cel/index.js';
import type { CompiledMatch } from './match.js';
import type { CompiledBudget } from '../budgets/model.js';

export const POLICY_API_VERSION = 'gatehouse.dev/v1alpha1';

/**
 * What a rule does to a request it matches; also the order of precedence,
 * strongest first. `propose` applies to writes only (src/proposals): the
 * write is dry-run and stored for a person to apply, never forwarded.
 */
export const policyActions = ['deny', 'review', 'propose', 'mask', 'allow'] as const;
export type PolicyAction = (typeof policyActions)[number];

/** What may decide a request no rule matches: not `propose`, which only means something for writes. */
export const defaultActions = ['deny', 'review', 'mask', 'allow'] as const;

export const principalKinds = ['human', 'agent', 'ci'] as const;

/**
 * Verbs a request can carry after classification: the API server's resource
 * verbs, plus the lower-case HTTP methods of non-resource requests.
 */
export const knownVerbs: ReadonlySet<string> = new Set([
  'get',
  'list',
  'watch',
  'create',
  'update',
  'patch',
  'delete',
  'deletecollection',
  'proxy',
  'head',
  'post',
  'put',
  'options',
]);

/** RBAC verbs that are authorization checks inside the API server, never the verb of a request. */
const rbacOnlyVerbs: ReadonlySet<string> = new Set(['bind', 'escalate', 'impersonate', 'approve', 'sign', 'use']);

const ruleName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be lower-case letters, digits, "-" and "." (like a Kubernetes name)')
  .max(253);

const patternList = (what: string) => z.array(z.string()).min(1, `list at least one ${what}, or leave the field out to match any`);

const verbSchema = z.string().superRefine((verb, ctx) => {
  if (verb === '*' || knownVerbs.has(verb)) return;
  const hint = rbacOnlyVerbs.has(verb)
    ? `"${verb}" is a check the API server makes while handling another request, never a request verb Gatehouse sees; match create/update/patch of the RBAC objects instead`
    : `unknown verb "${verb}"; use one of ${[...knownVerbs].join(', ')} or "*"`;
  ctx.addIssue({ code: 'custom', message: hint });
});

const resourceSchema = z
  .object({
    /** API group; "" is the core group, "*" any group. */
    group: z.string(),
    /** `pods`, `pods/exec`, `*`, `*\/scale`, `pods/*` (any subresource of pods, not pods itself). */
    resource: z
      .string()
      .regex(/^(\*|[a-z0-9][-a-z0-9.]*)(\/(\*|[a-z0-9][-a-z0-9.]*))?$/, 'must be "resource", "resource/subresource", "*", "*/subresource" or "resource/*"'),
  })
  .strict();

const selectorRequirementSchema = z
  .object({
    key: z.string().min(1),
    operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
    values: z.array(z.string()).optional(),
  })
  .strict()
  .superRefine((req, ctx) => {
    const needsValues = req.operator === 'In' || req.operator === 'NotIn';
    if (needsValues && (req.values === undefined || req.values.length === 0)) {
      ctx.addIssue({ code: 'custom', message: `operator ${req.operator} needs a non-empty values list`, path: ['values'] });
    }
    if (!needsValues && req.values !== undefined && req.values.length > 0) {
      ctx.addIssue({ code: 'custom', message: `operator ${req.operator} takes no values`, path: ['values'] });
    }
  });

export const labelSelectorSchema = z
  .object({
    matchLabels: z.record(z.string(), z.string()).optional(),
    matchExpressions: z.array(selectorRequirementSchema).optional(),
  })
  .strict();
export type LabelSelectorSpec = z.infer<typeof labelSelectorSchema>;

export const matchSchema = z
  .object({
    verbs: z.array(verbSchema).min(1, 'list at least one verb, or leave the field out to match any'),
    resources: z.array(resourceSchema).min(1, 'list at least one resource, or leave the field out to match any'),
    nonResourceURLs: patternList('path'),
    namespaces: patternList('namespace pattern'),
    namespaceSelector: labelSelectorSchema,
    names: patternList('name pattern'),
    /** Cluster names (globs) as the gateway knows them: `clusters[].name`, or the default cluster's. */
    clusters: patternList('cluster pattern'),
    users: patternList('user pattern'),
    groups: patternList('group pattern'),
    principalKinds: z.array(z.enum(principalKinds)).min(1, 'list at least one kind, or leave the field out to match any'),
    includeWorkloadTemplates: z.boolean(),
  })
  .partial()
  .strict()
  .superRefine((m, ctx) => {
    if (m.resources !== undefined && m.nonResourceURLs !== undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'a rule matches either resources or nonResourceURLs, not both; write two rules',
        path: ['nonResourceURLs'],
      });
    }
    if (m.includeWorkloadTemplates && !(m.resources ?? []).some((r) => coversCorePods(r.group, r.resource))) {
      ctx.addIssue({
        code: 'custom',
        message: 'includeWorkloadTemplates judges workloads by their pod template, so the rule must match pods: add { group: "", resource: pods }',
        path: ['includeWorkloadTemplates'],
      });
    }
  });
export type MatchSpec = z.infer<typeof matchSchema>;

/** True when a resources entry matches the pods resource itself (not a subresource). */
export function coversCorePods(group: string, resource: string): boolean {
  return (group === '' || group === '*') && (resource === 'pods' || resource === '*');
}

/** What a `review` rule asks of the approval: who decides, how many, how long it lasts. Unset fields take the gateway's approval defaults. */
export const reviewSchema = z
  .object({
    /** Groups whose members may decide; default: the console's approver groups. */
    approverGroups: z.array(z.string().min(1)).min(1, 'list at least one group, or leave the field out for the default approvers').optional(),
    /** Approvals needed (N of M); one denial decides. */
    quorum: z.number().int().min(1).max(10).optional(),
    /** The requester must say why (the Gatehouse-Reason header). */
    requireReason: z.boolean().optional(),
    /** The sponsor of the requesting agent/CI token may approve (default: the gateway's approvals.sponsorMayApprove). */
    sponsorMayApprove: z.boolean().optional(),
    /** A pending approval expires after this long. */
    expiresIn: durationText.optional(),
    /** Once approved, how long the identical request may be repeated, and how many times. */
    grantTtl: durationText.optional(),
    grantUses: z.number().int().min(1).max(1000).optional(),
  })
  .strict();
export type ReviewSpec = z.infer<typeof reviewSchema>;

export const ruleSchema = z
  .object({
    name: ruleName,
    /** One line: why the rule exists. */
    description: z.string().optional(),
    match: matchSchema.default({}),
    /** CEL; the rule matches only when it yields true. */
    when: z.string().trim().min(1, 'an empty expression; leave `when` out to match without a condition').optional(),
    action: z.enum(policyActions),
    message: z.string().optional(),
    /** CEL yielding a string; falls back to `message` when it fails. */
    messageExpression: z.string().trim().min(1).optional(),
    /** What the client should do instead; appended to denials. */
    hint: z.string().optional(),
    /** For `action: review`: the approval's requirements; for `action: propose`, who may apply the proposal (approverGroups, sponsorMayApprove). */
    review: reviewSchema.optional(),
  })
  .strict()
  .refine((r) => r.review === undefined || r.action === 'review' || r.action === 'propose', { message: '`review` settings need `action: review` or `action: propose`', path: ['review'] });
export type RuleSpec = z.infer<typeof ruleSchema>;

/** Whose requests share one budget count (`per`); docs/policy.md#blast-radius-budgets. */
export const budgetScopes = ['principal', 'principal+namespace', 'namespace', 'sponsor'] as const;
export type BudgetScope = (typeof budgetScopes)[number];

const scaleLimitsSchema = z
  .object({
    minReplicas: z.number().int().min(0).optional(),
    maxReplicas: z.number().int().min(1).optional(),
    /** Largest change relative to the current replicas, in percent (from 0 replicas only maxReplicas applies). */
    maxChangePercent: z.number().positive().optional(),
  })
  .strict()
  .refine((s) => s.minReplicas !== undefined || s.maxReplicas !== undefined || s.maxChangePercent !== undefined, 'set minReplicas, maxReplicas or maxChangePercent')
  .refine((s) => s.minReplicas === undefined || s.maxReplicas === undefined || s.minReplicas <= s.maxReplicas, 'minReplicas is above maxReplicas');

/** A blast-radius budget: a counter (`limit` per `window`) or a scale guard (`scale`). */
export const budgetSchema = z
  .object({
    name: ruleName,
    description: z.string().optional(),
    match: matchSchema.default({}),
    limit: z.number().int().min(1).max(1_000_000).optional(),
    window: durationText.optional(),
    per: z.enum(budgetScopes).optional(),
    scale: scaleLimitsSchema.optional(),
    action: z.enum(['review', 'deny']).default('review'),
    message: z.string().optional(),
    review: reviewSchema.optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    const counter = b.limit !== undefined || b.window !== undefined;
    if (counter && b.scale !== undefined) ctx.addIssue({ code: 'custom', message: 'a budget is a counter (limit and window) or a scale guard (scale), not both; write two budgets', path: ['scale'] });
    else if (!counter && b.scale === undefined) ctx.addIssue({ code: 'custom', message: 'give limit and window (a counter) or scale (a scale guard)', path: ['limit'] });
    else if (counter && b.limit === undefined) ctx.addIssue({ code: 'custom', message: 'a counter needs limit: how many requests per window', path: ['limit'] });
    else if (counter && b.window === undefined) ctx.addIssue({ code: 'custom', message: 'a counter needs window, e.g. 10m', path: ['window'] });
    if (b.per !== undefined && !counter) ctx.addIssue({ code: 'custom', message: 'per applies to counters (limit and window) only', path: ['per'] });
    if (b.review !== undefined && b.action !== 'review') ctx.addIssue({ code: 'custom', message: '`review` settings need `action: review`', path: ['review'] });
    if (b.match.includeWorkloadTemplates === true) ctx.addIssue({ code: 'custom', message: 'includeWorkloadTemplates is for rules; a budget counts the request itself', path: ['match', 'includeWorkloadTemplates'] });
  });
export type BudgetSpec = z.infer<typeof budgetSchema>;

export const policyDocumentSchema = z
  .object({
    apiVersion: z.literal(POLICY_API_VERSION, { error: `must be ${POLICY_API_VERSION}` }),
    kind: z.literal('Policy', { error: 'must be Policy' }),
    metadata: z.looseObject({ name: ruleName }),
    spec: z
      .object({
        defaultAction: z.enum(defaultActions).optional(),
        rules: z.array(ruleSchema).default([]),
        /** Blast-radius budgets (src/budgets), checked after the rules on requests they let through. */
        budgets: z.array(budgetSchema).default([]),
      })
      .strict(),
  })
  .strict();
export type PolicyDocument = z.infer<typeof policyDocumentSchema>;

// ---------------------------------------------------------------------------
// CEL (src/policy/cel), injected into the loader so tests and tools choose the compiler.
// ---------------------------------------------------------------------------

export type { CelActivation, CelProgram, CelResult, CompileResult } from './cel/index.js';
/** Compiles one CEL expression (`compileCel` in the gateway). */
export type CelCompiler = (source: string) => CompileResult;

// ---------------------------------------------------------------------------
// The compiled form.
// ---------------------------------------------------------------------------

export interface SourceLocation {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly col: number;
}

export function formatLocation(loc: SourceLocation): string {
  return `${loc.file}:${loc.line}:${loc.col}`;
}

/** What a rule needs beyond the request line, so the stage fetches only that. */
export interface RuleNeeds {
  /** An expression reads `object` (for a patch: the object the patch would produce). */
  readonly object: boolean;
  /** An expression reads `oldObject`. */
  readonly oldObject: boolean;
  /** The rule has a namespaceSelector or an expression reads `namespaceObject`. */
  readonly namespace: boolean;
  /** An expression reads `boundRole`: the role a binding write refers to must be looked up (which needs `object`). */
  readonly boundRole: boolean;
}

export interface CompiledRule {
  readonly name: string;
  /** metadata.name of the Policy document the rule is in. */
  readonly policy: string;
  readonly description: string | undefined;
  readonly location: SourceLocation;
  readonly action: PolicyAction;
  readonly match: CompiledMatch;
  readonly when: CelProgram | undefined;
  readonly message: string | undefined;
  readonly messageExpression: CelProgram | undefined;
  readonly hint: string | undefined;
  /** The `review` settings of a review rule, as written (defaults are applied by the approval stage). */
  readonly review: ReviewSpec | undefined;
  readonly needs: RuleNeeds;
}

/** Every rule of every file, in file order, compiled once; never changed after loading. */
export interface CompiledPolicy {
  readonly rules: readonly CompiledRule[];
  readonly defaultAction: PolicyAction;
  /** Where the default action came from: a Policy document, or the gateway config. */
  readonly defaultActionFrom: SourceLocation | 'config';
  /** The files the policy was loaded from. */
  readonly files: readonly string[];
  /** Blast-radius budgets in file order (the budget stage enforces them). */
  readonly budgets: readonly CompiledBudget[];
}

/** The current policy; a reload swaps what `current()` returns. */
export interface PolicyHandle {
  current(): CompiledPolicy;
  close(): void;
}

/** A handle on a policy that never changes (tests, tools, or a gateway without hot reload). */
export function staticPolicy(policy: CompiledPolicy): PolicyHandle {
  return { current: () => policy, close: () => undefined };
}
