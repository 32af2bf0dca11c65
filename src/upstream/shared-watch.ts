/**
 * One upstream watch for many identical client watches, as kube-apiserver's
 * watch cache serves many watchers from one etcd watch. Clients that watch
 * the same collection from the same resourceVersion, with the same selectors
 * and content type, get the events of one stream to the API server: every
 * event crosses the network and the gateway once instead of once per client,
 * and the API server keeps one watcher instead of hundreds.
 *
 * A client that joins later first gets every chunk the shared watch has
 * answered so far, then the live ones: what a watch of its own from that
 * resourceVersion would have answered. So only watches from an exact
 * resourceVersion share (not "" or "0", whose answer depends on when they
 * start, and not `sendInitialEvents`), and a shared watch takes new clients
 * only while what it answered is small and recent ({@link WatchSharingOptions}).
 * Each client's `timeoutSeconds` is kept by the gateway, which ends that
 * client's answer cleanly when it runs out, as the API server would; the
 * shared upstream watch carries none and lasts as long as the API server
 * lets it.
 *
 * Nothing upstream waits for a slow client: a client that falls more than
 * `maxBehindBytes` behind is cut off (the forwarder then ends its JSON watch
 * with an ERROR event, and client-go watches again), as the API server drops
 * watchers whose buffer fills.
 *
 * @module
 */
import { STATUS_CODES } from 'node:http';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { Readable, Writable } from 'node:stream';
import { isWatchUrl } from '../kube/streaming-url.js';
import type { UpstreamRequest, UpstreamResponse } from './exchange.js';

export interface WatchSharingOptions {
  /** A shared watch takes new clients only while what it answered so far fits here (default 1 MiB). */
  maxReplayBytes?: number;
  /** …and only for this long after it started (default 60 s). */
  maxReplayAgeMs?: number;
  /** What all shared watches of one upstream keep for later clients together (default 16 MiB); past it, they take none. */
  maxReplayBytesTotal?: number;
  /** A client this far behind the shared watch is cut off (default 16 MiB). */
  maxBehindBytes?: number;
}

/** How many shared upstream watches there are, and how many client watches they serve. */
export interface WatchSharingStats {
  upstreams: number;
  clients: number;
}

export interface WatchSharing {
  /**
   * A client's view of the shared watch for this request, opening it with
   * `open` when none can take the client; undefined when the request is not
   * one that can share (the caller then sends it on its own).
   */
  request(method: string, path: string, headers: OutgoingHttpHeaders, open: (path: string) => Promise<UpstreamRequest>, multiplexed?: boolean): UpstreamRequest | undefined;
  stats(): WatchSharingStats;
}

// Request headers that never change what the API server answers: per-request ids, tracing, who the client is.
const IRRELEVANT_HEADERS: ReadonlySet<string> = new Set([
  'user-agent',
  'audit-id',
  'x-request-id',
  'traceparent',
  'tracestate',
  'baggage',
  'kubectl-command',
  'kubectl-session',
  'accept-language',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
]);

const MAX_TIMER_MS = 2 ** 31 - 1;

/** What a watch request shares on: everything but its timeout; undefined when it cannot share. */
interface Shareable {
  key: string;
  /** The path sent upstream: the client's, without `timeoutSeconds`. */
  upstreamPath: string;
  /** The client's own timeout in ms; undefined for none. */
  timeoutMs: number | undefined;
}

/**
 * Whether a watch request can share an upstream watch, and on what key.
 *
 * @example
 * shareableWatch('GET', '/api/v1/namespaces/a/pods?watch=1&resourceVersion=42&timeoutSeconds=300', {})
 * // { key: 'GET /api/v1/namespaces/a/pods?resourceVersion=42&watch=1\n', upstreamPath: '/api/v1/namespaces/a/pods?watch=1&resourceVersion=42', timeoutMs: 300000 }
 */
export function shareableWatch(method: string, path: string, headers: OutgoingHttpHeaders): Shareable | undefined {
  if (method !== 'GET' || !isWatchUrl(path)) return undefined;
  const q = path.indexOf('?');
  if (q < 0) return undefined;
  const kept: string[] = [];
  let resourceVersion: string | undefined;
  let timeoutMs: number | undefined;
  for (const part of path.slice(q + 1).split('&')) {
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    let value: string;
    try {
      value = decodeURIComponent((eq < 0 ? '' : part.slice(eq + 1)).replace(/\+/g, ' '));
    } catch {
      return undefined;
    }
    if (name === 'timeoutSeconds') {
      // What the API server would refuse, it refuses itself: such a request goes on its own.
      if (!/^\d{1,9}$/.test(value) || timeoutMs !== undefined) return undefined;
      // Beyond what a timer holds (~24 days) it is no limit: the API server ends its watches sooner.
      const ms = Number(value) * 1000;
      timeoutMs = ms > 0 && ms <= MAX_TIMER_MS ? ms : undefined;
      continue;
    }
    if (name === 'resourceVersion') {
      if (resourceVersion !== undefined) return undefined;
      resourceVersion = value;
    }
    // Its answer begins with the state when it starts, which a later client would not get from a replay.
    if (name === 'sendInitialEvents') return undefined;
    kept.push(part);
  }
  if (resourceVersion === undefined || resourceVersion === '' || resourceVersion === '0') return undefined;
  const relevant: string[] = [];
  for (const name in headers) {
    const value = headers[name];
    const lower = name.toLowerCase();
    if (value === undefined || IRRELEVANT_HEADERS.has(lower)) continue;
    relevant.push(`${lower}: ${Array.isArray(value) ? value.join(', ') : String(value)}`);
  }
  const upstreamPath = `${path.slice(0, q)}?${kept.join('&')}`;
  const key = `GET ${path.slice(0, q)}?${[...kept].sort().join('&')}\n${relevant.sort().join('\n')}`;
  return { key, upstreamPath, timeoutMs };
}

const DEFAULT_MAX_REPLAY_BYTES = 1024 * 1024;
const DEFAULT_MAX_REPLAY_AGE_MS = 60_000;
const DEFAULT_MAX_REPLAY_BYTES_TOTAL = 16 * 1024 * 1024;
const DEFAULT_MAX_BEHIND_BYTES = 16 * 1024 * 1024;
/**
 * How many bytes of one chunk's copies go to HTTP/2 clients per turn of the
 * event loop. What every stream of a connection was given in one turn leaves
 * in one write, which Node copies whole before encrypting it: the
 * benchmark's burst (events of ~3 KB to 1 000 clients on four connections)
 * made writes of up to 3.6 MB each, and left the gateway ~16 MB larger than
 * with this limit. A client on a connection of its own (HTTP/1.1) writes
 * alone and gets each chunk at once: paced, its delivery was slower.
 */
const FAN_OUT_BYTES_PER_TURN = 256 * 1024;

/**
 * Creates the sharing of one upstream's watches.
 *
 * @example
 * const sharing = createWatchSharing();
 * const req = sharing.request('GET', path, headers, (p) => pool.request('GET', p, headers)) ?? (await ownRequest());
 */
export function createWatchSharing(options: WatchSharingOptions = {}): WatchSharing {
  const limits: Limits = {
    replayBytes: options.maxReplayBytes ?? DEFAULT_MAX_REPLAY_BYTES,
    replayAgeMs: options.maxReplayAgeMs ?? DEFAULT_MAX_REPLAY_AGE_MS,
    behindBytes: options.maxBehindBytes ?? DEFAULT_MAX_BEHIND_BYTES,
  };
  const budget = options.maxReplayBytesTotal ?? DEFAULT_MAX_REPLAY_BYTES_TOTAL;
  const joinable = new Map<string, SharedWatch>();
  const live = new Set<SharedWatch>();
  let kept = 0;
  const events: SharingEvents = {
    keep(bytes) {
      if (kept + bytes > budget) return false;
      kept += bytes;
      return true;
    },
    released(bytes) {
      kept -= bytes;
    },
    closed(shared) {
      if (joinable.get(shared.key) === shared) joinable.delete(shared.key);
    },
    gone(shared) {
      live.delete(shared);
    },
  };
  return {
    request(method, path, headers, open, multiplexed = false) {
      const shareable = shareableWatch(method, path, headers);
      if (shareable === undefined) return undefined;
      let shared = joinable.get(shareable.key);
      if (shared === undefined) {
        shared = new SharedWatch(shareable.key, limits, events);
        joinable.set(shareable.key, shared);
        live.add(shared);
        shared.start(open(shareable.upstreamPath));
      }
      return shared.join(shareable.timeoutMs, multiplexed);
    },
    stats() {
      let clients = 0;
      for (const shared of live) clients += shared.clients;
      return { upstreams: live.size, clients };
    },
  };
}

interface Limits {
  replayBytes: number;
  replayAgeMs: number;
  behindBytes: number;
}

/** What a shared watch asks and tells its sharing: may it keep more for later clients; it let go of some; it takes no more clients; it is over. */
interface SharingEvents {
  keep(bytes: number): boolean;
  released(bytes: number): void;
  closed(shared: SharedWatch): void;
  gone(shared: SharedWatch): void;
}

interface Answer {
  statusCode: number;
  statusMessage: string;
  headers: IncomingHttpHeaders;
}

/** One upstream watch and the clients it serves. */
class SharedWatch {
  private readonly views = new Set<WatchClient>();
  private upstream: UpstreamRequest | undefined;
  private answer: Answer | undefined;
  /** Every chunk answered so far, for clients that join later; emptied once it takes no more clients. */
  private replay: Buffer[] = [];
  private replayBytes = 0;
  private open = true;
  private over = false;
  private readonly ageTimer: NodeJS.Timeout;
  /** What waits for a chunk still on its way to the clients: the upstream's end or failure (in order, after it). */
  private afterFanOut: (() => void)[] | undefined;
  /** How many of the clients are streams of HTTP/2 connections. */
  private multiplexed = 0;

  constructor(
    readonly key: string,
    private readonly limits: Limits,
    private readonly events: SharingEvents,
  ) {
    this.ageTimer = setTimeout(() => this.closeToClients(), limits.replayAgeMs);
    this.ageTimer.unref();
  }

  get clients(): number {
    return this.views.size;
  }

  /** No client joins any more: the replay is no longer needed (the clients have theirs). */
  private closeToClients(): void {
    if (!this.open) return;
    this.open = false;
    clearTimeout(this.ageTimer);
    this.events.released(this.replayBytes);
    this.replay = [];
    this.replayBytes = 0;
    this.events.closed(this);
  }

  start(opening: Promise<UpstreamRequest>): void {
    opening.then(
      (upstream) => {
        if (this.over) {
          upstream.destroy();
          return;
        }
        this.upstream = upstream;
        upstream.on('response', (res: UpstreamResponse) => this.answered(res));
        upstream.on('error', (err: Error) => this.failed(err));
        upstream.end();
      },
      (err: unknown) => this.failed(err instanceof Error ? err : new Error(String(err))),
    );
  }

  join(timeoutMs: number | undefined, multiplexed: boolean): WatchClient {
    const view = new WatchClient(this, timeoutMs, this.limits.behindBytes, multiplexed);
    if (multiplexed) this.multiplexed += 1;
    this.views.add(view);
    // A late client gets what was answered so far now, and hears of its answer once the caller has its listeners
    // on the request, as with a request of its own.
    if (this.answer !== undefined) view.answered(this.answer, this.replay, true);
    return view;
  }

  /** A client left (its answer ended or was abandoned): the last one takes the upstream watch with it. */
  leave(view: WatchClient): void {
    if (!this.views.delete(view)) return;
    if (view.multiplexed) this.multiplexed -= 1;
    if (this.views.size > 0) return;
    this.finish();
    this.upstream?.destroy();
  }

  private answered(res: UpstreamResponse): void {
    const answer: Answer = { statusCode: res.statusCode ?? 502, statusMessage: res.statusMessage ?? STATUS_CODES[res.statusCode ?? 502] ?? '', headers: res.headers };
    this.answer = answer;
    // Only a watch that is on takes later clients; a refusal (410 Gone, 403…) goes to those already waiting.
    if (answer.statusCode !== 200) this.closeToClients();
    for (const view of this.views) view.answered(answer, this.replay, false);
    res.on('data', (chunk: Buffer) => {
      if (this.open) {
        if (this.replayBytes + chunk.length > this.limits.replayBytes || !this.events.keep(chunk.length)) this.closeToClients();
        else {
          this.replay.push(chunk);
          this.replayBytes += chunk.length;
        }
      }
      this.fanOut(res, chunk);
    });
    res.once('end', () =>
      this.whenFannedOut(() => {
        this.finish();
        for (const view of [...this.views]) view.ended();
      }),
    );
    res.once('aborted', () => this.whenFannedOut(() => this.failed(new Error('the API server closed the connection'), true)));
    res.on('error', (err: Error) => this.whenFannedOut(() => this.failed(err)));
  }

  /**
   * Gives `chunk` to every client: at once to those on connections of their
   * own, {@link FAN_OUT_BYTES_PER_TURN} at a time to HTTP/2 streams. The
   * upstream answer is paused meanwhile, so chunks reach each client in
   * order. A client that joins meanwhile has the chunk in its replay.
   */
  private fanOut(res: UpstreamResponse, chunk: Buffer): void {
    const perTurn = Math.max(1, Math.floor(FAN_OUT_BYTES_PER_TURN / Math.max(1, chunk.length)));
    if (this.multiplexed <= perTurn) {
      for (const view of this.views) view.chunk(chunk);
      return;
    }
    const views: WatchClient[] = [];
    for (const view of this.views) {
      if (view.multiplexed) views.push(view);
      else view.chunk(chunk);
    }
    let next = 0;
    this.afterFanOut = [];
    res.pause();
    const turn = (): void => {
      const end = Math.min(next + perTurn, views.length);
      for (; next < end; next++) {
        const view = views[next]!;
        if (this.views.has(view)) view.chunk(chunk);
      }
      if (next < views.length) {
        setImmediate(turn);
        return;
      }
      const waiting = this.afterFanOut ?? [];
      this.afterFanOut = undefined;
      for (const then of waiting) then();
      if (!this.over) this.carryOn(res);
    };
    turn();
  }

  /**
   * Lets the answer flow again after a paced fan-out. What it buffered
   * meanwhile (events of a burst come faster than they reach a thousand
   * clients) goes out first as one chunk: `read()` hands it to the `data`
   * listener whole, so each client gets one write and records one chunk for
   * what would have been many.
   */
  private carryOn(res: UpstreamResponse): void {
    if (res.readableLength > 0) res.read();
    if (this.afterFanOut === undefined && !this.over) res.resume();
  }

  private whenFannedOut(then: () => void): void {
    if (this.afterFanOut === undefined) then();
    else this.afterFanOut.push(then);
  }

  private failed(err: Error, aborted = false): void {
    if (this.over) return;
    this.finish();
    for (const view of [...this.views]) view.failed(err, aborted);
  }

  private finish(): void {
    if (this.over) return;
    this.over = true;
    this.closeToClients();
    this.events.gone(this);
  }
}

/**
 * One client's watch on a shared one: the request the forwarder writes to
 * (a GET: nothing) and abandons with destroy(), emitting `response` with its
 * own {@link WatchAnswer}.
 */
class WatchClient extends Writable {
  private response: WatchAnswer | undefined;
  /** Whether the caller was given the answer (`response` emitted): until then a failure is the request's. */
  private told = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly shared: SharedWatch,
    private readonly timeoutMs: number | undefined,
    private readonly behindBytes: number,
    /** The client is a stream of an HTTP/2 connection (see FAN_OUT_BYTES_PER_TURN). */
    readonly multiplexed: boolean,
  ) {
    super({ autoDestroy: false });
  }

  answered(answer: Answer, replay: readonly Buffer[], later: boolean): void {
    if (this.destroyed || this.response !== undefined) return;
    const response = new WatchAnswer(answer, () => this.leave());
    this.response = response;
    for (const chunk of replay) response.push(chunk);
    if (this.timeoutMs !== undefined) {
      // The client's own timeout: a clean end, as the API server ends a watch whose time is up.
      this.timer = setTimeout(() => this.ended(), this.timeoutMs);
      this.timer.unref();
    }
    const tell = (): void => {
      if (this.destroyed) return;
      this.told = true;
      this.emit('response', response);
    };
    if (later) setImmediate(tell);
    else tell();
  }

  chunk(data: Buffer): void {
    const response = this.response;
    if (response === undefined || response.destroyed) return;
    response.push(data);
    if (response.readableLength > this.behindBytes) this.failed(new Error(`the client fell more than ${this.behindBytes} bytes behind the watch`), false);
  }

  ended(): void {
    this.leave();
    if (this.response && !this.response.destroyed) this.response.push(null);
  }

  failed(err: Error, aborted: boolean): void {
    this.leave();
    if (!this.told) {
      this.destroy(err);
      return;
    }
    const response = this.response!;
    if (response.destroyed) return;
    if (aborted) response.emit('aborted');
    response.destroy(err);
  }

  private leave(): void {
    clearTimeout(this.timer);
    this.shared.leave(this);
  }

  // A body on a watch (a GET) means nothing to the API server, which ignores it; so does a shared watch.
  override _write(_chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.leave();
    this.response?.destroy();
    callback(err);
  }
}

/** A client's answer: the shared watch's status and headers, and its chunks from the first. */
class WatchAnswer extends Readable implements UpstreamResponse {
  readonly statusCode: number;
  readonly statusMessage: string;
  readonly headers: IncomingHttpHeaders;

  constructor(
    answer: Answer,
    private readonly abandoned: () => void,
  ) {
    super();
    this.statusCode = answer.statusCode;
    this.statusMessage = answer.statusMessage;
    this.headers = { ...answer.headers };
  }

  // Chunks are pushed as the shared watch gets them; a client that does not read falls behind (see maxBehindBytes).
  override _read(): void {}

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.abandoned();
    callback(err);
  }
}
