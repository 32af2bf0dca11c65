/**
 * The tap on an upgraded connection (exec, attach, port-forward): the proxy
 * hands it every chunk it forwards, and it turns what it can read into
 * stream chunks — WebSocket `channel.k8s.io` messages, or the SPDY/3.1
 * streams named by their `streamType` header, as stdin, stdout, stderr, error
 * and resize. It never changes a forwarded byte; it only decides, when the
 * gateway ends a session, where the forwarding stops.
 *
 * The proxy creates the tap and passes it to the recorder with the 101
 * outcome; the recorder attaches a {@link StreamRecorder} (or nothing, when
 * nothing is recorded) and waits for {@link SessionTap.closed}.
 *
 * @module
 */

import type { IncomingHttpHeaders } from 'node:http';
import type { StreamRecorder } from '../audit/stream.js';
import { GatehouseError } from '../errors/codes.js';
import { statusFor } from '../kube/status.js';
import { dataFrame, FLAG_FIN, SpdyFrameReader } from './spdy-frames.js';
import type { SpdySink } from './spdy-frames.js';
import { serverFrame, WebSocketFrameReader } from './websocket-frames.js';
import type { FrameSink } from './websocket-frames.js';

/**
 * How a session's bytes can be read: WebSocket `channel.k8s.io` messages,
 * SPDY/3.1 streams (`version`: the negotiated `X-Stream-Protocol-Version`),
 * or not at all.
 */
export type SessionFraming =
  | { readonly kind: 'channels'; readonly version: number }
  | { readonly kind: 'spdy'; readonly version: number }
  | { readonly kind: 'opaque'; readonly why: string };

/** What the limit does: keep the session and stop recording, or end the session. */
export type SessionLimitAction = 'stop-recording' | 'end-session';

export interface SessionEnd {
  /** Bytes forwarded client → API server, and API server → client. */
  bytesIn: number;
  bytesOut: number;
  /** Set when the gateway ended the session (cap reached, store failing). */
  endedBy?: string | undefined;
  /** True when the gateway masked values in the session's output (exec or attach under a `mask` decision). */
  masked?: boolean | undefined;
}

export interface SessionTap {
  readonly framing: SessionFraming;
  /** A chunk from the client; returns how many of its bytes to forward (0 once the gateway ends the session). */
  readonly fromClient: (chunk: Buffer) => number;
  /** A chunk from the API server; returns how many of its bytes to forward (fewer while the session is being ended). */
  readonly fromUpstream: (chunk: Buffer) => number;
  /** Both sides closed; `masked` when the output was masked on its way (recorded with the session's end). */
  close(masked?: boolean): void;
  /** Records the session into `stream`; `onLimit` applies when the stream's cap is reached. */
  record(stream: StreamRecorder, onLimit: SessionLimitAction): void;
  /** Ends the session (as for the cap) — e.g. when its chunks cannot be stored. */
  endSession(error: GatehouseError): void;
  /** Settles when the proxy closed both sides. */
  readonly closed: Promise<SessionEnd>;
}

export interface SessionTapOptions {
  framing: SessionFraming;
  /** Ends the session: writes `farewell` (if any) to the client and closes both sides (after a moment for the client to read it). */
  end(farewell: Buffer | undefined): void;
  /** How long an ending waits for the API server's frame in flight to finish before closing without a farewell (default 2000 ms). */
  graceMs?: number;
}

const CHANNEL_SUBPROTOCOL = /^(?:v([2-5])\.)?channel\.k8s\.io$/;
// channel.k8s.io: the first byte of each message names the stream; 255 (v5 close) is not recorded.
const CHANNELS: readonly (string | undefined)[] = ['stdin', 'stdout', 'stderr', 'error', 'resize'];
const ERROR_CHANNEL = 3;
const WS_BINARY = 0x2;
const WS_CLOSE = 0x8;
const CLOSE_NORMAL = 1000;

/**
 * Reads the framing from the API server's 101 answer.
 *
 * @example
 * sessionFraming('exec', { upgrade: 'websocket', 'sec-websocket-protocol': 'v5.channel.k8s.io' }); // { kind: 'channels', version: 5 }
 */
export function sessionFraming(subresource: string, headers: IncomingHttpHeaders): SessionFraming {
  if (subresource === 'portforward') return { kind: 'opaque', why: 'port-forward: only the byte counts are recorded, not the forwarded contents' };
  const upgrade = headers.upgrade?.toLowerCase() ?? '';
  if (upgrade === 'spdy/3.1') {
    const negotiated = headerValue(headers['x-stream-protocol-version']);
    const v = CHANNEL_SUBPROTOCOL.exec(negotiated);
    // No version negotiated: client-go speaks the original (v1) protocol.
    if (negotiated !== '' && !v) return { kind: 'opaque', why: `the SPDY stream protocol "${negotiated}" is not decoded; only the byte counts are recorded` };
    return { kind: 'spdy', version: v?.[1] === undefined ? 1 : Number(v[1]) };
  }
  if (upgrade !== 'websocket') return { kind: 'opaque', why: `the ${upgrade || 'unknown'} protocol is not decoded; only the byte counts are recorded` };
  const subprotocol = headers['sec-websocket-protocol']?.trim() ?? '';
  const m = CHANNEL_SUBPROTOCOL.exec(subprotocol);
  if (!m) return { kind: 'opaque', why: `the WebSocket subprotocol "${subprotocol}" is not decoded; only the byte counts are recorded` };
  return { kind: 'channels', version: m[1] === undefined ? 1 : Number(m[1]) };
}

function headerValue(value: string | string[] | undefined): string {
  return (Array.isArray(value) ? value[0] : value)?.trim() ?? '';
}

/** What the tap needs of a frame reader (WebSocket or SPDY). */
interface FrameReader {
  push(chunk: Buffer, stopAt?: () => boolean): number;
  readonly failure: string | undefined;
  readonly atFrameBoundary: boolean;
}

interface Direction {
  readonly name: string;
  readonly reader: FrameReader;
  broken: boolean;
}

/**
 * @example
 * const tap = createSessionTap({ framing: sessionFraming('exec', upRes.headers), end: (farewell) => closeBoth(farewell) });
 * await completion.done({ status: 101, session: tap });
 * upSocket.on('data', (chunk) => clientSocket.write(chunk.subarray(0, tap.fromUpstream(chunk))));
 */
export function createSessionTap(options: SessionTapOptions): SessionTap {
  const { framing } = options;
  let stream: StreamRecorder | undefined;
  let endOnLimit = false;
  let bytesIn = 0;
  let bytesOut = 0;
  let ending: GatehouseError | undefined;
  let ended = false;
  let grace: NodeJS.Timeout | undefined;
  let settle!: (end: SessionEnd) => void;
  const closed = new Promise<SessionEnd>((resolve) => (settle = resolve));

  const write = (channel: string, data: Buffer): void => {
    if (!stream || stream.truncated) return;
    stream.write(channel, data);
    if (stream.truncated && endOnLimit) {
      endSession(new GatehouseError('GH_SESSION_LIMIT', `the session's output reached the gateway's recording cap, so the gateway ended the session`));
    }
  };
  // SPDY: the channel of each stream id (streams are opened by the client), and the streams the API server finished.
  const streams = new Map<number, string>();
  const upstreamFinished = new Set<number>();
  const reader = (fromUpstream: boolean): FrameReader | undefined => {
    if (framing.kind === 'channels') return new WebSocketFrameReader(channelSink(write));
    if (framing.kind === 'spdy') return new SpdyFrameReader(spdySink(write, streams, fromUpstream ? upstreamFinished : undefined));
    return undefined;
  };
  const direction = (name: string, fromUpstream: boolean): Direction | undefined => {
    const r = reader(fromUpstream);
    return r && { name, reader: r, broken: false };
  };
  const client = direction('client', false);
  const upstream = direction('API server', true);

  // Never throws into the data path: a failure marks the recording and the bytes keep flowing.
  const read = (d: Direction, chunk: Buffer, stopAt?: () => boolean): number => {
    if (d.broken) return chunk.length;
    let n = chunk.length;
    let failure: string | undefined;
    try {
      n = d.reader.push(chunk, stopAt);
      failure = d.reader.failure;
    } catch (err) {
      failure = err instanceof Error ? err.message : String(err);
    }
    if (failure !== undefined) {
      d.broken = true;
      stream?.mark(`undecodable: what the ${d.name} sent from here on could not be decoded (${failure}); it was forwarded unrecorded`);
    }
    return n;
  };

  const finish = (): void => {
    if (ended || !ending) return;
    ended = true;
    clearTimeout(grace);
    const atBoundary = upstream !== undefined && !upstream.broken && upstream.reader.atFrameBoundary;
    if (!atBoundary) return options.end(undefined);
    if (framing.kind === 'channels') return options.end(farewell(framing.version, ending));
    options.end(framing.kind === 'spdy' ? spdyFarewell(framing.version, ending, streams, upstreamFinished) : undefined);
  };
  // Waits until the bytes forwarded so far end on a frame boundary, so the farewell frame splits nothing.
  const finishWhenAligned = (): void => {
    if (!upstream || upstream.broken || upstream.reader.atFrameBoundary) queueMicrotask(finish);
  };

  const endSession = (error: GatehouseError): void => {
    if (ending || ended) return;
    ending = error;
    stream?.mark(`the gateway ended the session: ${error.message}`);
    grace = setTimeout(finish, options.graceMs ?? 2000);
    grace.unref();
    finishWhenAligned();
  };

  return {
    framing,
    fromClient(chunk) {
      // Once the gateway ends the session, nothing more reaches the API server.
      if (ending) return 0;
      bytesIn += chunk.length;
      if (client && stream && !stream.truncated) read(client, chunk);
      return chunk.length;
    },
    fromUpstream(chunk) {
      if (ended) return 0;
      // Kept in step even past the cap, so an ending can find a frame boundary.
      const n = upstream && stream ? read(upstream, chunk, () => ending !== undefined) : chunk.length;
      bytesOut += n;
      if (ending) finishWhenAligned();
      return n;
    },
    close(masked) {
      clearTimeout(grace);
      ended = true;
      settle({ bytesIn, bytesOut, endedBy: ending?.code, masked });
    },
    record(recorder, onLimit) {
      stream = recorder;
      endOnLimit = onLimit === 'end-session';
      if (framing.kind === 'opaque') recorder.mark(framing.why);
    },
    endSession,
    closed,
  };
}

/** channel.k8s.io: the first payload byte of each message names its stream. */
function channelSink(write: (channel: string, data: Buffer) => void): FrameSink {
  let channel: string | undefined;
  let first = false;
  return {
    messageStart() {
      first = true;
    },
    payload(data) {
      let rest = data;
      if (first) {
        first = false;
        channel = CHANNELS[data[0]!];
        rest = data.subarray(1);
      }
      if (channel !== undefined && rest.length > 0) write(channel, rest);
    },
  };
}

/** SPDY: data frames on a stream whose `streamType` is a channel are recorded on it; others (and unnamed ids) are not. */
function spdySink(write: (channel: string, data: Buffer) => void, streams: Map<number, string>, finished: Set<number> | undefined): SpdySink {
  return {
    streamOpened(streamId, headers) {
      const type = headers.get('streamtype');
      if (type !== undefined && CHANNELS.includes(type)) streams.set(streamId, type);
    },
    data(streamId, data) {
      const channel = streams.get(streamId);
      if (channel !== undefined && data.length > 0) write(channel, data);
    },
    finished(streamId) {
      finished?.add(streamId);
    },
  };
}

/** What the error channel says when the gateway ends a session: v4+ a Status (JSON), before that plain text. */
function errorMessage(version: number, error: GatehouseError): string {
  return version >= 4 ? JSON.stringify(statusFor(error)) : error.message;
}

/**
 * What the client is told when the gateway ends a session: a Status on the
 * error channel (v4+: JSON), then a normal close — client-go reads the
 * error stream to its end, and only a normal closure ends it cleanly, so
 * kubectl prints the Status.
 */
function farewell(version: number, error: GatehouseError): Buffer {
  const message = errorMessage(version, error);
  const close = Buffer.alloc(2);
  close.writeUInt16BE(CLOSE_NORMAL);
  return Buffer.concat([serverFrame(WS_BINARY, Buffer.concat([Buffer.from([ERROR_CHANNEL]), Buffer.from(message)])), serverFrame(WS_CLOSE, close)]);
}

/**
 * The SPDY farewell: the message on the error stream, then FIN on it and on
 * stdout/stderr — client-go waits for stdout and stderr to end, then returns
 * what the error stream said, so kubectl prints it. Without an open error
 * stream there is nowhere to say it: the sides are just closed.
 */
function spdyFarewell(version: number, error: GatehouseError, streams: ReadonlyMap<number, string>, finished: ReadonlySet<number>): Buffer | undefined {
  const open = [...streams].filter(([id]) => !finished.has(id));
  const errorStream = open.find(([, channel]) => channel === 'error');
  if (!errorStream) return undefined;
  const frames = [dataFrame(errorStream[0], Buffer.from(errorMessage(version, error)), FLAG_FIN)];
  for (const [id, channel] of open) if (channel === 'stdout' || channel === 'stderr') frames.push(dataFrame(id, Buffer.alloc(0), FLAG_FIN));
  return Buffer.concat(frames);
}
