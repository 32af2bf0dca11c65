/**
 * Clusters and their agents for the console and `gatehouse clusters`: which
 * clusters the gateway serves, how (directly or through agents), which
 * agents are connected; and, for admins, the join tokens agents dial in with.
 *
 * @module
 */

import { z } from 'zod';
import type { ConnectedAgent } from '../tunnel/registry.js';
import type { JoinTokens } from '../tunnel/join-tokens.js';
import { ConsoleError } from './errors.js';
import { readJson } from './http.js';
import { reply, route } from './router.js';
import type { Route } from './router.js';

/** A cluster as the console shows it. */
export interface ClusterView {
  name: string;
  mode: 'direct' | 'agent';
  default: boolean;
  /** The API server's origin (direct), or the cluster the tunnel leads to. */
  where: string;
  /** Connected agents (agent mode; empty for direct clusters). */
  agents: ConnectedAgent[];
}

export interface ClusterSource {
  list(): ClusterView[];
  joinTokens: JoinTokens;
}

const createBody = z.object({ description: z.string().max(200).optional() }).strict();

const READERS = ['admin', 'auditor'] as const;
const ADMINS = ['admin'] as const;

/**
 * @example
 * const routes = clusterRoutes({ list: () => views, joinTokens });
 */
export function clusterRoutes(clusters: ClusterSource): Route[] {
  const agentCluster = (name: string): ClusterView => {
    const cluster = clusters.list().find((c) => c.name === name);
    if (cluster === undefined) throw new ConsoleError('not-found', `this gateway has no cluster "${name}"`);
    if (cluster.mode !== 'agent') throw new ConsoleError('conflict', `cluster "${name}" is reached directly from a kubeconfig; only clusters with agent: {} in the config take agents`);
    return cluster;
  };
  return [
    route('GET', '/gatehouse/v1/clusters', READERS, () => reply(200, { items: clusters.list() })),
    route('GET', '/gatehouse/v1/clusters/:name/join-tokens', ADMINS, async ({ params }) => {
      const cluster = agentCluster(params['name']!);
      return reply(200, { items: (await clusters.joinTokens.list({ includeRevoked: true })).filter((t) => t.cluster === cluster.name) });
    }),
    route('POST', '/gatehouse/v1/clusters/:name/join-tokens', ADMINS, async ({ req, params, caller }) => {
      const cluster = agentCluster(params['name']!);
      const body = await readJson(req, createBody);
      const { token, row } = await clusters.joinTokens.create({ cluster: cluster.name, description: body.description, createdBy: caller.subject });
      return reply(201, { joinToken: row, secret: token });
    }),
    route('DELETE', '/gatehouse/v1/clusters/:name/join-tokens/:id', ADMINS, async ({ params }) => {
      const cluster = agentCluster(params['name']!);
      const known = (await clusters.joinTokens.list({ includeRevoked: true })).find((t) => t.id === params['id'] && t.cluster === cluster.name);
      if (known === undefined) throw new ConsoleError('not-found', `cluster "${cluster.name}" has no join token ${params['id']}`);
      const revoked = await clusters.joinTokens.revoke(known.id);
      return reply(200, { joinToken: { ...known, revokedAt: known.revokedAt ?? Date.now() }, alreadyRevoked: !revoked });
    }),
  ];
}
