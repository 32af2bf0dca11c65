import type { Logger } from 'pino';
import { buildAuditEvent, captureBody } from '../audit/index.js';
import type { AuditWriter } from '../audit/index.js';
import { GatehouseError } from '../errors/codes.js';
import type { RequestContext } from '../pipeline/context.js';

/** How one exchange ended, as the forwarder or responder saw it. */
export interface ExchangeOutcome {
  /** Status the client received (101 for an established upgrade). */
  status: number;
  /** The Gatehouse code when the gateway refused the request itself. */
  code?: string | undefined;
  upstream?: { status?: number | undefined; latencyMs: number; bytesIn: number; bytesOut: number } | undefined;
  /** The response body as the client saw it, when captured (see responseCaptureLimit). */
  responseBody?: { data: Buffer; contentType: string | undefined } | undefined;
  /** The client went away before the response was complete. */
  aborted?: boolean | undefined;
  /** Masking replaced at least one value in the response. */
  masked?: boolean | undefined;
}

export interface Recorder {
  /** A refusal when the audit store cannot take events: requests then fail closed, before anything is forwarded. */
  unavailable(): GatehouseError | undefined;
  /** How many response bytes to keep for the record (0: none). */
  responseCaptureLimit(ctx: RequestContext): number;
  /**
   * Records the exchange. Resolves once the event is committed for writes,
   * refusals and upgrades (the client's answer waits for it); reads are
   * recorded in the background unless `awaitReads` is set.
   */
  record(ctx: RequestContext, outcome: ExchangeOutcome): Promise<void>;
}

const READ_VERBS: ReadonlySet<string> = new Set(['get', 'list', 'watch']);
// Until response masking exists, Secret payloads are never copied into the record (request or response).
const UNRECORDED_BODY_RESOURCES: ReadonlySet<string> = new Set(['secrets']);

/**
 * The recorder: one audit event per request, built from what the stages set
 * (principal, classified request, decision) and how the exchange ended.
 *
 * @example
 * const recorder = createRecorder({ writer, maxBodyBytes: 65536, awaitReads: false, log });
 */
export function createRecorder(options: { writer: AuditWriter; maxBodyBytes: number; awaitReads: boolean; log: Logger }): Recorder {
  const { writer, log } = options;
  const bodiesAllowed = (ctx: RequestContext): boolean => !(ctx.request?.apiGroup === '' && UNRECORDED_BODY_RESOURCES.has(ctx.request.resource));
  return {
    unavailable() {
      return writer.stats().healthy
        ? undefined
        : new GatehouseError('GH_AUDIT_UNAVAILABLE', 'the audit store is not accepting records, so the gateway forwards nothing; retry shortly', {
            retryAfterSeconds: 1,
          });
    },
    responseCaptureLimit(ctx) {
      return bodiesAllowed(ctx) ? options.maxBodyBytes : 0;
    },
    record(ctx, outcome) {
      const withBodies = bodiesAllowed(ctx);
      const event = buildAuditEvent({
        requestId: ctx.id,
        method: ctx.req.method ?? 'GET',
        path: ctx.req.url ?? '/',
        principal: ctx.principal,
        request: ctx.request,
        decision: ctx.decision,
        clientAddress: ctx.req.socket.remoteAddress ?? 'unknown',
        headers: ctx.req.headers,
        upstream: outcome.upstream,
        result: { status: outcome.status, code: outcome.code, durationMs: Number(process.hrtime.bigint() - ctx.startedAt) / 1e6 },
        bodies: {
          request: withBodies && ctx.body ? captureBody(ctx.body, ctx.req.headers['content-type'], options.maxBodyBytes) : undefined,
          response: withBodies && outcome.responseBody ? captureBody(outcome.responseBody.data, outcome.responseBody.contentType, options.maxBodyBytes) : undefined,
          masked: outcome.masked ?? false,
        },
        timeMicros: ctx.arrivedMicros,
      });
      const appended = writer.append(event);
      const isRead = ctx.request !== undefined && READ_VERBS.has(ctx.request.verb) && outcome.code === undefined && outcome.status !== 101;
      if (isRead && !options.awaitReads) {
        appended.catch((err: unknown) => log.error({ err, requestId: ctx.id }, 'recording a read failed'));
        return Promise.resolve();
      }
      return appended.then(() => undefined);
    },
  };
}

