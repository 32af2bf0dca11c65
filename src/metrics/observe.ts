/**
 * Joins the request observers (metrics, access log) into the one hook the
 * pipeline calls, and lets the recorder report what only it sees: upgrades
 * and the upstream's latency.
 *
 * @module
 */

import type { RequestContext } from '../pipeline/context.js';
import type { RequestObserver } from '../pipeline/pipeline.js';
import type { Recorder } from '../record/recorder.js';
import type { GatewayMetrics } from './metrics.js';

/**
 * The pipeline's observer, or undefined when nothing observes (then the
 * pipeline adds no listener at all).
 *
 * @example
 * const observe = requestObserver(metrics, config.log.access ? accessLogger(log) : undefined);
 */
export function requestObserver(metrics: GatewayMetrics | undefined, access: RequestObserver | undefined): RequestObserver | undefined {
  if (metrics && access) {
    return (ctx, status) => {
      metrics.observeRequest(ctx, status);
      access(ctx, status);
    };
  }
  return metrics ? (ctx, status) => metrics.observeRequest(ctx, status) : access;
}

/**
 * Wraps the recorder so the observer also hears about upgrades (once, when
 * the exchange starts or is refused: the pipeline's hook only sees HTTP
 * responses) and metrics get the upstream latency.
 *
 * @example
 * const recorder = observedRecorder(createRecorder(options), metrics, observe);
 */
export function observedRecorder(recorder: Recorder, metrics: GatewayMetrics | undefined, observe: RequestObserver | undefined): Recorder {
  if (!metrics && !observe) return recorder;
  return {
    ...recorder,
    record(ctx: RequestContext, outcome) {
      if (metrics && outcome.upstream) metrics.observeUpstream(ctx, outcome.upstream.latencyMs);
      if (observe && ctx.upgrade) observe(ctx, outcome.status);
      return recorder.record(ctx, outcome);
    },
  };
}
