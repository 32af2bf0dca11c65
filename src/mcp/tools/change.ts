/** Write tools on one existing object: delete, scale, rollout restart. */

import { z } from 'zod';
import { resolveResource, resourcePath } from '../discovery.js';
import type { ApiResource } from '../discovery.js';
import { nameField, namespaceField, reasonField, resourceField } from './fields.js';
import { withQuery } from './read.js';
import { defineTool } from './tool.js';
import type { ToolContext } from './tool.js';

const typeName = (type: ApiResource): string => (type.group ? `${type.resource}.${type.group}` : type.resource);

/** The arguments every tool here takes besides the type: which object, and why. */
const objectArgs = { name: nameField, namespace: namespaceField, reason: reasonField };

async function target(ctx: ToolContext, resource: string, name: string, namespace: string | undefined): Promise<{ type: ApiResource; path: string }> {
  const type = resolveResource(await ctx.resources(), resource);
  return { type, path: resourcePath(type, type.namespaced ? ctx.namespace(namespace) : undefined, name) };
}

export const deleteResource = defineTool({
  name: 'delete_resource',
  title: 'Delete a resource',
  description:
    'Delete one object by type and name (like `kubectl delete <type> <name>`). Dependents (e.g. the pods of a Deployment) are deleted in the background. Policy may refuse or hold the deletion for approval.',
  input: z
    .object({
      resource: resourceField,
      ...objectArgs,
      gracePeriodSeconds: z.number().int().min(0).optional().describe("Seconds the object gets to shut down; 0 deletes at once. Default: the object's own."),
    })
    .strict(),
  write: true,
  annotations: { destructiveHint: true, idempotentHint: true },
  async run(args, ctx) {
    const { type, path } = await target(ctx, args.resource, args.name, args.namespace);
    await ctx.kube.request({ method: 'DELETE', path: withQuery(path, { propagationPolicy: 'Background', gracePeriodSeconds: args.gracePeriodSeconds }) });
    return `${typeName(type)}/${args.name} deleted`;
  },
});

export const scaleResource = defineTool({
  name: 'scale',
  title: 'Scale a workload',
  description: 'Set the number of replicas of a Deployment, StatefulSet or ReplicaSet (like `kubectl scale --replicas=N`).',
  input: z
    .object({
      resource: resourceField.default('deployments'),
      ...objectArgs,
      replicas: z.number().int().min(0).max(10_000).describe('The desired number of replicas.'),
    })
    .strict(),
  write: true,
  annotations: { destructiveHint: true, idempotentHint: true },
  async run(args, ctx) {
    const { type, path } = await target(ctx, args.resource, args.name, args.namespace);
    await ctx.kube.request({ method: 'PATCH', path: `${path}/scale`, contentType: 'application/merge-patch+json', body: JSON.stringify({ spec: { replicas: args.replicas } }) });
    return `${typeName(type)}/${args.name} scaled to ${args.replicas} replicas`;
  },
});

export const rolloutRestart = defineTool({
  name: 'rollout_restart',
  title: 'Restart a rollout',
  description:
    'Restart the pods of a Deployment, StatefulSet or DaemonSet with a rolling update (like `kubectl rollout restart`). Follow it with rollout_status.',
  input: z
    .object({
      resource: z.enum(['deployments', 'statefulsets', 'daemonsets']).default('deployments').describe('The workload type.'),
      ...objectArgs,
    })
    .strict(),
  write: true,
  annotations: { destructiveHint: false, idempotentHint: false },
  async run(args, ctx) {
    const { type, path } = await target(ctx, `${args.resource}.apps`, args.name, args.namespace);
    // The annotation kubectl sets: a new pod template makes the controller replace every pod.
    const patch = { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() } } } } };
    await ctx.kube.request({ method: 'PATCH', path, contentType: 'application/strategic-merge-patch+json', body: JSON.stringify(patch) });
    return `${typeName(type)}/${args.name} restarted`;
  },
});
