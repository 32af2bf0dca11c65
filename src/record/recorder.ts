import type { Logger } from 'pino';
import { buildAuditEvent, captureBody } from '../audit/index.js';
import type { AuditEventInput, AuditWriter } from '../audit/index.js';
import { sessionsConfigSchema, whenStoreDownSchema } from '../audit/config.js';
import type { SessionsConfig, WhenStoreDown } from '../audit/config.js';
import type { AuditStreamRef, ExchangeCut } from '../audit/event.js';
import type { StreamRecorder } from '../audit/stream.js';
import { GatehouseError } from '../errors/codes.js';
import type { RequestContext } from '../pipeline/context.js';
import { createOutageTracker } from './outage.js';
import type { SessionTap } from './session-tap.js';

/** How one exchange ended, as the forwarder or responder saw it. */
export interface ExchangeOutcome {
  /** Status the client received (101 for an established upgrade). */
  status: number;
  /** The Gatehouse code when the gateway refused the request itself. */
  code?: string | undefined;
  upstream?: { status?: number | undefined; latencyMs: number; bytesIn: number; bytesOut: number } | undefined;
  /** The response body as the client saw it, when captured (see responseCaptureLimit). */
  responseBody?: { data: Buffer; contentType: string | undefined } | undefined;
  /** The answer did not reach its end: the client went away, or the API server (or the way to it) did. */
  cut?: ExchangeCut | undefined;
  /** Masking replaced at least one value in the response. */
  masked?: boolean | undefined;
  /** An established upgrade: recorded as it flows, and summed up in a second event when it closes. */
  session?: SessionTap | undefined;
  /** A watch or log stream recorded as chunks (see Recorder.openStream), once it ended. */
  stream?: AuditStreamRef | undefined;
}

export interface Recorder {
  /** Before the stages: a refusal when the audit store cannot take events and nothing may pass (`audit.whenStoreDown`). */
  unavailable(): GatehouseError | undefined;
  /**
   * After the stages let the request through: undefined while the store takes
   * events; else its refusal, or `unrecorded` for a plain read that
   * `audit.whenStoreDown.reads: allow-unrecorded` lets pass without an event.
   */
  whileDown(ctx: RequestContext): GatehouseError | 'unrecorded' | undefined;
  /** Reads passed unrecorded so far (for /metrics). */
  unrecordedReads(): number;
  /** Stops the background work (the outage probe); the writer is closed by its owner. */
  close(): void;
  /** How many response bytes to keep for the record (0: none). */
  responseCaptureLimit(ctx: RequestContext): number;
  /** Whether the client's answer waits for `record` (writes, refusals, upgrades; reads with `awaitReads`). */
  awaitsRecord(ctx: RequestContext): boolean;
  /**
   * Records the exchange. Resolves once the event is committed for writes,
   * refusals and upgrades (the client's answer waits for it); reads are
   * recorded in the background unless `awaitReads` is set. With a
   * `session`, its chunks are recorded from then on, and a second event with
   * the stream reference is written when it closes.
   */
  record(ctx: RequestContext, outcome: ExchangeOutcome): Promise<void>;
  /**
   * A recorder for the response of a watch or a pod log as ordered,
   * timestamped chunks (channel `watch` or `log`), or undefined when the
   * request is neither or its bodies are not recorded. The terminal ends it
   * and hands the reference to `record` in `stream`.
   */
  openStream(ctx: RequestContext): StreamRecorder | undefined;
}

const READ_VERBS: ReadonlySet<string> = new Set(['get', 'list', 'watch']);

/** Watches and pod logs (followed or not) are recorded as streams: their answers arrive over time. */
function streamKind(ctx: RequestContext): 'watch' | 'log' | undefined {
  const r = ctx.request;
  if (r === undefined || ctx.upgrade) return undefined;
  if (r.verb === 'watch') return 'watch';
  return r.apiGroup === '' && r.resource === 'pods' && r.subresource === 'log' ? 'log' : undefined;
}
// Until response masking exists, Secret payloads are never copied into the record (request or response).
const UNRECORDED_BODY_RESOURCES: ReadonlySet<string> = new Set(['secrets']);

export interface RecorderOptions {
  writer: AuditWriter;
  maxBodyBytes: number;
  /** Per watch or log stream: recorded bytes past this are dropped and the stream marked truncated (default 64 MiB). */
  maxStreamBytes?: number | undefined;
  awaitReads: boolean;
  /** exec / attach sessions: cap and what happens past it (default: audit.sessions' defaults). */
  sessions?: SessionsConfig | undefined;
  /** What passes while the store is down (default: nothing). */
  whenStoreDown?: WhenStoreDown | undefined;
  log: Logger;
}

/**
 * The recorder: one audit event per request, built from what the stages set
 * (principal, classified request, decision) and how the exchange ended;
 * for an upgrade, a second one when the session closes.
 *
 * @example
 * const recorder = createRecorder({ writer, maxBodyBytes: 65536, awaitReads: false, sessions: config.audit.sessions, whenStoreDown: config.audit.whenStoreDown, log });
 */
export function createRecorder(options: RecorderOptions): Recorder {
  const { writer, log } = options;
  const sessions = options.sessions ?? sessionsConfigSchema.parse(undefined);
  const outage = createOutageTracker({ writer, whenStoreDown: options.whenStoreDown ?? whenStoreDownSchema.parse(undefined), log });
  const bodiesAllowed = (ctx: RequestContext): boolean => !(ctx.request?.apiGroup === '' && UNRECORDED_BODY_RESOURCES.has(ctx.request.resource));
  const isRead = (ctx: RequestContext): boolean => !ctx.upgrade && ctx.request !== undefined && READ_VERBS.has(ctx.request.verb);
  return {
    unavailable: () => outage.refuseEarly(),
    whileDown: (ctx) => outage.whileDown(ctx),
    unrecordedReads: () => outage.unrecordedReads(),
    close: () => outage.close(),
    responseCaptureLimit(ctx) {
      return bodiesAllowed(ctx) ? options.maxBodyBytes : 0;
    },
    awaitsRecord(ctx) {
      return options.awaitReads || !isRead(ctx);
    },
    openStream(ctx) {
      const kind = streamKind(ctx);
      if (kind === undefined || !bodiesAllowed(ctx) || options.maxStreamBytes === 0) return undefined;
      return writer.openStream({ kind, sessionId: ctx.id, maxBytes: options.maxStreamBytes });
    },
    record(ctx, outcome) {
      const withBodies = bodiesAllowed(ctx);
      const event = buildAuditEvent(
        exchangeFacts(ctx, outcome, outcome.stream, {
          request: withBodies && ctx.body ? captureBody(ctx.body, ctx.req.headers['content-type'], options.maxBodyBytes) : undefined,
          response: withBodies && outcome.responseBody ? captureBody(outcome.responseBody.data, outcome.responseBody.contentType, options.maxBodyBytes) : undefined,
          masked: outcome.masked ?? false,
        }),
      );
      const session = outcome.session;
      const background = !session && isRead(ctx) && outcome.code === undefined && outcome.status !== 101 && !options.awaitReads;
      const appended = writer.append(event, { background });
      // Recorded only once the start is: a session that could not start is not recorded either.
      if (session) return appended.then(() => recordSession(ctx, outcome, session));
      if (background) {
        appended.catch((err: unknown) => log.error({ err, requestId: ctx.id }, 'recording a read failed'));
        return Promise.resolve();
      }
      return appended.then(
        () => undefined,
        (err: unknown) => {
          // Forwarded, so it happened: the store failed between the outage check and this append. Keep the event for
          // the store's return (the client gets no answer: its connection is cut).
          if (outcome.upstream !== undefined && err instanceof GatehouseError && err.code === 'GH_AUDIT_UNAVAILABLE') {
            log.warn({ requestId: ctx.id, verb: event.request.verb, path: event.request.path }, 'audit store down after forwarding: the event is kept until the store is back');
            outage.defer(event);
          } else log.error({ err, requestId: ctx.id, forwarded: outcome.upstream !== undefined }, 'recording an exchange failed');
          throw err;
        },
      );
    },
  };

  // The stream's id is the request id, so the start event (which has no stream reference) leads to the chunks too.
  function recordSession(ctx: RequestContext, start: ExchangeOutcome, session: SessionTap): void {
    const kind = ctx.request?.subresource || 'upgrade';
    const stream = writer.openStream({
      kind,
      sessionId: ctx.id,
      maxBytes: sessions.maxBytes,
      // Fail closed: a session whose keystrokes cannot be stored does not go on.
      onError: () => session.endSession(new GatehouseError('GH_AUDIT_UNAVAILABLE', 'the audit store stopped accepting the recording of this session, so the gateway ended it')),
    });
    session.record(stream, sessions.onLimit);
    void session.closed.then(async (end) => {
      let ref: AuditStreamRef;
      try {
        ref = await stream.end();
      } catch (err) {
        log.error({ err, requestId: ctx.id }, 'recording a session failed; its end event says so');
        ref = { sessionId: stream.sessionId, kind, truncated: true };
      }
      const upstream = start.upstream && { ...start.upstream, bytesIn: end.bytesIn, bytesOut: end.bytesOut };
      await writer.append(buildAuditEvent(exchangeFacts(ctx, { ...start, upstream, code: end.endedBy }, ref, { masked: end.masked ?? false })));
    }).catch((err: unknown) => log.error({ err, requestId: ctx.id }, 'recording the end of a session failed'));
  }
}

/**
 * The event's input: who, what, how it ended, and the stream and bodies
 * recorded. One literal, not one spread into another: a copy with more
 * properties added takes V8's slow path, on every request.
 */
function exchangeFacts(ctx: RequestContext, outcome: ExchangeOutcome, stream: AuditStreamRef | undefined, bodies: AuditEventInput['bodies']): AuditEventInput {
  return {
    requestId: ctx.id,
    method: ctx.req.method ?? 'GET',
    path: ctx.req.url ?? '/',
    principal: ctx.principal,
    request: ctx.request,
    decision: ctx.decision,
    shadowDecision: ctx.shadowDecision,
    approval: ctx.approval && { ...ctx.approval.approval, viaGrant: ctx.approval.viaGrant },
    proposal: ctx.proposal,
    clientAddress: ctx.req.socket.remoteAddress ?? 'unknown',
    headers: ctx.req.headers,
    upstream: outcome.upstream,
    result: { status: outcome.status, code: outcome.code, durationMs: Number(process.hrtime.bigint() - ctx.startedAt) / 1e6, cut: outcome.cut },
    stream,
    bodies,
    timeMicros: ctx.arrivedMicros,
  };
}

