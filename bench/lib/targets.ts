/**
 * The ways to reach the API server, behind one client so every side is
 * measured with the same code: keep-alive undici pools, HTTP/1.1, one request
 * per connection at a time.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:http2';
import type { ClientHttp2Session } from 'node:http2';
import { Pool } from 'undici';

export type TargetName = 'direct' | 'gateway' | 'proxy' | 'node-proxy' | 'gateway-pg';

/** Where one side listens and how it is authenticated. */
export interface Target {
  readonly name: TargetName;
  /** `https://127.0.0.1:port` (direct, gateway, node-proxy) or `http://…` (kubectl proxy). */
  readonly origin: string;
  readonly caPem: string | undefined;
  /** Bearer token; undefined for kubectl proxy and node-proxy, which add their own credential. */
  readonly token: string | undefined;
  /** Process whose memory or CPU is reported (the gateway, kubectl proxy, node-proxy); undefined for the API server itself. */
  readonly pid: number | undefined;
}

export interface Client {
  readonly target: Target;
  /** One request; resolves with status and the whole body once it has arrived. */
  request(path: string, init?: { method?: string; body?: string }): Promise<{ status: number; body: Buffer }>;
  close(): Promise<void>;
}

/** A pool of `connections` keep-alive connections to the target. */
export function clientFor(target: Target, connections = 1): Client {
  const pool = new Pool(target.origin, {
    connections,
    pipelining: 1,
    connect: target.caPem === undefined ? {} : { ca: target.caPem },
    // Watches idle for long; the harness decides when they end.
    bodyTimeout: 0,
  });
  const baseHeaders: Record<string, string> = { accept: 'application/json' };
  if (target.token !== undefined) baseHeaders.authorization = `Bearer ${target.token}`;
  const jsonHeaders = { ...baseHeaders, 'content-type': 'application/json' };
  return {
    target,
    async request(path, init = {}) {
      const res = await pool.request({
        path,
        method: init.method ?? 'GET',
        headers: init.body === undefined ? baseHeaders : jsonHeaders,
        body: init.body,
      });
      return { status: res.statusCode, body: Buffer.from(await res.body.arrayBuffer()) };
    },
    close: () => pool.close(),
  };
}

/**
 * Opens a streaming GET (a watch); `onChunk` sees the body as it arrives,
 * `onClosed` is told if the server ends or breaks it before we close it.
 */
export async function openStream(
  pool: Pool,
  target: Target,
  path: string,
  onChunk: (chunk: Buffer) => void,
  onClosed: () => void = () => undefined,
): Promise<() => void> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (target.token !== undefined) headers.authorization = `Bearer ${target.token}`;
  const res = await pool.request({ path, method: 'GET', headers });
  if (res.statusCode !== 200) throw new Error(`${target.name} ${path}: HTTP ${res.statusCode} ${await res.body.text()}`);
  let closing = false;
  res.body.on('data', onChunk);
  const closed = (): void => {
    if (!closing) onClosed();
    closing = true;
  };
  res.body.once('end', closed);
  // The stream also errors when we close it; only an error before that is the server's doing.
  res.body.on('error', closed);
  return () => {
    closing = true;
    res.body.destroy();
  };
}

/** Opens one streaming GET; resolves with its closer once the answer began. See {@link openStream}. */
export type StreamOpener = (path: string, onChunk: (chunk: Buffer) => void, onClosed?: () => void) => Promise<() => void>;

/**
 * Streaming GETs over HTTP/2, as client-go's transport sends them: streams of
 * one connection until it carries as many as the server allows (its SETTINGS),
 * then another connection.
 */
export function http2Streams(target: Target): { open: StreamOpener; close(): void } {
  const sessions: { session: ClientHttp2Session; streams: number; limit: Promise<number> }[] = [];
  const connection = (): (typeof sessions)[number] => {
    // client-go's flow-control windows (golang.org/x/net/http2's Transport): 4 MiB per stream, 1 GiB per connection,
    // not Node's 64 KiB, with which a burst to 250 watches on one connection would wait on WINDOW_UPDATEs.
    const session = connect(target.origin, { ...(target.caPem === undefined ? {} : { ca: target.caPem }), settings: { initialWindowSize: 4 << 20 } });
    session.once('connect', () => session.setLocalWindowSize(1 << 30));
    const limit = new Promise<number>((resolve, reject) => {
      session.once('remoteSettings', (settings: { maxConcurrentStreams?: number }) => resolve(settings.maxConcurrentStreams ?? 100));
      session.once('error', reject);
    });
    const entry = { session, streams: 0, limit };
    sessions.push(entry);
    return entry;
  };
  // Takes a place on a connection in the same turn as it looks, so callers opening at once never overfill one.
  const withRoom = async (): Promise<(typeof sessions)[number]> => {
    for (const entry of sessions) {
      const limit = await entry.limit;
      if (entry.streams < limit) {
        entry.streams += 1;
        return entry;
      }
    }
    const entry = connection();
    entry.streams += 1;
    return entry;
  };
  return {
    async open(path, onChunk, onClosed = () => undefined) {
      const entry = await withRoom();
      const headers: Record<string, string> = { ':path': path, accept: 'application/json' };
      if (target.token !== undefined) headers.authorization = `Bearer ${target.token}`;
      const stream = entry.session.request(headers);
      stream.end();
      const status = await new Promise<number>((resolve, reject) => {
        stream.once('response', (h) => resolve(Number(h[':status'])));
        stream.once('error', reject);
      });
      if (status !== 200) throw new Error(`${target.name} ${path}: HTTP ${status}`);
      let closing = false;
      stream.on('data', onChunk);
      stream.once('close', () => {
        entry.streams -= 1;
        if (!closing) onClosed();
        closing = true;
      });
      return () => {
        closing = true;
        stream.close();
      };
    },
    close() {
      for (const { session } of sessions) session.destroy();
    },
  };
}

/** A dedicated pool for many long-lived streams to one target. */
export function streamPool(target: Target, connections: number): Pool {
  return new Pool(target.origin, { connections, pipelining: 1, connect: target.caPem === undefined ? {} : { ca: target.caPem }, bodyTimeout: 0, headersTimeout: 60_000 });
}

/** A thread's CPU time so far, in ms: the first field of its `schedstat` file, nanoseconds on a CPU. */
function schedstatMs(path: string): number {
  return Number(readFileSync(path, 'utf8').split(' ')[0]) / 1e6;
}

/** CPU time of a process's main thread so far, in ms. */
export function mainThreadCpuMs(pid: number): number {
  return schedstatMs(`/proc/${pid}/schedstat`);
}

/** CPU time of every thread of a process but its main thread so far, in ms. */
export function otherThreadsCpuMs(pid: number): number {
  let ms = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    if (tid === String(pid)) continue;
    // A thread may end between the listing and the read.
    try {
      ms += schedstatMs(`/proc/${pid}/task/${tid}/schedstat`);
    } catch {
      continue;
    }
  }
  return ms;
}

/** The fields of `/proc/<pid>/stat` after the command name (which may hold spaces): state, ppid, pgrp… */
function statFields(pid: number | string): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** utime + stime of stat fields, in ms (10 ms ticks): every thread's, those that ended included. */
function cpuMsOf(fields: readonly string[]): number {
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** CPU time of a whole process so far (every thread, user and system), in ms (`/proc/<pid>/stat`, 10 ms ticks). */
export function processCpuMs(pid: number): number {
  return cpuMsOf(statFields(pid));
}

/**
 * CPU time so far of every process in these process groups, in ms, from one
 * pass over /proc: the harness runs each control-plane binary in a group of
 * its own, under a watchdog.
 */
export function groupCpuMs(...pgids: number[]): number {
  let ms = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    // A process may end between the listing and the read.
    try {
      const fields = statFields(entry);
      if (pgids.includes(Number(fields[2]))) ms += cpuMsOf(fields);
    } catch {
      continue;
    }
  }
  return ms;
}

/** Resident and peak resident memory of a process, in MB (Linux /proc). */
export function memoryOf(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

/** Resets the process's peak RSS to its current RSS, so the next peak belongs to what follows ("5": proc(5), clear_refs). */
export function resetPeak(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}
