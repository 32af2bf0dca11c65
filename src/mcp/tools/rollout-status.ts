/** The rollout status tool: kubectl's rollout status rules for a Deployment, polled for a bounded time. */

import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { nameField, namespaceField } from './fields.js';
import { defineTool } from './tool.js';

export interface DeploymentState {
  metadata?: { generation?: number };
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    conditions?: { type: string; reason?: string; message?: string }[];
  };
}

/**
 * Where a Deployment's rollout stands, in kubectl's words; `done` once every
 * replica is updated and available, `failed` past the progress deadline.
 *
 * @example
 * rolloutState({ spec: { replicas: 1 }, status: { updatedReplicas: 1, replicas: 1, availableReplicas: 1 } }); // { done: true, … }
 */
export function rolloutState(d: DeploymentState): { done: boolean; failed: boolean; message: string } {
  const s = d.status ?? {};
  const want = d.spec?.replicas ?? 1;
  const updated = s.updatedReplicas ?? 0;
  if ((d.metadata?.generation ?? 0) > (s.observedGeneration ?? 0)) return { done: false, failed: false, message: 'Waiting for the deployment spec update to be observed…' };
  const progressing = s.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') return { done: false, failed: true, message: `The rollout exceeded its progress deadline: ${progressing.message ?? ''}` };
  if (updated < want) return { done: false, failed: false, message: `Waiting for the rollout to finish: ${updated} of ${want} new replicas have been updated…` };
  if ((s.replicas ?? 0) > updated) return { done: false, failed: false, message: `Waiting for the rollout to finish: ${(s.replicas ?? 0) - updated} old replicas are pending termination…` };
  if ((s.availableReplicas ?? 0) < updated) return { done: false, failed: false, message: `Waiting for the rollout to finish: ${s.availableReplicas ?? 0} of ${updated} updated replicas are available…` };
  return { done: true, failed: false, message: 'successfully rolled out' };
}

const POLL_MS = 2_000;

export const rolloutStatus = defineTool({
  name: 'rollout_status',
  title: 'Rollout status',
  description:
    "Whether a Deployment's rollout has finished (like `kubectl rollout status`): updated, available and old replicas, or a failure past the progress deadline. Set waitSeconds to wait for it to finish.",
  input: z
    .object({
      name: nameField.describe('Name of the Deployment.'),
      namespace: namespaceField,
      waitSeconds: z.number().int().min(0).max(120).default(0).describe('Poll for up to this many seconds until the rollout finishes; 0 answers at once.'),
    })
    .strict(),
  write: false,
  async run(args, ctx) {
    const path = `/apis/apps/v1/namespaces/${encodeURIComponent(ctx.namespace(args.namespace))}/deployments/${encodeURIComponent(args.name)}`;
    const deadline = Date.now() + args.waitSeconds * 1000;
    for (;;) {
      const state = rolloutState(await ctx.kube.json<DeploymentState>({ path }));
      if (state.done || state.failed || Date.now() + POLL_MS > deadline) return `deployment "${args.name}": ${state.message}`;
      await sleep(POLL_MS, undefined, { signal: ctx.signal });
    }
  },
});
