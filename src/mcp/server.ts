/**
 * The Gatehouse MCP server: Kubernetes tools whose every call is made as
 * Kubernetes API requests through the gateway with the caller's credential.
 * The transport (stdio for `gatehouse mcp`, Streamable HTTP at `/mcp`) is
 * chosen by the caller; this module only builds the server.
 *
 * @module
 */

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { AGGREGATED_DISCOVERY_ACCEPT, parseDiscovery } from './discovery.js';
import type { ApiResource, DiscoveryList } from './discovery.js';
import { KubeCallError } from './gateway-client.js';
import type { CallLabels, GatewayClient } from './gateway-client.js';
import { errorResult, failureText, textResult } from './result.js';
import { applyManifest } from './tools/apply.js';
import { canI } from './tools/can-i.js';
import { deleteResource, rolloutRestart, scaleResource } from './tools/change.js';
import { execCommand } from './tools/exec.js';
import { podLogs } from './tools/logs.js';
import { apiResources, describeResource, getEvents, getResource, listResources } from './tools/read.js';
import { rolloutStatus } from './tools/rollout-status.js';
import type { KubeCalls, Tool, ToolContext } from './tools/tool.js';
import { createHeldRequests, waitForApproval } from './tools/wait-for-approval.js';
import type { HeldRequests } from './tools/wait-for-approval.js';

export const MCP_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface GatehouseMcpOptions {
  client: GatewayClient;
  /** Offer only tools that do not change the cluster. */
  readOnly?: boolean;
  /** The namespace calls default to (the kubeconfig context's); else `default`. */
  defaultNamespace?: string | undefined;
  /** Tool results are cut to this many characters; default 50 000. */
  maxOutput?: number;
  /** Groups this session's requests in the audit record; default a new UUID. */
  session?: string;
}

const DISCOVERY_TTL_MS = 5 * 60_000;

const INSTRUCTIONS =
  'These tools act on a Kubernetes cluster through Gatehouse, a gateway that checks policy, may hold actions for a person to approve, masks sensitive values and records everything. ' +
  'Results never contain real secret values (masked values are placeholders, not the data). ' +
  'When a result says an action needs approval, tell the user and call wait_for_approval with its approval id rather than changing the request. ' +
  'When a result says an action was denied, do not retry it unchanged; follow its hint. Use can_i to check an action first, and give a reason on write tools.';

/** Every tool, in the order clients list them. */
const TOOLS: readonly Tool[] = [
  apiResources,
  listResources,
  getResource,
  describeResource,
  getEvents,
  podLogs,
  rolloutStatus,
  canI,
  applyManifest,
  deleteResource,
  scaleResource,
  rolloutRestart,
  execCommand,
];

/** The names of the tools a server offers in the given mode. */
export function offeredTools(readOnly: boolean): string[] {
  return [...TOOLS.filter((t) => !readOnly || !t.write).map((t) => t.name), 'wait_for_approval'];
}

/**
 * @example
 * const server = createGatehouseMcpServer({ client: createGatewayClient({ server, token, ca }), readOnly: true });
 * await server.connect(new StdioServerTransport());
 */
export function createGatehouseMcpServer(options: GatehouseMcpOptions): McpServer {
  const { client } = options;
  const session = options.session ?? randomUUID();
  const maxOutput = options.maxOutput ?? 50_000;
  const server = new McpServer({ name: 'gatehouse', version: MCP_VERSION }, { instructions: INSTRUCTIONS });
  const held = createHeldRequests();

  const userAgent = (): string => {
    const peer = server.server.getClientVersion();
    return `gatehouse-mcp/${MCP_VERSION}${peer ? ` (${peer.name}/${peer.version})` : ''}`;
  };

  let discovery: { at: number; resources: Promise<ApiResource[]> } | undefined;
  const resources = (labels: CallLabels): Promise<ApiResource[]> => {
    if (discovery === undefined || Date.now() - discovery.at > DISCOVERY_TTL_MS) {
      const lists = ['/api', '/apis'].map((path) => client.json<DiscoveryList>({ path, accept: AGGREGATED_DISCOVERY_ACCEPT }, labels));
      const loaded = Promise.all(lists).then(parseDiscovery);
      // A failed discovery is not cached: the next call tries again.
      loaded.catch(() => (discovery = undefined));
      discovery = { at: Date.now(), resources: loaded };
    }
    return discovery.resources;
  };

  const tools = [...TOOLS.filter((t) => !options.readOnly || !t.write), waitForApproval(held)];
  for (const tool of tools) {
    server.registerTool(tool.name, { title: tool.title, description: tool.description, inputSchema: tool.input, annotations: tool.annotations }, async (args, extra) => {
      const labels: CallLabels = { userAgent: userAgent(), session, command: commandLine(tool.name, args), reason: reasonOf(args) };
      const ctx: ToolContext = {
        kube: remembering(client, labels, held),
        resources: () => resources(labels),
        namespace: (given) => given ?? options.defaultNamespace ?? 'default',
        maxOutput,
        signal: extra.signal,
      };
      try {
        const result = await tool.run(args, ctx);
        return typeof result === 'string' ? textResult(result, maxOutput) : result;
      } catch (err) {
        return errorResult(failureText(err));
      }
    });
  }
  return server;
}

/** The client calls of one tool call; a request held for approval is remembered for wait_for_approval. */
function remembering(client: GatewayClient, labels: CallLabels, held: HeldRequests): KubeCalls {
  const request: KubeCalls['request'] = async (options) => {
    try {
      return await client.request(options, labels);
    } catch (err) {
      if (err instanceof KubeCallError && err.code === 'GH_APPROVAL_PENDING' && err.approvalId !== undefined) {
        held.remember(err.approvalId, () => client.request(options, labels));
      }
      throw err;
    }
  };
  return {
    request,
    json: async <T>(options: Parameters<KubeCalls['request']>[0]): Promise<T> => {
      const res = await request(options);
      return JSON.parse(res.text) as T;
    },
    websocket: (path, protocols) => client.websocket(path, protocols, labels),
  };
}

/**
 * The tool call as the audit record's command line: the tool and its
 * arguments, without the manifest (it may hold secret values; the request
 * body is recorded, masked, anyway) or the reason (its own header).
 *
 * @example
 * commandLine('get_resource', { resource: 'pods', name: 'web' }); // 'mcp get_resource resource=pods name=web'
 */
export function commandLine(tool: string, args: unknown): string {
  const parts = Object.entries(args !== null && typeof args === 'object' ? args : {})
    .filter(([key, value]) => key !== 'manifest' && key !== 'reason' && value !== undefined)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  return ['mcp', tool, ...parts].join(' ');
}

function reasonOf(args: unknown): string | undefined {
  const reason = args !== null && typeof args === 'object' ? (args as { reason?: unknown }).reason : undefined;
  return typeof reason === 'string' ? reason : undefined;
}

