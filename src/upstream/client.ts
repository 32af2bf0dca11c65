import * as http from 'node:http';
import * as https from 'node:https';
import type { OutgoingHttpHeaders } from 'node:http';
import { createSecureContext } from 'node:tls';
import type { ConnectionOptions, SecureContext } from 'node:tls';
import { createCredentialProvider } from './credential.js';
import type { CredentialProvider, UpstreamCredential } from './credential.js';
import { isLongLived } from './exchange.js';
import type { UpstreamRequest } from './exchange.js';
import { createHttp2Pool } from './http2-pool.js';
import type { Http2Pool, Http2PoolStats } from './http2-pool.js';
import { createReadPool } from './read-pool.js';
import { createWatchSharing } from './shared-watch.js';
import type { WatchSharingStats } from './shared-watch.js';
import type { ReadPool } from './read-pool.js';
import type { UpstreamTarget } from './kubeconfig.js';

export type { UpstreamRequest, UpstreamResponse } from './exchange.js';

export interface UpstreamRequestInit {
  method: string;
  /** Path and query as received; the upstream server's own path prefix is added here. */
  path: string;
  /** Client headers already stripped of hop-by-hop, credential and impersonation headers. */
  headers: OutgoingHttpHeaders;
  /**
   * The client's answer is a stream of an HTTP/2 connection, whose writes of
   * one turn of the event loop leave together: a shared watch hands such
   * clients a chunk a share per turn (shared-watch.ts).
   */
  multiplexed?: boolean;
}

/** A way to one cluster's API server that applies a credential the caller never sees (the gateway's, or its cluster agent's). */
export interface Upstream {
  /** For messages: the API server's origin, or the cluster a tunnel leads to. */
  readonly where: string;
  /**
   * A request with the gateway credential applied: on a keep-alive HTTP/1.1
   * connection (undici's for short reads, Node's for the rest), or, when it is
   * long-lived (a watch, `logs -f`) and the API server speaks HTTP/2, as a
   * stream of a shared HTTP/2 session.
   */
  request(init: UpstreamRequestInit): Promise<UpstreamRequest>;
  /**
   * A request on a fresh HTTP/1.1 connection for protocol upgrades (exec,
   * attach, port-forward): ALPN offers only http/1.1 so no HTTP/2 ever
   * reaches an upgrade path.
   */
  upgradeRequest(init: UpstreamRequestInit): Promise<http.ClientRequest>;
  /** Forget the cached credential, e.g. after the upstream answered 401. */
  invalidateCredential(): void;
  /** The HTTP/2 sessions carrying long-lived requests now (none through a tunnel: the agent holds those). */
  http2Stats(): Http2PoolStats;
  /** The upstream watches shared by identical client watches, and those clients (none through a tunnel). */
  sharedWatches(): WatchSharingStats;
  close(): void;
}

/** An upstream the gateway reaches itself, from a kubeconfig. */
export interface DirectUpstream extends Upstream {
  readonly target: UpstreamTarget;
}

/**
 * Creates the upstream connection factory for a resolved kubeconfig target.
 *
 * @example
 * const upstream = createUpstream(loadKubeconfig(path));
 * const req = await upstream.request({ method: 'GET', path: '/version', headers: {} });
 */
export function createUpstream(
  target: UpstreamTarget,
  credentials: CredentialProvider = createCredentialProvider(target),
  options: {
    /** Time allowed to connect an HTTP/2 session (HTTP/1.1 connections are timed per request). */
    connectMs?: number;
    /** Identical watches ride one upstream watch (shared-watch.ts); off unless asked for. */
    shareWatches?: boolean;
  } = {},
): DirectUpstream {
  const secure = target.server.protocol === 'https:';
  const prefix = target.server.pathname.replace(/\/+$/, '');
  const port = target.server.port ? Number(target.server.port) : secure ? 443 : 80;
  const hostname = target.server.hostname.replace(/^\[|\]$/g, '');
  const hostHeader = target.server.host;

  // Exec plugins may hand out a new client certificate; each distinct pair gets its own pools and TLS context.
  let agentFor: Pools | undefined;
  const tlsOptions = (cred: UpstreamCredential): TlsOptions => {
    if (agentFor && agentFor.cert === cred.clientCert) return agentFor.tls;
    return {
      // One context for every connection: given ca/cert/key instead, Node parses them into a new context per
      // connection (~1 ms of CPU, and memory held as long as the connection, e.g. each of 1 000 upstream watches).
      secureContext: createSecureContext({ ca: target.ca, cert: cred.clientCert, key: cred.clientKey }),
      rejectUnauthorized: !target.insecureSkipTlsVerify,
      servername: target.tlsServerName ?? (isIp(hostname) ? undefined : hostname),
    };
  };
  const poolsFor = (cred: UpstreamCredential): Pools => {
    if (agentFor && agentFor.cert === cred.clientCert) return agentFor;
    closePools(agentFor);
    const keepAlive = { keepAlive: true, keepAliveMsecs: 30_000, maxFreeSockets: 64, scheduling: 'lifo' as const };
    const tls = tlsOptions(cred);
    const agent = secure ? new https.Agent({ ...keepAlive, ...tls }) : new http.Agent(keepAlive);
    // Plain-HTTP upstreams (tests, a local proxy) stay on HTTP/1.1: no cleartext HTTP/2 guessing.
    const http2 = secure ? createHttp2Pool({ host: hostname, port, authority: hostHeader, tls, connectMs: options.connectMs }) : undefined;
    const reads = createReadPool({ origin: target.server.origin, tls: secure ? tls : undefined, connectMs: options.connectMs });
    agentFor = { cert: cred.clientCert, agent, tls, http2, reads };
    return agentFor;
  };

  const headersWith = (cred: UpstreamCredential, headers: OutgoingHttpHeaders): OutgoingHttpHeaders => {
    // Not { ...headers, host }: Node 20's V8 makes a new hidden class for that on every request.
    const out: OutgoingHttpHeaders = Object.assign({}, headers, { host: hostHeader });
    if (cred.authorization) out.authorization = cred.authorization;
    return out;
  };

  const sharing = options.shareWatches === true ? createWatchSharing() : undefined;
  const transport = secure ? https : http;
  // Node's HTTP/1.1 client: writes, and long-lived requests when the API server does not speak HTTP/2.
  const onConnection = (pools: Pools, method: string, path: string, headers: OutgoingHttpHeaders): UpstreamRequest =>
    transport.request({ hostname, port, method, path, headers, agent: pools.agent });
  const longLived = async (pools: Pools, method: string, path: string, headers: OutgoingHttpHeaders): Promise<UpstreamRequest> =>
    (await pools.http2?.request(method, path, headers)) ?? onConnection(pools, method, path, headers);

  return {
    target,
    where: target.server.origin,
    async request(init) {
      const cred = await credentials.get();
      const pools = poolsFor(cred);
      const path = prefix + init.path;
      const headers = headersWith(cred, init.headers);
      if (isLongLived(init.method, init.path)) {
        const open = (p: string): Promise<UpstreamRequest> => longLived(pools, init.method, p, headers);
        return sharing?.request(init.method, path, headers, open, init.multiplexed === true) ?? open(path);
      }
      if (init.method === 'GET' || init.method === 'HEAD') return pools.reads.request(init.method, path, headers);
      return onConnection(pools, init.method, path, headers);
    },
    async upgradeRequest(init) {
      const cred = await credentials.get();
      const common = { hostname, port, method: init.method, path: prefix + init.path, headers: headersWith(cred, init.headers) };
      if (!secure) return http.request({ ...common, agent: false });
      const options: https.RequestOptions & Pick<ConnectionOptions, 'ALPNProtocols'> = {
        ...common,
        ...tlsOptions(cred),
        ALPNProtocols: ['http/1.1'],
        agent: false,
      };
      return https.request(options);
    },
    invalidateCredential() {
      credentials.invalidate();
    },
    http2Stats() {
      return agentFor?.http2?.stats() ?? { sessions: 0, streams: 0 };
    },
    sharedWatches() {
      return sharing?.stats() ?? { upstreams: 0, clients: 0 };
    },
    close() {
      closePools(agentFor);
      agentFor = undefined;
    },
  };
}

type TlsOptions = Pick<ConnectionOptions, 'rejectUnauthorized' | 'servername'> & { secureContext: SecureContext };

/** The connection pools of one client certificate: HTTP/1.1 keep-alive, and HTTP/2 sessions for long-lived requests. */
interface Pools {
  cert: Buffer | undefined;
  agent: http.Agent;
  tls: TlsOptions;
  http2: Http2Pool | undefined;
  /** Short reads (GET, HEAD). */
  reads: ReadPool;
}

function closePools(pools: Pools | undefined): void {
  pools?.agent.destroy();
  pools?.http2?.close();
  pools?.reads.close();
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}
