import { z } from 'zod';

/** A DNS label: it becomes a path segment (`/clusters/<name>`) and a metric label. */
export const clusterNameSchema = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'a cluster name is lower-case letters, digits and "-" (a DNS label, at most 63 characters)');

/** One named cluster: reached directly from a kubeconfig, or through cluster agents that dial out to the gateway. */
export const clusterConfigSchema = z
  .object({
    name: clusterNameSchema,
    /** Direct mode: the gateway holds this kubeconfig's credential. */
    kubeconfig: z.string().optional(),
    context: z.string().optional(),
    /** Agent mode: `gatehouse agent` processes on the cluster's network dial in and carry the traffic. */
    agent: z
      .object({
        /** How long a request waits for an agent to (re)connect before it is answered 503. */
        waitSeconds: z.number().min(0).max(300).default(10),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if ((c.kubeconfig === undefined) === (c.agent === undefined)) {
      ctx.addIssue({ code: 'custom', message: `cluster "${c.name}" needs exactly one of kubeconfig (direct) or agent: {} (through cluster agents)` });
    }
    if (c.context !== undefined && c.kubeconfig === undefined) {
      ctx.addIssue({ code: 'custom', message: `cluster "${c.name}": context goes with kubeconfig`, path: ['context'] });
    }
  });

export type ClusterConfig = z.infer<typeof clusterConfigSchema>;

/** What the config says about clusters, before it is merged into one list. */
export interface ClusterSections {
  upstream?: { name: string; kubeconfig: string; context?: string | undefined } | undefined;
  clusters: readonly ClusterConfig[];
  defaultCluster?: string | undefined;
}

/**
 * Every configured cluster, `upstream` (the single-cluster shorthand) first,
 * and the name of the one requests without a `/clusters/<name>` prefix go to.
 * Throws on duplicate names or an unknown default, with the name in the message.
 */
export function configuredClusters(sections: ClusterSections): { clusters: ClusterConfig[]; defaultName: string } {
  const clusters: ClusterConfig[] = [
    ...(sections.upstream ? [{ name: sections.upstream.name, kubeconfig: sections.upstream.kubeconfig, context: sections.upstream.context }] : []),
    ...sections.clusters,
  ];
  const first = clusters[0];
  if (first === undefined) throw new Error('no cluster is configured: set upstream.kubeconfig, or list clusters');
  const seen = new Set<string>();
  for (const c of clusters) {
    if (seen.has(c.name)) throw new Error(`two clusters are named "${c.name}"; cluster names must be unique`);
    seen.add(c.name);
  }
  const defaultName = sections.defaultCluster ?? first.name;
  if (!seen.has(defaultName)) throw new Error(`defaultCluster "${defaultName}" is not a configured cluster (${[...seen].join(', ')})`);
  return { clusters, defaultName };
}
