import * as http from 'node:http';
import type { TunnelRegistry } from '../tunnel/registry.js';
import type { Upstream, UpstreamRequestInit } from './client.js';

/**
 * The upstream of a cluster served through its agents: each request rides a
 * fresh stream of the least busy agent's tunnel, as plain HTTP/1.1 (upgrades
 * included); the agent applies its own credential, so the gateway holds none.
 * Waits up to `waitMs` for an agent when none is connected.
 *
 * @example
 * const prod = createTunnelUpstream('prod', tunnels, { waitMs: 10_000 });
 */
export function createTunnelUpstream(cluster: string, registry: TunnelRegistry, options: { waitMs: number }): Upstream {
  const send = async (init: UpstreamRequestInit): Promise<http.ClientRequest> => {
    const session = await registry.session(cluster, options.waitMs);
    // No `agent`: with one, node would pool and dial TCP; each request gets its own tunnel stream instead.
    return http.request({
      method: init.method,
      path: init.path,
      headers: { ...init.headers, host: `${cluster}.cluster.gatehouse` },
      createConnection: () => session.openStream(),
    });
  };
  return {
    where: `cluster "${cluster}" (through its agent)`,
    request: send,
    upgradeRequest: send,
    // The agent holds the credential and renews it on a 401 itself.
    invalidateCredential: () => undefined,
    http2Stats: () => ({ sessions: 0, streams: 0 }),
    sharedWatches: () => ({ upstreams: 0, clients: 0 }),
    close: () => undefined,
  };
}
