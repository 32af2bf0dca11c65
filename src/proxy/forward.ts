import type { ServerResponse } from 'node:http';
import type { Readable, Transform } from 'node:stream';
import type { RequestContext } from '../pipeline/context.js';
import type { Upstream, UpstreamResponse } from '../upstream/client.js';
import { clientResponseHeaders, keepBodyDelimited, upstreamRequestHeaders } from './headers.js';
import { respondWithStatus } from './respond.js';
import { armUpstreamTimeouts, upstreamFailure } from './upstream-errors.js';
import type { ForwardOptions } from './upstream-errors.js';
import { GatehouseError } from '../errors/codes.js';
import type { Completion } from '../pipeline/pipeline.js';
import type { ExchangeOutcome } from '../record/recorder.js';
import type { AuditStreamRef, ExchangeCut } from '../audit/event.js';
import type { StreamRecorder } from '../audit/stream.js';
import { addImpersonation } from './impersonation.js';
import { maskPlanFor, masksAnswer, requestHeadersForMasking } from './mask-response.js';
import { createBodyMaskStream } from '../masking/index.js';
import type { MaskReport } from '../masking/index.js';
import { maskerForPod } from './pod-secrets.js';
import { statusFor } from '../kube/status.js';
import { closeAfter, isHttp2 } from '../pipeline/http2-compat.js';

/**
 * Forwards one ordinary (non-upgrade) request to the upstream and streams the
 * response back: chunked lists, watches and `logs -f` flow through as the
 * upstream sends them. A body the classify stage already read is sent from
 * memory; otherwise the client's body is piped. The response is completed
 * only after the exchange is recorded (completion.done), so a client never
 * receives the end of a write the record does not hold; a read recorded in
 * the background (`holdsAnswer` false) is answered first.
 */
export async function forwardRequest(
  ctx: RequestContext,
  res: ServerResponse,
  upstream: Upstream,
  options: ForwardOptions,
  completion: Completion,
): Promise<void> {
  const { req } = ctx;
  const headers = upstreamRequestHeaders(req.headers, false);
  if (options.impersonate) addImpersonation(headers, ctx);
  const masking = masksAnswer(ctx.decision);
  if (masking) {
    // Fail closed: a mask decision with no masker configured must never forward the raw answer.
    if (!options.masker) throw new Error('policy decided to mask, and the gateway has no masker');
    requestHeadersForMasking(headers);
  }
  // How the body goes: read already (sent with its length), none at all, or streamed from the client.
  if (ctx.body !== undefined) {
    delete headers['transfer-encoding'];
    headers['content-length'] = ctx.body.length;
  }
  const streamed = ctx.body === undefined && keepBodyDelimited(headers, req);
  const sentAt = process.hrtime.bigint();
  let bytesIn = ctx.body?.length ?? 0;
  let bytesOut = 0;
  let finished = false;
  const finish = (outcome: ExchangeOutcome): Promise<void> => {
    if (finished) return Promise.resolve();
    finished = true;
    return completion.done(outcome);
  };
  // A read recorded in the background (not a watch or log, whose record ends with its stream) promises the client
  // nothing about its record, so its answer ends before the audit event is built: for a small GET that work no
  // longer delays the last bytes. Anything else is answered once recorded.
  const answersFirst = (): boolean => !completion.holdsAnswer && stream === undefined;
  /** Ends the answer and records the exchange, in the order {@link answersFirst} says; `failed` when a record the answer waits for fails. */
  const answerAndRecord = (answer: () => void, record: () => Promise<void>, failed: (err: unknown) => void): void => {
    if (!answersFirst()) {
      record().then(answer, failed);
      return;
    }
    answer();
    record().catch(() => undefined); // the recorder logs a read it could not record
  };
  const upstreamFacts = (status: number | undefined): NonNullable<ExchangeOutcome['upstream']> => ({
    status,
    latencyMs: Number(process.hrtime.bigint() - sentAt) / 1e6,
    bytesIn,
    bytesOut,
  });

  // A pod's log is also searched for the values of the Secrets the pod uses.
  let masker = masking ? options.masker : undefined;
  if (masker && ctx.request?.resource === 'pods' && ctx.request.subresource === 'log' && ctx.request.apiGroup === '') {
    try {
      masker = await maskerForPod(masker, upstream, ctx.request.namespace, ctx.request.name);
    } catch (err) {
      await refuseAfterRecording(ctx, res, err as GatehouseError, finish);
      return;
    }
  }

  let upReq;
  try {
    upReq = await upstream.request({ method: req.method ?? 'GET', path: req.url ?? '/', headers, multiplexed: req.httpVersionMajor === 2 });
  } catch (err) {
    await refuseAfterRecording(ctx, res, upstreamFailure(err, upstream), finish);
    return;
  }
  armUpstreamTimeouts(upReq, options.timeouts, upstream);

  let stream: StreamRecorder | undefined;
  // Ends the stream's recording once; a recording that failed is reported as cut short rather than failing the answer.
  const endStream = async (): Promise<AuditStreamRef | undefined> => {
    const s = stream;
    stream = undefined;
    return s?.end().catch((): AuditStreamRef => ({ sessionId: s.sessionId, kind: ctx.request?.verb === 'watch' ? 'watch' : 'log', truncated: true }));
  };
  // Whether the masking stream relaying the answer replaced anything yet; undefined while none relays it.
  let maskedSoFar: () => boolean | undefined = () => undefined;
  // A client that goes away (Ctrl-C on `get -w`, an HTTP/2 stream reset) must free the upstream watch; the record
  // says it was cut short. Only end() tells a complete answer from a cut one on both protocols: a reset HTTP/2
  // response reports itself finished and not destroyed.
  let clientGone = false;
  // Whom the record names when the answer ends early: the client, unless the gateway dropped the client itself
  // because the upstream broke off mid-answer.
  let cutBy: ExchangeCut = 'client';
  const abortUpstream = (): void => {
    clientGone = true;
    if (res.writableEnded) return;
    upReq.destroy();
    void endStream()
      .then((ref) => finish({ status: res.statusCode, cut: cutBy, upstream: upstreamFacts(res.statusCode), stream: ref, masked: maskedSoFar() }))
      .catch(() => undefined);
  };
  res.once('close', abortUpstream);

  upReq.on('response', (upRes: UpstreamResponse) => {
    const status = upRes.statusCode ?? 502;
    if (status === 401) upstream.invalidateCredential();
    // Only successful answers carry objects; errors are Status objects and pass as they are.
    const plan = masker && status >= 200 && status < 300 ? maskPlanFor(ctx, upRes.headers, masker) : undefined;
    if (plan === 'refuse') {
      upRes.resume();
      void refuseAfterRecording(ctx, res, unmaskable(upRes.headers['content-type']), finish);
      return;
    }
    const headers = clientResponseHeaders(upRes.headers);
    if (plan) delete headers['content-length'];
    // Masking has its own span (inside `upstream`): from the first byte of the answer to the last one masked.
    let maskSpan = plan ? ctx.trace?.stage('masking') : undefined;
    const maskingEnded = (report: MaskReport | undefined, err?: Error): void => {
      const span = maskSpan;
      maskSpan = undefined;
      if (!span) return;
      if (report) span.annotate({ 'gatehouse.masked_values': report.masked });
      if (err) span.fail(err);
      else span.end();
    };

    if (plan?.kind === 'document') {
      // Masking starts with the first byte, so the gateway works while the API server still sends (a LIST of
      // thousands of Secrets arrives over tens of ms). Its output is held while the answer and the output fit
      // plan.inMemoryBytes: a small answer is then sent with its length, and one that cannot be masked is still a
      // clean Status. A larger one streams on.
      const masking = createBodyMaskStream(masker!);
      const held: Buffer[] = [];
      let size = 0;
      let answered = 0;
      const countAnswer = (chunk: Buffer): void => {
        answered += chunk.length;
      };
      upRes.on('data', countAnswer);
      const onData = (chunk: Buffer): void => {
        held.push(chunk);
        size += chunk.length;
        if (size <= plan.inMemoryBytes && answered <= plan.inMemoryBytes) return;
        upRes.off('data', countAnswer);
        masking.off('data', onData);
        masking.off('end', onEnd);
        masking.off('error', onError);
        relayBody(masking, masking, held);
      };
      const onEnd = (): void => {
        const body = Buffer.concat(held, size);
        const report = masking.report();
        maskingEnded(report);
        bytesOut = body.length;
        const kept = completion.captureBytes > 0 ? body.subarray(0, completion.captureBytes) : undefined;
        answerAndRecord(
          () => {
            res.writeHead(status, { ...headers, 'content-length': body.length });
            res.end(body);
          },
          () =>
            finish({
              status,
              upstream: upstreamFacts(status),
              responseBody: kept ? { data: kept, contentType: upRes.headers['content-type'] } : undefined,
              masked: report.masked > 0,
            }),
          (err) => respondWithStatus(res, err instanceof GatehouseError ? err : unmaskable(undefined), ctx.id),
        );
      };
      // Not the masker's message (it may describe the body): what could not be masked, as before.
      const onError = (err: Error): void => {
        maskingEnded(undefined, err);
        void refuseAfterRecording(ctx, res, unmaskable(upRes.headers['content-type']), finish);
      };
      masking.on('data', onData);
      masking.once('end', onEnd);
      masking.once('error', onError);
      upRes.once('error', (err) => masking.destroy(err));
      upRes.pipe(masking);
      return;
    }
    relayBody(plan ? upRes.pipe(plan.transform) : upRes, plan?.transform, []);

    /** Streams `source` (the answer, or `masking` it is piped through) to the client, after `alreadyOut` it gave before. */
    function relayBody(source: Readable, masking: (Transform & { report(): MaskReport }) | undefined, alreadyOut: Buffer[]): void {
      res.writeHead(status, headers);
      if (masking) maskedSoFar = () => masking.report().masked > 0;
      // Send headers now when the body may take its time (a watch may not produce a byte for minutes). A body of
      // known length is already on its way: its headers leave with its first bytes, one write instead of two.
      if (headers['content-length'] === undefined) res.flushHeaders();
      // A watch or log is recorded as timestamped chunks of what the client saw; anything else keeps its first bytes.
      stream = status >= 200 && status < 300 ? completion.openStream() : undefined;
      const channel = ctx.request?.verb === 'watch' ? 'watch' : 'log';
      const captured: Buffer[] = [];
      let capturedBytes = 0;
      // Whether what the client got so far ends with a whole line: a JSON watch event ends with one.
      let atLineEnd = true;
      const sent = (chunk: Buffer): void => {
        bytesOut += chunk.length;
        if (chunk.length > 0) atLineEnd = chunk[chunk.length - 1] === 0x0a;
        if (stream) stream.write(channel, chunk);
        else if (capturedBytes < completion.captureBytes) {
          captured.push(chunk);
          capturedBytes += chunk.length;
        }
      };
      for (const chunk of alreadyOut) {
        sent(chunk);
        res.write(chunk); // only a masked answer has output already, and it has no length: piped below
      }
      source.on('data', sent);
      // A body of known length is complete for the client with its last byte, before res.end(): hold that byte back
      // until the exchange is recorded, so no client ever holds an answer the record lacks (kill -9 included).
      // Chunked bodies (watches, logs) are complete only with the terminating chunk res.end() sends. An answer
      // recorded after the fact (a read, unless audit.awaitReads) keeps its last chunk for res.end(): an end() with
      // nothing left to send costs an empty write on the client's socket, a syscall per GET.
      let held: Buffer | undefined;
      if (headers['content-length'] === undefined) source.pipe(res, { end: false });
      else {
        source.on('data', (chunk: Buffer) => {
          if (chunk.length === 0) return;
          let out: Buffer | undefined;
          if (!completion.holdsAnswer) {
            out = held;
            held = chunk;
          } else {
            out = held === undefined ? chunk.subarray(0, -1) : Buffer.concat([held, chunk.subarray(0, -1)]);
            held = chunk.subarray(-1);
          }
          if (out !== undefined && out.length > 0 && !res.write(out)) {
            source.pause();
            res.once('drain', () => source.resume());
          }
        });
      }
      source.once('end', () => {
        if (masking) maskingEnded(masking.report());
        const responseBody = captured.length > 0 ? { data: Buffer.concat(captured), contentType: upRes.headers['content-type'] } : undefined;
        const masked = maskedSoFar();
        answerAndRecord(
          () => res.end(held),
          () => endStream().then((ref) => finish({ status, upstream: upstreamFacts(status), responseBody, masked, stream: ref })),
          () => res.destroy(),
        );
      });
      const watchJson = ctx.request?.verb === 'watch' && (upRes.headers['content-type'] ?? '').startsWith('application/json');
      // A JSON watch cut off upstream (the API server or a cluster agent's tunnel went away) between events ends
      // with an ERROR event and a clean end, which kubectl reports and informers answer by watching again; anything
      // else, a watch cut in the middle of an event included, is cut.
      let wasCut = false;
      const cut = (err: Error): void => {
        if (wasCut || res.writableEnded || clientGone) return;
        wasCut = true;
        if (masking) maskingEnded(masking.report(), err);
        if (!watchJson || !stream || !atLineEnd) {
          cutBy = 'upstream';
          res.destroy();
          return;
        }
        const lost = upstreamFailure(err, upstream);
        const error = new GatehouseError(lost.code, `the watch was cut off: ${lost.message}; watch again`, { retryAfterSeconds: lost.retryAfterSeconds });
        const event = Buffer.from(`${JSON.stringify({ type: 'ERROR', object: statusFor(error) })}\n`);
        source.unpipe(res);
        stream.write(channel, event);
        res.off('close', abortUpstream);
        void endStream().then((ref) =>
          finish({ status, cut: 'upstream', upstream: upstreamFacts(status), stream: ref, masked: maskedSoFar() }).then(
            () => res.end(event),
            () => res.destroy(),
          ),
        );
      };
      cutShort = cut;
      source.once('error', cut);
      upRes.once('error', cut);
      upRes.once('aborted', () => cut(new Error('the API server closed the connection')));
    }
  });
  // Until the response arrives, a lost stream is an ordinary upstream failure.
  let cutShort: ((err: Error) => void) | undefined;
  upReq.on('error', (err) => {
    if (cutShort) cutShort(err);
    else if (res.headersSent) {
      cutBy = 'upstream';
      res.destroy();
    } else {
      res.off('close', abortUpstream);
      // A body left half read would be parsed as the connection's next request: an HTTP/1.1 client is told to close
      // it. (An HTTP/2 stream ends with its answer; the others on the connection are not concerned.)
      if (streamed && !req.readableEnded && !isHttp2(req)) closeAfter(res);
      void refuseAfterRecording(ctx, res, upstreamFailure(err, upstream), finish);
    }
  });

  if (ctx.body !== undefined) upReq.end(ctx.body);
  else if (!streamed) {
    // Nothing came and nothing will (a GET, mostly): sent now, not a tick later through a pipe built for a body.
    upReq.end();
    req.resume();
  } else {
    req.on('data', (chunk: Buffer) => (bytesIn += chunk.length));
    req.pipe(upReq);
  }
}

function unmaskable(what: string | undefined): GatehouseError {
  return new GatehouseError('GH_MASKING_FAILED', `the response must be masked and could not be (${what ?? 'unknown content'}), so it was withheld`);
}

/** A refusal after the stages (the upstream could not be used, a malformed review): record it, then answer with the Status (or with the recording failure). */
export async function refuseAfterRecording(ctx: RequestContext, res: ServerResponse, error: GatehouseError, finish: (o: ExchangeOutcome) => Promise<void>): Promise<void> {
  try {
    await finish({ status: error.httpStatus, code: error.code });
    respondWithStatus(res, error, ctx.id);
  } catch (err) {
    respondWithStatus(res, err instanceof GatehouseError ? err : error, ctx.id);
  }
}
