/**
 * The edges of the console API: JSON answers, and request bodies and query
 * strings checked with zod before any handler sees them.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { ConsoleError } from './errors.js';

/** Bodies are small JSON documents; anything larger is refused before it is buffered. */
const MAX_BODY_BYTES = 256 * 1024;

/** Headers on every API answer: never cached, never sniffed. */
export const API_HEADERS: Readonly<Record<string, string>> = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...API_HEADERS, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, error: ConsoleError): void {
  sendJson(res, error.status, { error: { code: error.code, message: error.message, ...error.detail } }, { ...error.headers });
}

/** "limit: Too big: expected number to be <=1000; state: Invalid option…": every issue, named by its field. */
export function issuesMessage(error: z.ZodError, what: string): string {
  const issues = error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : what}: ${issue.message}`);
  return `invalid ${what}: ${issues.join('; ')}`;
}

/** Parses the query string with `schema` (each parameter given once, as a string). */
export function parseQuery<S extends z.ZodType>(schema: S, params: URLSearchParams): z.infer<S> {
  const values: Record<string, string> = {};
  for (const [key, value] of params) {
    if (key in values) throw new ConsoleError('bad-request', `invalid query: ${key} is given more than once`);
    values[key] = value;
  }
  const result = schema.safeParse(values);
  if (!result.success) throw new ConsoleError('bad-request', issuesMessage(result.error, 'query'));
  return result.data;
}

/** Reads a JSON body (bounded) and checks it against `schema`. */
export async function readJson<S extends z.ZodType>(req: IncomingMessage, schema: S): Promise<z.infer<S>> {
  const type = req.headers['content-type']?.split(';', 1)[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new ConsoleError('unsupported-media-type', `the request body must be JSON: send Content-Type: application/json (got ${type ?? 'none'})`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ConsoleError('body-too-large', `the request body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new ConsoleError('bad-request', `the request body is not valid JSON: ${(err as Error).message}`);
  }
  const result = schema.safeParse(value);
  if (!result.success) throw new ConsoleError('bad-request', issuesMessage(result.error, 'body'));
  return result.data;
}
