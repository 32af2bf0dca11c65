import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { GatehouseError } from '../errors/codes.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Completion } from '../pipeline/pipeline.js';
import type { PolicyHandle } from '../policy/model.js';
import { refuseAfterRecording } from '../proxy/forward.js';
import { respondWithStatus } from '../proxy/respond.js';
import { ProtobufError } from '../kube/protobuf.js';
import {
  accessQuestionOf,
  accessReviewFromProtobuf,
  accessStatusOf,
  decideAttributes,
  selfReviewOf,
  selfSubjectAccessReview,
  selfSubjectReview,
  selfSubjectRulesReview,
} from './self-review.js';

export interface SelfReviewOptions {
  /** The policy in force (read once per review). */
  policy: PolicyHandle;
  /** Labels of a namespace of the request's cluster, as the policy stage looks them up. */
  namespaceLabels: (namespace: string, ctx: RequestContext) => Promise<Readonly<Record<string, string>> | undefined>;
  /**
   * The gateway impersonates its callers: the API server then answers whoami
   * for the caller itself (with what it adds, such as `system:authenticated`).
   */
  impersonate: boolean;
}

/** Answers the request when it is a self review the gateway answers, else hands it to `forward`. */
export type SelfReviewTerminal = (ctx: RequestContext, res: ServerResponse, completion: Completion, forward: () => Promise<void>) => Promise<void>;

/**
 * The terminal for self reviews (see self-review.ts): answered here and
 * recorded like any exchange, or forwarded when the cluster has the last word.
 *
 * @example
 * const reviews = createSelfReviews({ policy, namespaceLabels, impersonate: false });
 * forward: (ctx, res, completion) => reviews(ctx, res, completion, () => forwardRequest(ctx, res, upstream, options, completion)),
 */
export function createSelfReviews(options: SelfReviewOptions): SelfReviewTerminal {
  return async (ctx, res, completion, forward) => {
    const request = ctx.request;
    const kind = selfReviewOf(request);
    if (kind === undefined || request === undefined || ctx.principal === undefined) return forward();
    if (kind === 'user') return options.impersonate ? forward() : answer(ctx, res, completion, selfSubjectReview(request, ctx.principal));
    if (kind === 'rules') return answer(ctx, res, completion, selfSubjectRulesReview(request));
    let review: unknown;
    let question;
    try {
      // JSON is decoded by classify; kubectl sends protobuf.
      review = request.object ?? accessReviewFromProtobuf(ctx.body ?? Buffer.alloc(0));
      question = accessQuestionOf(review);
    } catch (err) {
      const problem = err instanceof z.ZodError ? z.prettifyError(err).replaceAll('\n', '; ') : err instanceof ProtobufError ? err.message : undefined;
      if (problem === undefined) throw err;
      return refuseAfterRecording(ctx, res, new GatehouseError('GH_BAD_REQUEST_BODY', `the SelfSubjectAccessReview is malformed: ${problem}`), (o) => completion.done(o));
    }
    if (!question.ok) return answer(ctx, res, completion, selfSubjectAccessReview(request, review, { allowed: false, reason: question.reason }));
    let decided;
    try {
      decided = await decideAttributes(options.policy.current(), question.request, ctx.principal, (ns) => options.namespaceLabels(ns, ctx));
    } catch (err) {
      const error =
        err instanceof GatehouseError
          ? err
          : new GatehouseError('GH_POLICY_UNAVAILABLE', `the gateway could not get what policy needs to answer this review (${(err as Error).message}); retry shortly`, { cause: err, retryAfterSeconds: 5 });
      return refuseAfterRecording(ctx, res, error, (o) => completion.done(o));
    }
    const status = accessStatusOf(decided);
    if (status === undefined) return forward();
    return answer(ctx, res, completion, selfSubjectAccessReview(request, review, status));
  };
}

/** Records the exchange, then sends the review (201, as the API server answers a create). */
async function answer(ctx: RequestContext, res: ServerResponse, completion: Completion, review: Record<string, unknown>): Promise<void> {
  const data = Buffer.from(JSON.stringify(review));
  const kept = completion.captureBytes > 0 ? { data: data.subarray(0, completion.captureBytes), contentType: 'application/json' } : undefined;
  try {
    await completion.done({ status: 201, responseBody: kept });
  } catch (err) {
    respondWithStatus(res, err instanceof GatehouseError ? err : new GatehouseError('GH_AUDIT_UNAVAILABLE', 'the review could not be recorded'), ctx.id);
    return;
  }
  res.writeHead(201, { 'content-type': 'application/json', 'content-length': data.length, 'cache-control': 'no-cache, private' });
  res.end(data);
}
