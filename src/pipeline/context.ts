import type { IncomingMessage } from 'node:http';
import type { Principal } from '../identity/principal.js';
import type { KubeRequest } from '../classify/kube-request.js';
import type { GatehouseError } from '../errors/codes.js';
import type { Decision } from '../policy/engine.js';
import type { ShadowDecision } from '../policy/shadow.js';
import type { Approval } from '../approvals/types.js';
import type { RequestTrace } from '../tracing/types.js';

/**
 * The state of one request as it moves through the pipeline. Each field is
 * written by exactly one stage (noted beside it) and only read by later ones.
 */
export interface RequestContext {
  readonly id: string;
  readonly req: IncomingMessage;
  /** True when the client asked for a protocol upgrade (exec, attach, port-forward). */
  readonly upgrade: boolean;
  /** process.hrtime.bigint() when the request arrived. */
  readonly startedAt: bigint;
  /** Wall-clock arrival time in microseconds since the epoch, for the record. */
  readonly arrivedMicros: number;
  /** identity */
  principal?: Principal;
  /** route: the named cluster the request goes to (its `/clusters/<name>` prefix is gone from req.url by then). */
  cluster?: string;
  /** classify */
  request?: KubeRequest;
  /** classify: the request body, read (bounded) only when a later stage needs it. */
  body?: Buffer;
  /** policy: the outcome for this request and the rules behind it. */
  decision?: Decision;
  /** policy: what the shadow policy would have decided, when one is configured; recorded only. */
  shadowDecision?: ShadowDecision;
  /** approval: the approval a `review` request went through, as it stood when the stage let it go or stopped it. */
  approval?: { approval: Approval; viaGrant: boolean };
  /** propose: the proposal this write became (`proposed`), or the one it applies (`applied`). */
  proposal?: { id: string; action: 'proposed' | 'applied' };
  /** pipeline: time spent in each stage, in microseconds. */
  readonly timings: Record<string, number>;
  /** pipeline: the request's spans, when tracing is on. */
  readonly trace?: RequestTrace | undefined;
}

export type StageOutcome = { readonly action: 'continue' } | { readonly action: 'stop'; readonly error: GatehouseError };

export const CONTINUE: StageOutcome = Object.freeze({ action: 'continue' });

export function stop(error: GatehouseError): StageOutcome {
  return { action: 'stop', error };
}

/** One concern of the request path (identity, classify, policy…), built once from config. */
export interface Stage {
  readonly name: string;
  run(ctx: RequestContext): StageOutcome | Promise<StageOutcome>;
}
