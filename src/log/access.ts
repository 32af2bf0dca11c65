import type { Logger } from 'pino';
import type { RequestContext } from '../pipeline/context.js';
import { loggableUrl } from './url.js';

/**
 * One info line per request (`log.access`): who asked for what, what policy
 * decided and how it ended, under the request id that is also the response's
 * `Audit-Id` and the audit record's `requestId`. Never headers, bodies or
 * query values, so no token or masked value can reach the log.
 *
 * @example
 * const logAccess = accessLogger(log);
 * logAccess(ctx, 200); // {"msg":"access","requestId":"…","method":"GET","http":"2.0","verb":"list",…,"status":200,"ms":3.1}
 */
export function accessLogger(log: Logger): (ctx: RequestContext, status: number) => void {
  return (ctx, status) => {
    if (!log.isLevelEnabled('info')) return;
    const r = ctx.request;
    log.info(
      {
        requestId: ctx.id,
        traceId: ctx.trace?.traceId,
        method: ctx.req.method,
        http: ctx.req.httpVersion,
        path: r?.path ?? loggableUrl(ctx.req.url),
        verb: r?.verb,
        resource: r?.subresource ? `${r.resource}/${r.subresource}` : r?.resource || undefined,
        namespace: r?.namespace || undefined,
        subject: ctx.principal?.subject,
        decision: ctx.decision?.action,
        rule: ctx.decision?.rule,
        status,
        ms: Math.round(Number(process.hrtime.bigint() - ctx.startedAt) / 1e3) / 1e3,
      },
      'access',
    );
  };
}
