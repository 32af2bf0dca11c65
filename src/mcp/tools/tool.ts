/**
 * The shape every MCP tool has: a name, a description written for models,
 * a strict zod input schema, whether it changes the cluster (read-only mode
 * leaves those out), and a `run` that talks to the cluster only through the
 * {@link ToolContext} it is given.
 *
 * @module
 */

import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import type WebSocket from 'ws';
import type { z } from 'zod';
import type { ApiResource } from '../discovery.js';
import type { KubeRequestOptions, KubeResponse } from '../gateway-client.js';

/** The gateway calls of one tool call, already labelled with who, which tool and why. */
export interface KubeCalls {
  request(options: KubeRequestOptions): Promise<KubeResponse>;
  json<T>(options: KubeRequestOptions): Promise<T>;
  websocket(pathAndQuery: string, protocols: string[]): WebSocket;
}

export interface ToolContext {
  kube: KubeCalls;
  /** The cluster's resource types (discovery through the gateway, cached). */
  resources(): Promise<ApiResource[]>;
  /** The namespace a call means: the one given, else the kubeconfig context's, else `default`. */
  namespace(given: string | undefined): string;
  /** Tool results are cut to this many characters. */
  maxOutput: number;
  signal: AbortSignal;
}

export interface ToolDefinition<Schema extends z.ZodObject> {
  name: string;
  title: string;
  description: string;
  input: Schema;
  /** Changes the cluster: not offered in read-only mode. */
  write: boolean;
  annotations?: Omit<ToolAnnotations, 'title' | 'readOnlyHint'>;
  /** Text to show (cut to `maxOutput`), or a whole result. */
  run(args: z.output<Schema>, ctx: ToolContext): Promise<string | CallToolResult>;
}

/** A tool with its argument type erased, so tools of different shapes share one list. */
export interface Tool {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly input: z.ZodObject;
  readonly write: boolean;
  readonly annotations: ToolAnnotations;
  run(args: unknown, ctx: ToolContext): Promise<string | CallToolResult>;
}

/**
 * @example
 * export const getResource = defineTool({ name: 'get_resource', title: 'Get', description: '…', input: z.object({ … }), write: false, run: async (args, ctx) => '…' });
 */
export function defineTool<Schema extends z.ZodObject>(def: ToolDefinition<Schema>): Tool {
  return {
    name: def.name,
    title: def.title,
    description: def.description,
    input: def.input,
    write: def.write,
    annotations: { title: def.title, readOnlyHint: !def.write, ...def.annotations },
    // The SDK validated the arguments against `input` before calling.
    run: (args, ctx) => def.run(args as z.output<Schema>, ctx),
  };
}
