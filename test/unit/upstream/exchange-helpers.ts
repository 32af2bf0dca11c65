import { createServer as createNetServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import type { UpstreamRequest, UpstreamResponse } from '../../../src/upstream/exchange.js';

/** The answer a request's `response` brings, or its `error`. */
export function responseOf(req: UpstreamRequest): Promise<UpstreamResponse> {
  return new Promise((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
}

export async function bodyOf(res: UpstreamResponse): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

export async function waitFor(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

/** A server that accepts TCP connections and never says a word (no TLS handshake); `cleanups` get its closing. */
export async function silentServerPort(cleanups: Array<() => unknown>): Promise<number> {
  const held: Socket[] = [];
  const silent = createNetServer((socket) => held.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => silent.close(resolve)));
  cleanups.push(() => held.forEach((socket) => socket.destroy()));
  return (silent.address() as AddressInfo).port;
}
