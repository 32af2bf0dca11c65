import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import type { GatewayProcess } from '../../e2e/helpers/gateway.js';

export interface Reply {
  status: number;
  /** The parsed body when it is JSON. */
  json: Record<string, unknown> | undefined;
  text: string;
  /** The Gatehouse code in a Status body's causes (GH_…). */
  code: string | undefined;
  headers: Record<string, string | string[] | undefined>;
}

/** The Gatehouse code of a Kubernetes `Status` body, when it is one. */
export function statusCode(json: Record<string, unknown> | undefined): string | undefined {
  if (json?.['kind'] !== 'Status') return undefined;
  const causes = (json['details'] as { causes?: { reason?: string }[] } | undefined)?.causes ?? [];
  return causes.find((c) => c.reason?.startsWith('GH_'))?.reason;
}

/** A client for one gateway: JSON requests with a bearer token over HTTPS (undici, keep-alive). */
export function gatewayClient(gateway: GatewayProcess, options: { connections?: number } = {}) {
  const agent = new Agent({ connect: { ca: readFileSync(join(gateway.dataDir, 'ca.crt'), 'utf8') }, connections: options.connections ?? 8 });
  const send = async (method: string, path: string, body?: unknown, token = gateway.adminToken, timeoutMs = 30_000): Promise<Reply> => {
    const res = await request(`${gateway.url}${path}`, {
      method: method as 'GET',
      dispatcher: agent,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const text = await res.body.text();
    let json: Record<string, unknown> | undefined;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // Not JSON.
    }
    return { status: res.statusCode, json, text, code: statusCode(json), headers: res.headers };
  };
  return { agent, send, close: () => agent.close() };
}

/** Retries `attempt` every 200 ms until `ok` holds for its result, or fails after `ms`. */
export async function eventually<T>(what: string, ms: number, attempt: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T | undefined;
  let error: unknown;
  while (Date.now() < deadline) {
    try {
      last = await attempt();
      if (ok(last)) return last;
    } catch (err) {
      error = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not within ${ms} ms; last ${JSON.stringify(last)?.slice(0, 500) ?? String(error)}`);
}
