import { GatehouseError } from '../errors/codes.js';
import { CONTINUE, stop } from '../pipeline/context.js';
import type { RequestContext, Stage, StageOutcome } from '../pipeline/context.js';

const REFUSED = new GatehouseError(
  'GH_IMPERSONATION_REFUSED',
  'the request carries Impersonate-* headers (kubectl --as/--as-group); the gateway acts only as the identity you signed in with, so remove them and retry',
);

/**
 * Refuses client impersonation on resource requests. The headers never reach
 * the upstream either way (the forwarder drops them); refusing, rather than
 * silently running the request as the gateway's identity, keeps the caller
 * from believing it acted as someone else. Discovery and other non-resource
 * reads pass, so kubectl gets far enough to print this message instead of
 * failing discovery with a bare "unknown".
 *
 * @example
 * const stages = [identity, classify, createImpersonationGuard()];
 */
export function createImpersonationGuard(): Stage {
  return {
    name: 'impersonation',
    run(ctx: RequestContext): StageOutcome {
      if (ctx.request?.isResourceRequest === false && (ctx.req.method === 'GET' || ctx.req.method === 'HEAD')) return CONTINUE;
      for (const name in ctx.req.headers) if (name.startsWith('impersonate-')) return stop(REFUSED);
      return CONTINUE;
    },
  };
}
