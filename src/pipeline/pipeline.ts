import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { GatehouseError } from '../errors/codes.js';
import type { RequestContext, Stage, StageOutcome } from './context.js';
import type { ExchangeOutcome, Recorder } from '../record/recorder.js';
import type { StreamRecorder } from '../audit/stream.js';
import { loggableUrl } from '../log/url.js';
import type { RequestTrace, RequestTracer, StageSpan } from '../tracing/types.js';

/**
 * Handed to the terminal with each request: how much of the response to keep
 * for the record, and the call that records the exchange. The terminal calls
 * `done` once, before it completes the client's response (or joins an
 * upgrade), and fails the exchange if `done` rejects.
 */
export interface Completion {
  readonly captureBytes: number;
  /** Whether the client may hold the whole answer only once `done` resolved; otherwise it is recorded after. */
  readonly holdsAnswer: boolean;
  done(outcome: ExchangeOutcome): Promise<void>;
  /** A recorder for a watch or log response as chunks; undefined when it is not recorded that way. */
  openStream(): StreamRecorder | undefined;
}

/** What happens after every stage said continue: the request goes upstream. */
export interface Terminal {
  forward(ctx: RequestContext, res: ServerResponse, completion: Completion): Promise<void>;
  forwardUpgrade(ctx: RequestContext, socket: Duplex, head: Buffer, completion: Completion): Promise<void>;
}

const UNRECORDED: Completion = Object.freeze({ captureBytes: 0, holdsAnswer: false, done: () => Promise.resolve(), openStream: () => undefined });

/** Writes a stage's refusal; one responder per transport. */
export interface Responder {
  refuse(ctx: RequestContext, res: ServerResponse, error: GatehouseError): void;
  refuseUpgrade(ctx: RequestContext, socket: Duplex, error: GatehouseError): void;
}

/**
 * Told once per HTTP request when its response closes (finished or cut off),
 * with the status sent: metrics and the access log hang here. Upgrades are not
 * observed here; their exchange is what the recorder sees.
 */
export type RequestObserver = (ctx: RequestContext, status: number) => void;

export interface Pipeline {
  handleRequest(req: IncomingMessage, res: ServerResponse): void;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

/**
 * Composes the request path in one place: the stages run in the order given,
 * each timed (and, with a tracer, traced) the same way, and the first that
 * stops the request decides the answer. Disabled stages are simply not in the
 * list; without a tracer no request carries a span.
 *
 * @example
 * const pipeline = createPipeline([identity, classify], terminal, responder, log);
 * server.on('request', pipeline.handleRequest);
 */
export function createPipeline(
  stages: readonly Stage[],
  terminal: Terminal,
  responder: Responder,
  log: Logger,
  recorder?: Recorder,
  observe?: RequestObserver,
  tracer?: RequestTracer,
): Pipeline {
  const runStages = async (ctx: RequestContext): Promise<GatehouseError | undefined> => {
    // Nothing is even checked while nothing may pass without a record.
    const unrecordable = recorder?.unavailable();
    if (unrecordable) return unrecordable;
    // One clock reading per stage: each stage ends when the next one starts.
    let started = process.hrtime.bigint();
    for (const stage of stages) {
      const span = ctx.trace?.stage(stage.name);
      let outcome: StageOutcome;
      try {
        const pending = stage.run(ctx);
        // A stage that answers at once is not awaited (no extra turn of the microtask queue); anything else is.
        outcome = 'action' in pending ? pending : await pending;
      } catch (err) {
        span?.fail(err);
        // Fail closed: a stage that breaks never lets the request through.
        log.error({ err, requestId: ctx.id, stage: stage.name }, 'pipeline stage failed');
        return new GatehouseError('GH_INTERNAL', `the gateway failed while checking this request (stage ${stage.name}); it was not forwarded`, {
          cause: err,
        });
      } finally {
        const ended = process.hrtime.bigint();
        ctx.timings[stage.name] = Number(ended - started) / 1000;
        started = ended;
      }
      span?.end(outcome.action === 'stop' ? outcome.error : undefined);
      if (outcome.action === 'stop') return outcome.error;
    }
    return undefined;
  };

  const newContext = (req: IncomingMessage, upgrade: boolean): RequestContext => {
    const id = randomUUID();
    return {
      id,
      req,
      upgrade,
      startedAt: process.hrtime.bigint(),
      arrivedMicros: Math.round((performance.timeOrigin + performance.now()) * 1000),
      timings: {},
      trace: tracer?.start(req, id),
    };
  };

  const completionFor = (ctx: RequestContext): Completion =>
    recorder
      ? {
          captureBytes: recorder.responseCaptureLimit(ctx),
          holdsAnswer: recorder.awaitsRecord(ctx),
          done: (outcome) => recorder.record(ctx, outcome),
          openStream: () => recorder.openStream(ctx),
        }
      : UNRECORDED;

  // A refusal is recorded before it is sent; if even that cannot be recorded, the client learns so instead.
  const recordRefusal = async (ctx: RequestContext, error: GatehouseError): Promise<GatehouseError> => {
    if (!recorder) return error;
    const span = ctx.trace?.stage('recording');
    try {
      await recorder.record(ctx, { status: error.httpStatus, code: error.code });
      span?.end();
      return error;
    } catch (err) {
      span?.fail(err);
      log.error({ err, requestId: ctx.id }, 'recording a refusal failed');
      return err instanceof GatehouseError ? err : new GatehouseError('GH_AUDIT_UNAVAILABLE', 'the refusal could not be recorded', { cause: err });
    }
  };

  // The stages, then the store: a request allowed while the store is down is refused, or passes unrecorded (a plain read, if configured).
  const admit = async (ctx: RequestContext): Promise<GatehouseError | Completion> => {
    const refusal = (await runStages(ctx)) ?? recorder?.whileDown(ctx);
    if (refusal instanceof GatehouseError) return recordRefusal(ctx, refusal);
    return refusal === 'unrecorded' ? UNRECORDED : completionFor(ctx);
  };

  const logDone = (ctx: RequestContext, status: number | string): void => {
    if (!log.isLevelEnabled('debug')) return;
    log.debug(
      {
        requestId: ctx.id,
        method: ctx.req.method,
        url: loggableUrl(ctx.req.url),
        verb: ctx.request?.verb,
        subject: ctx.principal?.subject,
        status,
        timings: ctx.timings,
        ms: Number(process.hrtime.bigint() - ctx.startedAt) / 1e6,
      },
      'request',
    );
  };

  return {
    handleRequest(req, res) {
      const ctx = newContext(req, false);
      // No listener for a log level that is off when the request arrives (the check is cheaper than the listener).
      if (log.isLevelEnabled('debug')) res.once('finish', () => logDone(ctx, res.statusCode));
      const trace = ctx.trace;
      if (observe || trace) {
        res.once('close', () => {
          observe?.(ctx, res.statusCode);
          trace?.end(ctx, res.statusCode);
        });
      }
      admit(ctx)
        .then((next) => (next instanceof GatehouseError ? responder.refuse(ctx, res, next) : terminal.forward(ctx, res, traced(ctx, next))))
        .catch((err: unknown) => {
          log.error({ err, requestId: ctx.id }, 'request failed');
          responder.refuse(ctx, res, new GatehouseError('GH_INTERNAL', 'the gateway failed to handle this request', { cause: err }));
        });
    },
    handleUpgrade(req, socket, head) {
      const ctx = newContext(req, true);
      socket.once('close', () => logDone(ctx, 'upgrade-closed'));
      // The status an upgrade came to: its refusal's, or the one its exchange was recorded with (101 once established).
      let status = 0;
      const trace = ctx.trace;
      if (trace) socket.once('close', () => trace.end(ctx, status));
      admit(ctx)
        .then((next) => {
          if (!(next instanceof GatehouseError)) return terminal.forwardUpgrade(ctx, socket, head, traced(ctx, next, (s) => (status = s)));
          status = next.httpStatus;
          responder.refuseUpgrade(ctx, socket, next);
          return undefined;
        })
        .catch((err: unknown) => {
          log.error({ err, requestId: ctx.id }, 'upgrade failed');
          status = 500;
          responder.refuseUpgrade(ctx, socket, new GatehouseError('GH_INTERNAL', 'the gateway failed to handle this request', { cause: err }));
        });
    },
  };
}

/**
 * With a trace, the request going upstream gets its `upstream` span (whose
 * `traceparent` the API server receives) and its recording a `recording` span:
 * the exchange is complete upstream when the terminal records it.
 */
function traced(ctx: RequestContext, completion: Completion, onStatus?: (status: number) => void): Completion {
  const trace = ctx.trace;
  if (!trace) return completion;
  const upstream = trace.stage('upstream');
  upstream.propagate(ctx.req.headers);
  return {
    captureBytes: completion.captureBytes,
    holdsAnswer: completion.holdsAnswer,
    openStream: () => completion.openStream(),
    done: (outcome) => {
      onStatus?.(outcome.status);
      endUpstream(upstream, outcome);
      return recordTraced(trace, () => completion.done(outcome));
    },
  };
}

function endUpstream(span: StageSpan, outcome: ExchangeOutcome): void {
  if (outcome.upstream?.status !== undefined) span.annotate({ 'http.response.status_code': outcome.upstream.status });
  if (outcome.cut) span.annotate({ 'gatehouse.cut_by': outcome.cut });
  if (outcome.code !== undefined) span.annotate({ 'gatehouse.error_code': outcome.code });
  span.end();
}

async function recordTraced(trace: RequestTrace, record: () => Promise<void>): Promise<void> {
  const span = trace.stage('recording');
  try {
    await record();
    span.end();
  } catch (err) {
    span.fail(err);
    throw err;
  }
}
