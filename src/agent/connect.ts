import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { createTunnelSession, TUNNEL_SUBPROTOCOL } from '../tunnel/session.js';
import type { TunnelSession } from '../tunnel/session.js';
import type { Upstream } from '../upstream/client.js';
import { upstreamFetch } from '../upstream/fetch.js';
import { connectProxyAgent, proxyFor } from './proxy.js';
import { createAgentRelay } from './relay.js';

/** The path on the gateway where agents open their tunnel. */
export const TUNNEL_PATH = '/gatehouse/v1/tunnel';

export interface AgentOptions {
  /** The gateway, https:// or wss://; only its origin is used. */
  gatewayUrl: URL;
  cluster: string;
  /** The agent token the gateway issued for this cluster. */
  token: string;
  /** PEM CA bundle for the gateway's certificate; default: the system roots. */
  gatewayCa?: Buffer;
  /** The API server, with the agent's credential. */
  upstream: Upstream;
  /** HTTP proxy for the tunnel; default HTTPS_PROXY/https_proxy, honouring NO_PROXY/no_proxy. */
  proxy?: URL;
  log: Logger;
  /** The agent's version, sent in its hello. */
  version: string;
  /** Reconnect timing; the defaults suit production. */
  backoff?: Partial<Backoff>;
}

export interface Backoff {
  /** First delay, doubled per failed attempt. Default 500 ms. */
  initialMs: number;
  /** Longest delay, also used after the gateway refused the token. Default 30 s. */
  maxMs: number;
  /** A connection that stayed up this long starts the next backoff afresh. Default 30 s. */
  resetAfterMs: number;
}

export interface RunningAgent {
  /** Closes the tunnel, fails its streams and stops reconnecting. */
  stop(): Promise<void>;
  connected(): boolean;
  /** One line on the tunnel's state, for /readyz and logs. */
  describe(): string;
}

const DEFAULT_BACKOFF: Backoff = { initialMs: 500, maxMs: 30_000, resetAfterMs: 30_000 };
const HANDSHAKE_TIMEOUT_MS = 15_000;
// Frames are at most 64 KiB + 5; a megabyte leaves room should the gateway ever send larger ones.
const MAX_MESSAGE_BYTES = 1024 * 1024;
const VERSION_TIMEOUT_MS = 5_000;
// How long stop() waits for the gateway to acknowledge the close before cutting the connection.
const CLOSE_GRACE_MS = 2_000;
// Enough of a refusal's body to explain it.
const MAX_REFUSAL_BYTES = 4096;

/**
 * Runs the cluster agent: dials the gateway's tunnel endpoint (through an
 * HTTP proxy when one applies), says hello, serves the streams the gateway
 * opens with the agent's credential, and reconnects forever with capped
 * exponential backoff and full jitter.
 *
 * @example
 * const agent = runAgent({ gatewayUrl: new URL('https://gatehouse.example.com'), cluster: 'prod', token,
 *   upstream: createUpstream(inClusterTarget()), log, version: '0.1.0' });
 * process.once('SIGTERM', () => void agent.stop());
 */
export function runAgent(options: AgentOptions): RunningAgent {
  const { cluster, log, upstream } = options;
  const url = tunnelUrl(options.gatewayUrl);
  const backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
  const agentId = `${hostname()}-${randomBytes(4).toString('hex')}`;
  const proxy = proxyFor(url, options.proxy);
  const agent = proxy ? connectProxyAgent(proxy) : undefined;
  const relay = createAgentRelay(upstream, log);
  // ws is loaded when an agent runs, not by every command of the command line (`serve` among them) that imports this module.
  const { WebSocket: TunnelSocket } = createRequire(import.meta.url)('ws') as { WebSocket: typeof WebSocket };

  let stopped = false;
  let failures = 0;
  let ws: WebSocket | undefined;
  let session: TunnelSession | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let state = `connecting to ${url.origin}`;

  const connect = (): void => {
    const via = proxy ? ` through the proxy ${proxy.host}` : '';
    log.info({ url: url.href, proxy: proxy?.host }, `connecting to ${url.origin}${via}`);
    state = `connecting to ${url.origin}${via}`;
    const kubernetesVersion = fetchKubernetesVersion(upstream);
    const socket = new TunnelSocket(url, TUNNEL_SUBPROTOCOL, {
      headers: { authorization: `Bearer ${options.token}`, 'gatehouse-cluster': cluster },
      ca: options.gatewayCa,
      agent,
      maxPayload: MAX_MESSAGE_BYTES,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      perMessageDeflate: false,
      followRedirects: false,
    });
    ws = socket;
    let failure: string | undefined;
    let refused = false;
    let wasOpen = false;
    socket.on('error', (err) => {
      failure ??= err.message;
    });
    socket.once('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      refused = status === 401 || status === 403;
      void readSome(res, MAX_REFUSAL_BYTES).then((body) => {
        const detail = refusalDetail(body);
        failure = refused
          ? `the gateway refused the agent token (HTTP ${status}${detail}): is it wrong, revoked, or issued for another cluster than "${cluster}"?`
          : `the gateway answered HTTP ${status} instead of opening the tunnel${detail}`;
        socket.terminate();
      });
    });
    socket.once('open', () => {
      wasOpen = true;
      const opened = Date.now();
      const tunnel = createTunnelSession(socket, { side: 'agent' });
      session = tunnel;
      state = `connected to ${url.origin} as cluster ${cluster}`;
      log.info({ agentId, cluster }, `connected to gateway ${url.host} as cluster ${cluster}`);
      tunnel.on('stream', (stream) => relay.handle(stream));
      tunnel.once('close', ({ reason }) => {
        session = undefined;
        if (Date.now() - opened >= backoff.resetAfterMs) failures = 0;
        retry(`tunnel closed: ${reason}`, false);
      });
      void kubernetesVersion.then((version) => {
        if (tunnel.closed) return;
        tunnel.sendControl({ type: 'hello', agentId, version: options.version, cluster, apiServer: upstream.where, kubernetesVersion: version });
      });
    });
    socket.once('close', (code) => {
      // Once open, the session reports the close, with its reason.
      if (!wasOpen) retry(`could not connect to ${url.origin}: ${failure ?? `closed with code ${code}`}`, refused);
    });
  };

  const retry = (reason: string, refused: boolean): void => {
    ws = undefined;
    if (stopped) return;
    const delay = refused ? backoff.maxMs : Math.random() * Math.min(backoff.maxMs, backoff.initialMs * 2 ** failures);
    failures++;
    state = `${reason}; reconnecting`;
    const line = `${reason}; reconnecting in ${(delay / 1000).toFixed(1)} s`;
    if (refused) log.error({ cluster }, line);
    else log.warn({ cluster }, line);
    retryTimer = setTimeout(connect, delay);
  };

  connect();
  return {
    async stop() {
      stopped = true;
      clearTimeout(retryTimer);
      relay.close();
      const socket = ws;
      ws = undefined;
      session?.close('the cluster agent is stopping');
      if (socket && socket.readyState !== socket.CLOSED) {
        const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
        if (socket.readyState === socket.CONNECTING) socket.terminate();
        else socket.close(1001, 'the cluster agent is stopping');
        const cut = setTimeout(() => socket.terminate(), CLOSE_GRACE_MS);
        await closed;
        clearTimeout(cut);
      }
      agent?.destroy();
    },
    connected: () => session !== undefined && !session.closed,
    describe: () => state,
  };
}

/** `wss://<host>/gatehouse/v1/tunnel` for a gateway given as https:// or wss://. */
export function tunnelUrl(gateway: URL): URL {
  if (gateway.protocol !== 'https:' && gateway.protocol !== 'wss:') {
    throw new Error(`the gateway URL must be https:// or wss://, got ${gateway.protocol}// (the agent token never travels unencrypted)`);
  }
  const url = new URL(TUNNEL_PATH, gateway);
  url.protocol = 'wss:';
  return url;
}

// The cluster's gitVersion for the hello; undefined when the API server does not answer.
async function fetchKubernetesVersion(upstream: Upstream): Promise<string | undefined> {
  try {
    const reply = await upstreamFetch(upstream, { method: 'GET', path: '/version', timeoutMs: VERSION_TIMEOUT_MS });
    if (reply.status !== 200) return undefined;
    const version = (JSON.parse(reply.body.toString('utf8')) as { gitVersion?: unknown }).gitVersion;
    return typeof version === 'string' ? version : undefined;
  } catch {
    return undefined;
  }
}

// The start of a response body, however it ends.
function readSome(res: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (): void => {
      res.destroy();
      resolve(Buffer.concat(chunks).subarray(0, maxBytes));
    };
    res.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= maxBytes) done();
    });
    res.once('end', done);
    res.once('error', done);
  });
}

// ": <message>" from a refusal's Kubernetes Status or its first line of text; "" when there is nothing to say.
function refusalDetail(body: Buffer): string {
  const text = body.toString('utf8').trim();
  if (!text) return '';
  try {
    const message = (JSON.parse(text) as { message?: unknown }).message;
    if (typeof message === 'string' && message) return `: ${message}`;
  } catch {
    // Not JSON: the text itself explains.
  }
  return `: ${text.split('\n')[0]?.slice(0, 200) ?? ''}`;
}
