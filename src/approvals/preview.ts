import { stringify } from 'yaml';
import type { Masker } from '../masking/index.js';
import type { RequestContext } from '../pipeline/context.js';
import type { ResolvedObjects } from '../policy/stage.js';
import { unifiedDiff } from './diff.js';

/** What an approver is shown of a request's effect: the object it would store and the change to the live one. */
export interface Preview {
  object: unknown;
  diff: string | null;
  /** Set when the effect could not be worked out; shown instead of a diff. */
  problem: string | null;
}

const WRITES: ReadonlySet<string> = new Set(['create', 'update', 'patch']);

/**
 * Works out a write's effect for approvers with a server-side dry-run (the
 * same the policy stage uses): the object the API server would store, and
 * for updates and patches a diff against the live object. Both are masked
 * first: an approver sees Secret values no more than an agent does.
 * managedFields are dropped as noise.
 */
export async function previewOf(ctx: RequestContext, resolve: ((ctx: RequestContext) => Promise<ResolvedObjects>) | undefined, masker: Masker): Promise<Preview> {
  const request = ctx.request!;
  if (ctx.upgrade || !WRITES.has(request.verb)) return { object: null, diff: null, problem: null };
  let resolved: ResolvedObjects = { object: request.object ?? null, oldObject: null };
  let problem: string | null = null;
  const needsServer = request.verb !== 'create' || request.object === undefined;
  if (needsServer && resolve !== undefined) {
    try {
      resolved = await resolve(ctx);
    } catch (err) {
      problem = `the API server's dry-run of this request failed: ${(err as Error).message}`;
    }
  }
  const object = tidy(masker.maskValue(resolved.object ?? null).value);
  if (request.verb === 'create' || resolved.oldObject === null || object === null) return { object, diff: null, problem };
  return { object, diff: diffOf(masked(resolved.oldObject, masker), object), problem };
}

/**
 * A value as approvers see it: masked, without managedFields, resourceVersion
 * and generation. Proposals (src/proposals) show their objects this way too.
 */
export function masked(value: unknown, masker: Masker): unknown {
  return tidy(masker.maskValue(value ?? null).value);
}

/**
 * The unified diff of two {@link masked} objects as YAML; null stands for
 * "no object" (a create's before, a delete's after), null when they are the same.
 *
 * @example
 * diffOf(null, { kind: 'ConfigMap' }); // '--- live\n+++ after this request\n@@ -0,0 +1,1 @@\n+kind: ConfigMap\n'
 */
export function diffOf(before: unknown, after: unknown): string | null {
  const text = (v: unknown): string => (v === null || v === undefined ? '' : render(v));
  return unifiedDiff(text(before), text(after), 'live', 'after this request') || null;
}

function render(value: unknown): string {
  return stringify(value, { sortMapEntries: false, lineWidth: 0 });
}

/** The object without managedFields, resourceVersion and generation churn that every write changes. */
function tidy(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const obj = value as Record<string, unknown>;
  const meta = obj.metadata;
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) return value;
  const rest = { ...(meta as Record<string, unknown>) };
  delete rest.managedFields;
  delete rest.resourceVersion;
  delete rest.generation;
  return { ...obj, metadata: rest };
}
