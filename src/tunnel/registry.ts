import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { WebSocketServer } from 'ws';
import { GatehouseError } from '../errors/codes.js';
import { bearerToken } from '../identity/bearer.js';
import { respondWithStatusOnSocket } from '../proxy/respond.js';
import type { JoinTokens } from './join-tokens.js';
import { createTunnelSession, maxTunnelMessageBytes, TUNNEL_SUBPROTOCOL } from './session.js';
import type { TunnelSession } from './session.js';

/** Where cluster agents dial in. */
export const TUNNEL_PATH = '/gatehouse/v1/tunnel';

/** What a connected agent said about itself in its hello, and where it came from. */
export interface AgentInfo {
  /** The gateway's id for this connection. */
  connection: string;
  agentId: string;
  cluster: string;
  version: string;
  apiServer: string;
  kubernetesVersion: string | undefined;
  address: string;
  connectedAt: string;
  tokenId: string;
}

export interface ConnectedAgent extends AgentInfo {
  openStreams: number;
  bytesIn: number;
  bytesOut: number;
}

/** The last time a cluster lost an agent, for messages when none is left. */
interface Departure {
  at: string;
  reason: string;
}

export interface TunnelRegistry {
  /** Takes an upgrade on {@link TUNNEL_PATH}; false for any other path (the caller handles those). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /**
   * A session to one of the cluster's agents, the least busy one; waits up to
   * `waitMs` for one to connect, then fails with a 503-class GatehouseError.
   */
  session(cluster: string, waitMs: number): Promise<TunnelSession>;
  agents(cluster?: string): ConnectedAgent[];
  close(): void;
}

export interface TunnelRegistryOptions {
  joinTokens: JoinTokens;
  /** Agent-mode clusters by name. */
  clusters: ReadonlySet<string>;
  log: Logger;
  /** How long an agent has to say hello after the WebSocket opens. */
  helloTimeoutMs?: number;
  /** How often connected agents' tokens are checked again, so a revoked token ends its tunnel. */
  recheckMs?: number;
  /** Told of every agent connection attempt and how it ended (`connected`, `unauthenticated`…), for metrics. */
  onConnect?: (cluster: string, result: string) => void;
}

interface Entry {
  info: AgentInfo;
  session: TunnelSession;
}

/**
 * The gateway's side of cluster agents: authenticates an agent's WebSocket
 * with its join token, waits for its hello, and keeps its session under the
 * cluster's name until it goes away. Requests for the cluster are spread
 * over its agents by open streams, so several agents share load and a lost
 * one fails over to the rest.
 *
 * @example
 * const tunnels = createTunnelRegistry({ joinTokens, clusters: new Set(['prod']), log });
 * server.on('upgrade', (req, socket, head) => tunnels.handleUpgrade(req, socket, head) || pipeline.handleUpgrade(req, socket, head));
 */
export function createTunnelRegistry(options: TunnelRegistryOptions): TunnelRegistry {
  const { log } = options;
  // ws is loaded with the first agent that connects: most gateways reach their clusters directly.
  let wss: Promise<WebSocketServer> | undefined;
  const webSocketServer = (): Promise<WebSocketServer> =>
    (wss ??= import('ws').then(
      ({ WebSocketServer }) =>
        new WebSocketServer({
          noServer: true,
          maxPayload: maxTunnelMessageBytes() * 2,
          handleProtocols: (protocols) => (protocols.has(TUNNEL_SUBPROTOCOL) ? TUNNEL_SUBPROTOCOL : false),
        }),
    ));
  const byCluster = new Map<string, Entry[]>();
  const departures = new Map<string, Departure>();
  const waiters = new Map<string, Set<() => void>>();
  const count = (cluster: string, result: string): void => options.onConnect?.(cluster, result);

  const register = (entry: Entry): void => {
    const list = byCluster.get(entry.info.cluster) ?? [];
    list.push(entry);
    byCluster.set(entry.info.cluster, list);
    for (const wake of waiters.get(entry.info.cluster) ?? []) wake();
    log.info({ cluster: entry.info.cluster, agent: entry.info.agentId, version: entry.info.version, apiServer: entry.info.apiServer, address: entry.info.address }, 'cluster agent connected');
  };
  const unregister = (entry: Entry, reason: string): void => {
    const list = byCluster.get(entry.info.cluster) ?? [];
    const i = list.indexOf(entry);
    if (i === -1) return;
    list.splice(i, 1);
    departures.set(entry.info.cluster, { at: new Date().toISOString(), reason });
    log.warn({ cluster: entry.info.cluster, agent: entry.info.agentId, reason, remaining: list.length }, 'cluster agent disconnected');
  };

  const recheck = setInterval(() => {
    const entries = [...byCluster.values()].flat();
    if (entries.length === 0) return;
    options.joinTokens.list().then(
      (active) => {
        const ids = new Set(active.map((t) => t.id));
        for (const entry of entries) if (!ids.has(entry.info.tokenId)) entry.session.close('the join token was revoked');
      },
      (err: unknown) => log.warn({ err }, 'could not check cluster agent tokens'),
    );
  }, options.recheckMs ?? 30_000);
  recheck.unref();

  const accept = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    const id = randomUUID();
    const refuse = (error: GatehouseError): void => {
      respondWithStatusOnSocket(socket, error, id);
    };
    const token = bearerToken(req.headers);
    const asked = req.headers['gatehouse-cluster'];
    const wanted = typeof asked === 'string' ? asked : undefined;
    let row;
    try {
      row = token === undefined ? undefined : await options.joinTokens.verify(token);
    } catch (err) {
      log.error({ err }, 'checking a cluster agent token failed');
      refuse(new GatehouseError('GH_IDENTITY_UNAVAILABLE', 'the gateway could not check the join token (its store did not answer); the agent retries', { retryAfterSeconds: 5 }));
      return;
    }
    if (row === undefined) {
      count(wanted ?? '', 'unauthenticated');
      refuse(new GatehouseError('GH_UNAUTHENTICATED', 'a cluster agent must present an active join token (`gatehouse clusters add <cluster>` makes one) as Authorization: Bearer'));
      return;
    }
    if (wanted !== undefined && wanted !== row.cluster) {
      count(wanted, 'unauthenticated');
      refuse(new GatehouseError('GH_UNAUTHENTICATED', `this join token belongs to cluster "${row.cluster}", not "${wanted}"`));
      return;
    }
    if (!options.clusters.has(row.cluster)) {
      count(row.cluster, 'unknown-cluster');
      refuse(new GatehouseError('GH_UNKNOWN_CLUSTER', `cluster "${row.cluster}" is not served through agents on this gateway: add { name: ${row.cluster}, agent: {} } to clusters in its config`));
      return;
    }
    if (!(req.headers['sec-websocket-protocol'] ?? '').split(',').some((p) => p.trim() === TUNNEL_SUBPROTOCOL)) {
      count(row.cluster, 'bad-protocol');
      refuse(new GatehouseError('GH_BAD_REQUEST_PATH', `a cluster agent connects with the WebSocket subprotocol ${TUNNEL_SUBPROTOCOL}`));
      return;
    }
    (await webSocketServer()).handleUpgrade(req, socket, head, (ws) => {
      const session = createTunnelSession(ws, { side: 'gateway' });
      const address = req.socket.remoteAddress ?? 'unknown';
      const timer = setTimeout(() => session.close('no hello within the time allowed'), options.helloTimeoutMs ?? 10_000);
      let entry: Entry | undefined;
      session.once('control', (message) => {
        clearTimeout(timer);
        const hello = helloOf(message);
        if (hello === undefined || hello.cluster !== row.cluster) {
          count(row.cluster, 'bad-hello');
          session.close(hello === undefined ? 'the first message was not a hello' : `the agent says it serves cluster "${hello.cluster}", its token is for "${row.cluster}"`);
          return;
        }
        entry = { info: { connection: id, ...hello, address, connectedAt: new Date().toISOString(), tokenId: row.id }, session };
        count(row.cluster, 'connected');
        register(entry);
      });
      session.once('close', ({ reason }) => {
        clearTimeout(timer);
        if (entry) unregister(entry, reason);
      });
    });
  };

  const pick = (cluster: string): TunnelSession | undefined => {
    let best: TunnelSession | undefined;
    for (const { session } of byCluster.get(cluster) ?? []) {
      if (session.closed) continue;
      if (best === undefined || session.openStreams() < best.openStreams()) best = session;
    }
    return best;
  };

  return {
    handleUpgrade(req, socket, head) {
      if ((req.url ?? '').split('?', 1)[0] !== TUNNEL_PATH) return false;
      accept(req, socket, head).catch((err: unknown) => {
        log.error({ err }, 'accepting a cluster agent failed');
        socket.destroy();
      });
      return true;
    },
    async session(cluster, waitMs) {
      const now = pick(cluster);
      if (now) return now;
      if (waitMs > 0) {
        // A request that arrives while the agent reconnects waits for it instead of failing.
        const later = await new Promise<TunnelSession | undefined>((resolve) => {
          const set = waiters.get(cluster) ?? new Set();
          waiters.set(cluster, set);
          const done = (): void => {
            clearTimeout(timer);
            set.delete(wake);
            resolve(pick(cluster));
          };
          const wake = (): void => done();
          const timer = setTimeout(done, waitMs);
          set.add(wake);
        });
        if (later) return later;
      }
      const left = departures.get(cluster);
      const since = left ? ` (the last one left at ${left.at}: ${left.reason})` : ' (none has connected since the gateway started)';
      throw new GatehouseError('GH_UPSTREAM_UNAVAILABLE', `no cluster agent is connected for cluster "${cluster}"${since}; start \`gatehouse agent --cluster ${cluster}\` on its network`, {
        retryAfterSeconds: 5,
      });
    },
    agents(cluster) {
      const entries = cluster === undefined ? [...byCluster.values()].flat() : (byCluster.get(cluster) ?? []);
      return entries.map(({ info, session }) => ({ ...info, ...session.stats() }));
    },
    close() {
      clearInterval(recheck);
      for (const entry of [...byCluster.values()].flat()) entry.session.close('the gateway is shutting down');
      void wss?.then((server) => server.close());
    },
  };
}

function helloOf(message: Record<string, unknown>): Omit<AgentInfo, 'connection' | 'address' | 'connectedAt' | 'tokenId'> | undefined {
  if (message.type !== 'hello') return undefined;
  const text = (v: unknown, max = 200): string | undefined => (typeof v === 'string' && v.length <= max ? v : undefined);
  const agentId = text(message.agentId);
  const cluster = text(message.cluster, 63);
  if (agentId === undefined || cluster === undefined) return undefined;
  return {
    agentId,
    cluster,
    version: text(message.version) ?? 'unknown',
    apiServer: text(message.apiServer) ?? 'unknown',
    kubernetesVersion: text(message.kubernetesVersion),
  };
}
