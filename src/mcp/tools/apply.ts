/** The apply tool: server-side apply of one or more YAML/JSON documents, or a dry run that shows the diff. */

import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { unifiedDiff } from '../../approvals/diff.js';
import { isRecord } from '../../kube/object.js';
import { resolveKind, resourcePath } from '../discovery.js';
import type { ApiResource } from '../discovery.js';
import { omit, toYaml } from '../format.js';
import { KubeCallError } from '../gateway-client.js';
import { errorResult, failureText, ToolInputError } from '../result.js';
import { namespaceField, reasonField } from './fields.js';
import { withQuery } from './read.js';
import { defineTool } from './tool.js';
import type { ToolContext } from './tool.js';

export const FIELD_MANAGER = 'gatehouse-mcp';

export interface ManifestObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [key: string]: unknown;
}

/**
 * The objects of a manifest: YAML or JSON, several documents, `kind: List`
 * expanded. Throws {@link ToolInputError} naming the document at fault.
 *
 * @example
 * parseManifest('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n'); // [{ apiVersion: 'v1', kind: 'ConfigMap', … }]
 */
export function parseManifest(text: string): ManifestObject[] {
  const objects: ManifestObject[] = [];
  parseAllDocuments(text).forEach((doc, i) => {
    const where = `document ${i + 1}`;
    if (doc.errors.length > 0) throw new ToolInputError(`invalid manifest: ${where} is not valid YAML: ${doc.errors[0]?.message ?? ''}`);
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return;
    const items = isRecord(value) && typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value.items) ? (value.items as unknown[]) : [value];
    items.forEach((item, j) => objects.push(checkObject(item, items.length > 1 || item !== value ? `${where}, item ${j + 1}` : where)));
  });
  if (objects.length === 0) throw new ToolInputError('invalid manifest: it holds no objects');
  return objects;
}

function checkObject(value: unknown, where: string): ManifestObject {
  if (!isRecord(value)) throw new ToolInputError(`invalid manifest: ${where} is not an object`);
  const meta = value.metadata;
  if (typeof value.apiVersion !== 'string' || value.apiVersion === '') throw new ToolInputError(`invalid manifest: ${where} has no apiVersion`);
  if (typeof value.kind !== 'string' || value.kind === '') throw new ToolInputError(`invalid manifest: ${where} has no kind`);
  if (!isRecord(meta) || typeof meta.name !== 'string' || meta.name === '') {
    throw new ToolInputError(`invalid manifest: ${where} (${value.kind}) has no metadata.name (generateName cannot be applied)`);
  }
  if (meta.namespace !== undefined && typeof meta.namespace !== 'string') throw new ToolInputError(`invalid manifest: ${where} has a metadata.namespace that is not a string`);
  return value as ManifestObject;
}


export const applyManifest = defineTool({
  name: 'apply_manifest',
  title: 'Apply a manifest',
  description:
    'Create or update objects from a YAML or JSON manifest (several documents allowed) with server-side apply (field manager "gatehouse-mcp"), like `kubectl apply --server-side`. ' +
    'With dryRun=true nothing changes: the answer is the diff between the live objects and what they would become. ' +
    'Policy may refuse an object or hold it for a person to approve; the answer then says so and how to continue.',
  input: z
    .object({
      manifest: z.string().min(1).max(1_000_000).describe('The objects, as YAML (documents separated by ---) or JSON. Each needs apiVersion, kind and metadata.name.'),
      namespace: namespaceField.describe('Namespace for objects whose metadata.namespace is not set. Default: the kubeconfig context\'s namespace, else "default".'),
      dryRun: z.boolean().default(false).describe('Only show what would change (a unified diff per object); change nothing.'),
      forceConflicts: z.boolean().default(false).describe('Take over fields another manager owns instead of failing with a conflict.'),
      reason: reasonField,
    })
    .strict(),
  write: true,
  annotations: { destructiveHint: true, idempotentHint: true },
  async run(args, ctx) {
    const objects = parseManifest(args.manifest);
    const resources = await ctx.resources();
    const types = objects.map((o) => resolveKind(resources, o.apiVersion, o.kind));
    const lines: string[] = [];
    let failed = false;
    // Like kubectl, one refused object does not stop the others; the answer lists each outcome.
    for (const [i, object] of objects.entries()) {
      const type = types[i]!;
      try {
        lines.push(await applyOne(object, type, args, ctx));
      } catch (err) {
        if (!(err instanceof KubeCallError)) throw err;
        failed = true;
        lines.push(`${label(object, type)} not applied: ${failureText(err)}`);
      }
    }
    const text = lines.join(args.dryRun || failed ? '\n\n' : '\n');
    return failed ? errorResult(text) : text;
  },
});

const label = (o: ManifestObject, type: ApiResource): string => `${type.group ? `${type.resource}.${type.group}` : type.resource}/${o.metadata.name}`;

async function applyOne(object: ManifestObject, type: ApiResource, args: { namespace?: string | undefined; dryRun: boolean; forceConflicts: boolean }, ctx: ToolContext): Promise<string> {
  const namespace = type.namespaced ? (object.metadata.namespace ?? ctx.namespace(args.namespace)) : undefined;
  const path = resourcePath(type, namespace, object.metadata.name);
  const patch = (dryRun: boolean) =>
    ctx.kube.request({
      method: 'PATCH',
      path: withQuery(path, { fieldManager: FIELD_MANAGER, force: args.forceConflicts || undefined, dryRun: dryRun ? 'All' : undefined }),
      contentType: 'application/apply-patch+yaml',
      // JSON is YAML; the same manifest gives the same body, so an approved request can be repeated identically.
      body: JSON.stringify(object),
    });
  if (!args.dryRun) {
    const res = await patch(false);
    return `${label(object, type)} ${res.status === 201 ? 'created' : 'configured'}`;
  }
  const live = await ctx.kube.json<unknown>({ path }).catch((err: unknown) => {
    if (err instanceof KubeCallError && err.status === 404) return undefined;
    throw err;
  });
  const after = JSON.parse((await patch(true)).text) as unknown;
  const diff = unifiedDiff(live === undefined ? '' : toYaml(comparable(live)), toYaml(comparable(after)), live === undefined ? '/dev/null (does not exist yet)' : 'live', 'after apply');
  return `${label(object, type)} (dry run): ${diff === '' ? 'no changes' : `\n${diff}`}`;
}

/** Leaves out what changes on every write, so the diff shows only what the manifest changes. */
function comparable(object: unknown): unknown {
  if (!isRecord(object) || !isRecord(object.metadata)) return object;
  return { ...object, metadata: omit(object.metadata, ['resourceVersion', 'generation', 'managedFields', 'uid', 'creationTimestamp']) };
}
