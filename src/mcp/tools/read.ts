/** Read tools: resource types, list, get, describe and events. */

import { z } from 'zod';
import { apiVersionOf, resolveResource, resourcePath } from '../discovery.js';
import { age, renderEvents, renderTable, TABLE_ACCEPT, toYaml } from '../format.js';
import type { KubeEvent, KubeTable } from '../format.js';
import { table } from '../../policy/explain.js';
import { fieldSelectorField, labelSelectorField, nameField, namespaceField, resourceField } from './fields.js';
import { defineTool } from './tool.js';
import type { ToolContext } from './tool.js';

/** A path with the query parameters that are set. */
export function withQuery(path: string, query: Record<string, string | number | boolean | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(key, String(value));
  const text = params.toString();
  return text === '' ? path : `${path}?${text}`;
}

export const apiResources = defineTool({
  name: 'api_resources',
  title: 'List API resource types',
  description:
    'List the resource types the cluster serves (like `kubectl api-resources`): name, short names, apiVersion, whether namespaced, kind and verbs. Use it to find the right resource name for the other tools or the apiVersion/kind for a manifest.',
  input: z
    .object({
      apiGroup: z.string().optional().describe('Only this API group ("" or "core" for the core group, e.g. "apps").'),
      namespaced: z.boolean().optional().describe('Only namespaced (true) or only cluster-scoped (false) types.'),
    })
    .strict(),
  write: false,
  async run(args, ctx) {
    const group = args.apiGroup === 'core' ? '' : args.apiGroup;
    const shown = (await ctx.resources()).filter((r) => (group === undefined || r.group === group) && (args.namespaced === undefined || r.namespaced === args.namespaced));
    const seen = new Set<string>();
    // One line per type in its preferred version (discovery lists preferred versions first).
    const rows = shown.filter((r) => !seen.has(`${r.group}/${r.resource}`) && seen.add(`${r.group}/${r.resource}`));
    return table(
      ['NAME', 'SHORTNAMES', 'APIVERSION', 'NAMESPACED', 'KIND', 'VERBS'],
      rows.map((r) => [r.resource, r.shortNames.join(','), apiVersionOf(r), String(r.namespaced), r.kind, r.verbs.join(',')]),
    );
  },
});

const outputField = (defaultOutput: 'table' | 'yaml') =>
  z
    .enum(['table', 'yaml', 'json'])
    .default(defaultOutput)
    .describe('"table": the columns kubectl prints (compact, best for overviews); "yaml" or "json": the full objects.');

export const listResources = defineTool({
  name: 'list_resources',
  title: 'List resources',
  description:
    'List objects of one resource type (like `kubectl get <type>`), in one namespace or all, filtered by label and field selectors. Secret values and other sensitive data come back masked by the gateway.',
  input: z
    .object({
      resource: resourceField,
      namespace: namespaceField,
      allNamespaces: z.boolean().default(false).describe('List across all namespaces (namespace is then ignored).'),
      labelSelector: labelSelectorField,
      fieldSelector: fieldSelectorField,
      output: outputField('table'),
      limit: z.number().int().min(1).max(500).default(100).describe('At most this many objects; the answer says how to get the next page.'),
      continue: z.string().optional().describe('The continue token a previous, limited answer gave, to get its next page.'),
    })
    .strict(),
  write: false,
  async run(args, ctx) {
    const type = resolveResource(await ctx.resources(), args.resource);
    const namespace = type.namespaced && !args.allNamespaces ? ctx.namespace(args.namespace) : undefined;
    const query = { labelSelector: args.labelSelector, fieldSelector: args.fieldSelector, limit: args.limit, continue: args.continue };
    const path = resourcePath(type, namespace);
    if (args.output === 'table') {
      const table = await ctx.kube.json<KubeTable>({ path: withQuery(path, { ...query, includeObject: 'Metadata' }), accept: TABLE_ACCEPT });
      return withNextPage(renderTable(table, { withNamespace: type.namespaced && namespace === undefined }), table.metadata?.continue);
    }
    const list = await ctx.kube.json<{ metadata?: { continue?: string } }>({ path: withQuery(path, query) });
    return withNextPage(args.output === 'yaml' ? toYaml(list) : JSON.stringify(list, null, 2), list.metadata?.continue);
  },
});

function withNextPage(text: string, token: string | undefined): string {
  return token ? `${text}\n\n(more objects: call again with continue="${token}")` : text;
}

export const getResource = defineTool({
  name: 'get_resource',
  title: 'Get one resource',
  description:
    'Get one object by type and name (like `kubectl get <type> <name> -o yaml`). Secret values and other sensitive data come back masked by the gateway; managedFields are left out.',
  input: z.object({ resource: resourceField, name: nameField, namespace: namespaceField, output: outputField('yaml') }).strict(),
  write: false,
  async run(args, ctx) {
    const type = resolveResource(await ctx.resources(), args.resource);
    const path = resourcePath(type, ctx.namespace(args.namespace), args.name);
    if (args.output === 'table') {
      const table = await ctx.kube.json<KubeTable>({ path, accept: TABLE_ACCEPT });
      return renderTable(table, { withNamespace: false });
    }
    const object = await ctx.kube.json<unknown>({ path });
    return args.output === 'yaml' ? toYaml(object) : JSON.stringify(object, null, 2);
  },
});

interface KubeObject {
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    ownerReferences?: { kind: string; name: string }[];
  };
  spec?: { replicas?: number; nodeName?: string; containers?: { name: string; image?: string }[] };
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    replicas?: number;
    readyReplicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    containerStatuses?: { name: string; ready: boolean; restartCount: number; state?: Record<string, { reason?: string; message?: string }> }[];
  };
}

export const describeResource = defineTool({
  name: 'describe_resource',
  title: 'Describe a resource',
  description:
    'A readable summary of one object with its recent events (like `kubectl describe`): labels, owner, status, conditions, containers and their states for pods, replica counts for workloads. Use it first when something is not working.',
  input: z.object({ resource: resourceField, name: nameField, namespace: namespaceField }).strict(),
  write: false,
  async run(args, ctx) {
    const type = resolveResource(await ctx.resources(), args.resource);
    const namespace = type.namespaced ? ctx.namespace(args.namespace) : undefined;
    const object = await ctx.kube.json<KubeObject>({ path: resourcePath(type, namespace, args.name) });
    const events = await eventsFor(object, namespace, ctx);
    return `${describe(object)}\n\nEvents:\n${events}`;
  },
});

async function eventsFor(object: KubeObject, namespace: string | undefined, ctx: ToolContext): Promise<string> {
  const uid = object.metadata?.uid;
  if (uid === undefined) return '(none)';
  const path = withQuery(namespace ? `/api/v1/namespaces/${encodeURIComponent(namespace)}/events` : '/api/v1/events', { fieldSelector: `involvedObject.uid=${uid}` });
  try {
    const list = await ctx.kube.json<{ items?: KubeEvent[] }>({ path });
    return renderEvents(list.items ?? [], { withNamespace: false, limit: 20 });
  } catch (err) {
    // Policy may allow the object but not its events; the summary is still useful.
    return `(could not read events: ${(err as Error).message})`;
  }
}

/**
 * The `kubectl describe`-like summary of an object (without events).
 *
 * @example
 * describe({ kind: 'Pod', metadata: { name: 'web' }, status: { phase: 'Running' } });
 */
export function describe(o: KubeObject, now: number = Date.now()): string {
  const m = o.metadata ?? {};
  const lines: string[] = [`Kind:        ${o.kind ?? ''}`, `Name:        ${m.name ?? ''}`];
  if (m.namespace) lines.push(`Namespace:   ${m.namespace}`);
  lines.push(`Created:     ${m.creationTimestamp ?? ''} (${age(m.creationTimestamp, now)} ago)`);
  if (m.deletionTimestamp) lines.push(`Deleting:    since ${m.deletionTimestamp}`);
  lines.push(`Labels:      ${pairs(m.labels)}`);
  lines.push(`Annotations: ${pairs(m.annotations, 120)}`);
  if (m.ownerReferences?.length) lines.push(`Owned by:    ${m.ownerReferences.map((r) => `${r.kind}/${r.name}`).join(', ')}`);
  const s = o.status ?? {};
  if (s.phase) lines.push(`Status:      ${s.phase}${s.reason ? ` (${s.reason})` : ''}${s.message ? `: ${s.message}` : ''}`);
  if (o.spec?.nodeName) lines.push(`Node:        ${o.spec.nodeName}`);
  if (o.spec?.replicas !== undefined) {
    lines.push(`Replicas:    ${o.spec.replicas} desired, ${s.updatedReplicas ?? 0} updated, ${s.readyReplicas ?? 0} ready, ${s.availableReplicas ?? 0} available`);
  }
  if (o.spec?.containers?.length) {
    const statuses = new Map((s.containerStatuses ?? []).map((c) => [c.name, c]));
    lines.push('Containers:');
    const rows = o.spec.containers.map((c) => {
      const st = statuses.get(c.name);
      const [state = 'unknown', detail] = Object.entries(st?.state ?? {})[0] ?? [];
      const why = detail?.reason ? ` (${detail.reason}${detail.message ? `: ${detail.message}` : ''})` : '';
      return [`  ${c.name}`, c.image ?? '', `${state}${why}`, String(st?.ready ?? false), String(st?.restartCount ?? 0)];
    });
    lines.push(table(['  NAME', 'IMAGE', 'STATE', 'READY', 'RESTARTS'], rows));
  }
  if (s.conditions?.length) {
    lines.push('Conditions:');
    lines.push(table(['  TYPE', 'STATUS', 'REASON', 'MESSAGE'], s.conditions.map((c) => [`  ${c.type}`, c.status, c.reason ?? '', c.message ?? ''])));
  }
  return lines.join('\n');
}

function pairs(map: Record<string, string> | undefined, maxValue = Infinity): string {
  const entries = Object.entries(map ?? {});
  if (entries.length === 0) return '<none>';
  return entries.map(([k, v]) => `${k}=${v.length > maxValue ? `${v.slice(0, maxValue)}…` : v}`).join('\n             ');
}

export const getEvents = defineTool({
  name: 'get_events',
  title: 'Get events',
  description:
    'Recent cluster events (like `kubectl get events`), oldest first: warnings about scheduling, image pulls, crashes, probes. Narrow them to one object with fieldSelector "involvedObject.name=<name>".',
  input: z
    .object({
      namespace: namespaceField,
      allNamespaces: z.boolean().default(false).describe('Events of every namespace.'),
      fieldSelector: fieldSelectorField,
      warningsOnly: z.boolean().default(false).describe('Only events of type Warning.'),
      limit: z.number().int().min(1).max(500).default(50).describe('At most this many (the most recent).'),
    })
    .strict(),
  write: false,
  async run(args, ctx) {
    const namespace = args.allNamespaces ? undefined : ctx.namespace(args.namespace);
    const selectors = [args.fieldSelector, args.warningsOnly ? 'type=Warning' : undefined].filter((s) => s !== undefined && s !== '');
    const path = withQuery(namespace ? `/api/v1/namespaces/${encodeURIComponent(namespace)}/events` : '/api/v1/events', { fieldSelector: selectors.join(',') });
    const list = await ctx.kube.json<{ items?: KubeEvent[] }>({ path });
    return renderEvents(list.items ?? [], { withNamespace: namespace === undefined, limit: args.limit });
  },
});

