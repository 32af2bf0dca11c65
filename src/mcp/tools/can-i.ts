/**
 * The can_i tool: what Gatehouse policy would decide for an action, asked
 * of the gateway's console API (`POST /gatehouse/v1/policy/explain`) with
 * the caller's own credential, so it answers only for the caller (the
 * endpoint evaluates as the caller unless another subject is named, and
 * this tool never names one) and nothing is executed.
 *
 * @module
 */

import { z } from 'zod';
import { resolveKind, resolveResource, resourcePath } from '../discovery.js';
import { ToolInputError } from '../result.js';
import { parseManifest } from './apply.js';
import { nameField, namespaceField, resourceField } from './fields.js';
import { defineTool } from './tool.js';
import type { ToolContext } from './tool.js';

const VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'] as const;
type Verb = (typeof VERBS)[number];

/** The HTTP request kubectl would send for a verb, as the explain endpoint takes it. */
export function requestFor(verb: Verb, collectionPath: string, name: string | undefined, subresource: string | undefined): { method: string; path: string } {
  const needsName = verb === 'get' || verb === 'update' || verb === 'patch' || verb === 'delete' || subresource !== undefined;
  if (needsName && name === undefined) throw new ToolInputError(`verb "${verb}"${subresource ? ` on a subresource` : ''} needs a name`);
  const one = name === undefined ? collectionPath : `${collectionPath}/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ''}`;
  switch (verb) {
    case 'get':
      return { method: 'GET', path: one };
    case 'list':
      return { method: 'GET', path: collectionPath };
    case 'watch':
      return { method: 'GET', path: `${collectionPath}?watch=true` };
    case 'create':
      return { method: 'POST', path: subresource ? one : collectionPath };
    case 'update':
      return { method: 'PUT', path: one };
    case 'patch':
      return { method: 'PATCH', path: one };
    case 'delete':
      return { method: 'DELETE', path: one };
    case 'deletecollection':
      return { method: 'DELETE', path: collectionPath };
  }
}

interface Explained {
  decision: { action: string; rule: string | null; message: string; hint: string | null; matched: { rule: string; action: string }[] };
}

export const canI = defineTool({
  name: 'can_i',
  title: 'Check what policy allows',
  description:
    "Ask what the gateway's policy would decide for an action before trying it (like `kubectl auth can-i`, but for Gatehouse policy): allow, deny, mask (allowed, sensitive values hidden) or review (a person must approve it first), with the deciding rule, its message and a hint of what would be allowed instead. Nothing is executed. " +
    'Give the manifest for create/update/patch when rules look at the object (e.g. privileged containers). Kubernetes RBAC of the cluster is not part of the answer.',
  input: z
    .object({
      verb: z.enum(VERBS).describe('The Kubernetes verb.'),
      resource: resourceField.optional().describe('Resource type (plural, short name or kind). May be left out when a manifest is given.'),
      name: nameField.optional(),
      namespace: namespaceField,
      subresource: z.string().optional().describe('A subresource, e.g. "exec", "log", "scale", "status".'),
      manifest: z.string().optional().describe('The object the request would send (YAML or JSON), for create, update and patch.'),
    })
    .strict(),
  write: false,
  async run(args, ctx) {
    const object = args.manifest === undefined ? undefined : parseManifest(args.manifest)[0];
    const resources = await ctx.resources();
    if (args.resource === undefined && object === undefined) throw new ToolInputError('give a resource, or a manifest to take it from');
    const type = args.resource !== undefined ? resolveResource(resources, args.resource) : resolveKind(resources, object!.apiVersion, object!.kind);
    const name = args.name ?? object?.metadata.name;
    const namespace = type.namespaced ? (args.namespace ?? object?.metadata.namespace ?? ctx.namespace(undefined)) : undefined;
    const { method, path } = requestFor(args.verb, resourcePath(type, namespace), args.verb === 'create' && args.subresource === undefined ? undefined : name, args.subresource);
    const me = await ctx.kube.json<{ kind: string }>({ path: '/gatehouse/v1/whoami' });
    const namespaceLabels = namespace === undefined ? undefined : await labelsOf(ctx, namespace);
    const explained = await ctx.kube.json<Explained>({
      method: 'POST',
      path: '/gatehouse/v1/policy/explain',
      contentType: 'application/json',
      body: JSON.stringify({ method, path, kind: me.kind, ...(object ? { body: JSON.stringify(object) } : {}), ...(namespaceLabels ? { namespaceLabels } : {}) }),
    });
    const d = explained.decision;
    const lines = [
      `${d.action.toUpperCase()}: ${method} ${path}`,
      `${d.rule === null ? 'By the default action (no rule matched)' : `By rule "${d.rule}"`}: ${d.message}`,
    ];
    if (d.action === 'review') lines.push('The request would wait for a person to approve it; you may still make it and then wait for the approval.');
    if (d.hint !== null) lines.push(`Hint: ${d.hint}`);
    if (d.matched.length > 1) lines.push(`Rules that matched: ${d.matched.map((m) => `${m.rule} (${m.action})`).join(', ')}`);
    if (namespace !== undefined && namespaceLabels === undefined) lines.push(`(The labels of namespace "${namespace}" could not be read, so rules that select namespaces by label were evaluated without them.)`);
    return lines.join('\n');
  },
});

/** The target namespace's labels, for rules with a namespace selector; undefined when the caller may not read them. */
async function labelsOf(ctx: ToolContext, namespace: string): Promise<Record<string, string> | undefined> {
  try {
    const ns = await ctx.kube.json<{ metadata?: { labels?: Record<string, string> } }>({ path: `/api/v1/namespaces/${encodeURIComponent(namespace)}` });
    return ns.metadata?.labels ?? {};
  } catch {
    return undefined;
  }
}
