/**
 * The MCP server's only way to the cluster: Kubernetes API requests to the
 * gateway's own HTTPS endpoint with the caller's credential, so identity,
 * policy, approvals, masking and audit apply exactly as for kubectl. A
 * refusal arrives as a Kubernetes Status and becomes a {@link KubeCallError}
 * carrying its message verbatim.
 *
 * @module
 */

import { Agent, fetch } from 'undici';
import type { Dispatcher } from 'undici';
import WebSocket from 'ws';
import { REASON_HEADER } from '../approvals/reason.js';
import { CLUSTER_PATH_PREFIX } from '../clusters/route.js';

/** The gateway and the credential every call carries. */
export interface GatewayTarget {
  /** Origin, without a trailing slash, e.g. `https://127.0.0.1:8443`. */
  server: string;
  token: string;
  /** PEM CA bundle; undefined means the system roots. */
  ca?: Buffer | string | undefined;
  rejectUnauthorized?: boolean;
  /** The gateway cluster Kubernetes calls go to (`/clusters/<name>`); the gateway's default cluster when absent. */
  cluster?: string | undefined;
}

/** Headers that say who is calling and why; they land in the audit record. */
export interface CallLabels {
  userAgent: string;
  /** One id per MCP session: the audit groups a session's requests by it (as kubectl's `Kubectl-Session`). */
  session: string;
  /** The tool call, e.g. `mcp apply_manifest namespace=dev`, recorded as `Kubectl-Command`. */
  command: string;
  /** The requester's reason for approvers (`Gatehouse-Reason`). */
  reason?: string | undefined;
}

export interface KubeRequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path with its query string. */
  path: string;
  body?: string;
  contentType?: string;
  accept?: string;
}

export interface KubeResponse {
  status: number;
  contentType: string;
  text: string;
}

/** What the gateway or the API server refused, with the Status message as the client would print it. */
export class KubeCallError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** The Status `reason` (e.g. `NotFound`, `Forbidden`). */
    readonly reason: string,
    /** Gatehouse's machine-readable code (`GH_APPROVAL_PENDING`, …) when the gateway refused. */
    readonly code: string | undefined,
    /** The approval a review decision opened. */
    readonly approvalId: string | undefined,
  ) {
    super(message);
    this.name = 'KubeCallError';
  }
}

export interface GatewayClient {
  readonly server: string;
  /** Sends one request; throws {@link KubeCallError} for any non-2xx answer. */
  request(options: KubeRequestOptions, labels: CallLabels): Promise<KubeResponse>;
  /** GET (or another method) whose answer is JSON. */
  json<T>(options: KubeRequestOptions, labels: CallLabels): Promise<T>;
  /** Opens a WebSocket (exec) through the gateway with the same headers. */
  websocket(pathAndQuery: string, protocols: string[], labels: CallLabels): WebSocket;
  close(): Promise<void>;
}

/** Every answer is read into memory; this bounds it (tool results are cut far below this). */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/**
 * @example
 * const client = createGatewayClient({ server: 'https://127.0.0.1:8443', token, ca });
 * const pods = await client.json({ path: '/api/v1/namespaces/default/pods' }, labels);
 */
export function createGatewayClient(target: GatewayTarget): GatewayClient {
  const tls = { ...(target.ca !== undefined ? { ca: target.ca } : {}), rejectUnauthorized: target.rejectUnauthorized ?? true };
  const dispatcher: Dispatcher = new Agent({ connect: tls });
  const headersFor = (labels: CallLabels): Record<string, string> => ({
    authorization: `Bearer ${target.token}`,
    'user-agent': labels.userAgent,
    'kubectl-session': labels.session,
    'kubectl-command': headerSafe(labels.command),
    ...(labels.reason ? { [REASON_HEADER]: headerSafe(labels.reason) } : {}),
  });

  // Kubernetes paths go to the chosen cluster; the gateway's own API (/gatehouse/…) lives at its root.
  const routed = (path: string): string => (target.cluster === undefined || path.startsWith('/gatehouse/') ? path : `${CLUSTER_PATH_PREFIX}${target.cluster}${path}`);

  const request = async (options: KubeRequestOptions, labels: CallLabels): Promise<KubeResponse> => {
    let res;
    try {
      res = await fetch(`${target.server}${routed(options.path)}`, {
        method: options.method ?? 'GET',
        dispatcher,
        headers: {
          ...headersFor(labels),
          accept: options.accept ?? 'application/json',
          ...(options.contentType !== undefined ? { 'content-type': options.contentType } : {}),
        },
        ...(options.body !== undefined ? { body: options.body } : {}),
      });
    } catch (err) {
      throw new Error(`cannot reach the gateway at ${target.server}: ${(err as Error).message}`, { cause: err });
    }
    const text = await readBounded(res.body, MAX_RESPONSE_BYTES);
    if (res.status >= 300) throw errorFromStatus(res.status, text);
    return { status: res.status, contentType: res.headers.get('content-type') ?? '', text };
  };

  return {
    server: target.server,
    request,
    async json<T>(options: KubeRequestOptions, labels: CallLabels): Promise<T> {
      const res = await request(options, labels);
      try {
        return JSON.parse(res.text) as T;
      } catch {
        throw new Error(`the gateway answered ${options.path} with something that is not JSON: ${res.text.slice(0, 200)}`);
      }
    },
    websocket(pathAndQuery, protocols, labels) {
      const url = `${target.server.replace(/^http/, 'ws')}${routed(pathAndQuery)}`;
      return new WebSocket(url, protocols, { headers: headersFor(labels), ...tls, maxPayload: MAX_RESPONSE_BYTES });
    },
    close: () => dispatcher.close(),
  };
}

interface StatusBody {
  kind?: string;
  /** The console API's error shape (docs/console-api.md). */
  error?: { code?: string; message?: string };
  message?: string;
  reason?: string;
  details?: { causes?: { reason?: string; message?: string; field?: string }[] };
}

/**
 * Turns a refused answer into a {@link KubeCallError}: the Status message
 * verbatim, the Gatehouse code and approval id when the gateway wrote it;
 * for the console API, its error message.
 *
 * @example
 * errorFromStatus(404, '{"kind":"Status","message":"pods \"x\" not found","reason":"NotFound"}').message; // 'pods "x" not found'
 */
export function errorFromStatus(status: number, text: string): KubeCallError {
  let body: StatusBody | undefined;
  try {
    body = JSON.parse(text) as StatusBody;
  } catch {
    body = undefined;
  }
  if (body?.error?.message !== undefined) return new KubeCallError(body.error.message, status, body.error.code ?? '', undefined, undefined);
  if (body?.kind !== 'Status') {
    return new KubeCallError(`the gateway answered ${status}: ${text.slice(0, 500) || '(empty body)'}`, status, '', undefined, undefined);
  }
  const causes = body.details?.causes ?? [];
  const code = causes.find((c) => c.reason?.startsWith('GH_'))?.reason;
  const approvalId = causes.find((c) => c.reason === 'GatehouseApproval')?.message;
  return new KubeCallError(body.message ?? `the gateway answered ${status}`, status, body.reason ?? '', code, approvalId);
}

/** Header values are one line of visible ASCII; anything else is replaced, and long values cut. */
function headerSafe(value: string): string {
  return value.replace(/[^\x20-\x7e]+/g, ' ').slice(0, 500);
}

async function readBounded(body: AsyncIterable<Uint8Array> | null, max: number): Promise<string> {
  if (body === null) return '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > max) throw new Error(`the answer is larger than ${max} bytes; narrow the request (a label selector, a limit, fewer log lines)`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}
