import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { ClientOptions } from 'ws';
import { createTunnelSession } from '../../../src/tunnel/session.js';
import type { TunnelSession, TunnelSessionOptions } from '../../../src/tunnel/session.js';

export interface WsPair {
  /** The gateway's end (the server side) and the agent's (the client side). */
  gatewayWs: WebSocket;
  agentWs: WebSocket;
  close(): Promise<void>;
}

export interface SessionPair extends WsPair {
  gateway: TunnelSession;
  agent: TunnelSession;
}

type SideOptions = Omit<TunnelSessionOptions, 'side'>;

/** Two real WebSockets joined over 127.0.0.1. */
export async function wsPair(clientOptions: ClientOptions = {}): Promise<WsPair> {
  const { server, port } = await listen();
  const accepted = new Promise<WebSocket>((resolve) => server.once('connection', resolve));
  const agentWs = new WebSocket(`ws://127.0.0.1:${port}`, { maxPayload: 1 << 20, ...clientOptions });
  await new Promise<void>((resolve, reject) => {
    agentWs.once('open', resolve);
    agentWs.once('error', reject);
  });
  const gatewayWs = await accepted;
  return {
    gatewayWs,
    agentWs,
    close: async () => {
      gatewayWs.terminate();
      agentWs.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A {@link wsPair} with a real session on each end. */
export async function sessionPair(options: { gateway?: SideOptions; agent?: SideOptions } = {}): Promise<SessionPair> {
  const pair = await wsPair();
  return {
    ...pair,
    gateway: createTunnelSession(pair.gatewayWs, { side: 'gateway', ...options.gateway }),
    agent: createTunnelSession(pair.agentWs, { side: 'agent', ...options.agent }),
  };
}

async function listen(): Promise<{ server: WebSocketServer; port: number }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 1 << 20 });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/**
 * Reads a stream to its end, returning its byte count and SHA-256. Unlike
 * `for await`, it leaves the stream open: a duplex may still be writing.
 */
export function digest(stream: Readable): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  return new Promise((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    stream.once('end', () => resolve({ bytes, sha256: hash.digest('hex') }));
    stream.once('error', reject);
  });
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Writes `data` in `chunk`-sized writes honouring backpressure, then ends. */
export async function writeAll(stream: NodeJS.WritableStream, data: Buffer, chunk = 256 * 1024): Promise<void> {
  for (let offset = 0; offset < data.length; offset += chunk) {
    if (!stream.write(data.subarray(offset, offset + chunk))) await new Promise((resolve) => stream.once('drain', resolve));
  }
  await new Promise<void>((resolve) => stream.end(resolve));
}

/** The next event, as a promise. */
export function next<T = unknown>(emitter: NodeJS.EventEmitter, event: string): Promise<T> {
  return new Promise((resolve) => emitter.once(event, (value: T) => resolve(value)));
}
