/**
 * The MCP server over Streamable HTTP at `/mcp`, served by the gateway.
 * A caller authenticates with the same bearer credential it gives kubectl;
 * each MCP session gets its own server whose tool calls go to the gateway's
 * Kubernetes endpoint on loopback with that very credential, so they pass
 * identity, policy, approvals, masking and audit like any other request.
 * A session only answers the credential that opened it.
 *
 * @module
 */

import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Logger } from 'pino';
import type { RequestAuthenticator } from '../console/auth.js';
import { GatehouseError } from '../errors/codes.js';
import { bearerToken } from '../identity/bearer.js';
import type { GatewayClient } from './gateway-client.js';

export interface McpHandlerDeps {
  /** The gateway's own HTTPS URL on loopback, e.g. `https://127.0.0.1:8443`. */
  gatewayUrl: string;
  /** PEM of the CA that signed the gateway's certificate (`state.tls.caPem`). */
  caPem: string;
  /** Checks `Authorization: Bearer` with the gateway's authenticators (see `bearerAuthenticator`). */
  authenticate: RequestAuthenticator;
  log: Logger;
  /** Offer only tools that do not change the cluster. */
  readOnly?: boolean;
  /** Sessions open at once; default 200. */
  maxSessions?: number;
  /** A session unused this long is closed; default 30 minutes. */
  idleMs?: number;
  /** Tool results are cut to this many characters; default 50 000. */
  maxOutput?: number;
}

/** Answers `/mcp` and returns true; returns false, untouched, for any other path. */
export type McpHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

export const MCP_PATH = '/mcp';

interface Session {
  transport: StreamableHTTPServerTransport;
  server: McpServer;
  client: GatewayClient;
  /** SHA-256 of the credential that opened it. */
  credential: string;
  lastUsed: number;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

// The MCP SDK and the gateway client (undici, ws) hold ~15 MB: loaded with the first MCP session, not by every gateway.
const loadMcp = async () => {
  const [transport, client, server] = await Promise.all([
    import('@modelcontextprotocol/sdk/server/streamableHttp.js'),
    import('./gateway-client.js'),
    import('./server.js'),
  ]);
  return { StreamableHTTPServerTransport: transport.StreamableHTTPServerTransport, createGatewayClient: client.createGatewayClient, createGatehouseMcpServer: server.createGatehouseMcpServer };
};

/**
 * @example
 * const mcpHandler = createMcpHandler({ gatewayUrl: url, caPem: state.tls.caPem, authenticate: bearerAuthenticator(authenticators), log });
 * server.on('request', (req, res) => {
 *   if (!health(req, res) && !consoleHandler(req, res) && !mcpHandler(req, res)) pipeline.handleRequest(req, res);
 * });
 */
export function createMcpHandler(deps: McpHandlerDeps): McpHandler {
  const sessions = new Map<string, Session>();
  const maxSessions = deps.maxSessions ?? 200;
  const idleMs = deps.idleMs ?? 30 * 60_000;

  const close = (id: string, s: Session): void => {
    sessions.delete(id);
    void s.server.close().finally(() => s.client.close());
  };
  const reaper = setInterval(() => {
    const now = Date.now();
    for (const [id, s] of sessions) if (now - s.lastUsed > idleMs) close(id, s);
  }, Math.min(idleMs, 60_000));
  reaper.unref();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Only the Authorization header: a browser's WebSocket subprotocol trick has no place here.
    const token = req.headers.authorization === undefined ? undefined : bearerToken(req.headers);
    let principal;
    try {
      principal = token === undefined ? undefined : await deps.authenticate(req);
    } catch (err) {
      if (!(err instanceof GatehouseError)) throw err;
      return reply(res, err.httpStatus === 503 ? 503 : 401, err.message);
    }
    if (token === undefined || principal === undefined) {
      res.setHeader('www-authenticate', 'Bearer realm="gatehouse"');
      return reply(res, 401, 'a bearer credential the gateway accepts is required (a Gatehouse token or an OIDC ID token)');
    }
    const id = req.headers['mcp-session-id'];
    if (typeof id === 'string') {
      const s = sessions.get(id);
      // Another credential's session is reported as missing, as if it did not exist.
      if (s === undefined || s.credential !== sha256(token)) return reply(res, 404, 'no such MCP session; initialize a new one');
      s.lastUsed = Date.now();
      return s.transport.handleRequest(req, res);
    }
    if (req.method !== 'POST') return reply(res, 400, 'no MCP session: send an initialize request first');
    if (sessions.size >= maxSessions) return reply(res, 503, 'too many MCP sessions are open; try again later');
    await open(req, res, token);
  }

  async function open(req: IncomingMessage, res: ServerResponse, token: string): Promise<void> {
    const { StreamableHTTPServerTransport, createGatewayClient, createGatehouseMcpServer } = await loadMcp();
    const id = randomUUID();
    const client = createGatewayClient({ server: deps.gatewayUrl, token, ca: deps.caPem });
    const server = createGatehouseMcpServer({ client, readOnly: deps.readOnly ?? false, maxOutput: deps.maxOutput, session: id });
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => id,
      onsessioninitialized: () => void sessions.set(id, session),
      onsessionclosed: () => close(id, session),
    });
    const session: Session = { transport, server, client, credential: sha256(token), lastUsed: Date.now() };
    await server.connect(transport);
    await transport.handleRequest(req, res);
    // Not an initialize request: the transport refused it and no session exists.
    if (!sessions.has(id)) void server.close().finally(() => client.close());
  }

  return (req, res) => {
    const path = (req.url ?? '').split('?', 1)[0];
    if (path !== MCP_PATH) return false;
    handle(req, res).catch((err: unknown) => {
      deps.log.error({ err }, 'MCP request failed');
      if (res.headersSent) res.destroy();
      else reply(res, 500, 'internal error; the gateway log has the details');
    });
    return true;
  };
}

/** A JSON-RPC error without an id, as the Streamable HTTP transport itself answers refusals. */
function reply(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: status === 401 ? -32001 : -32000, message }, id: null }));
}
