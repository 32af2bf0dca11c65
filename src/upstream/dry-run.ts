import type { OutgoingHttpHeaders } from 'node:http';
import { GatehouseError } from '../errors/codes.js';
import type { RequestContext } from '../pipeline/context.js';
import { upstreamRequestHeaders } from '../proxy/headers.js';
import { addImpersonation } from '../proxy/impersonation.js';
import type { Upstream } from './client.js';
import { upstreamFetch } from './fetch.js';
import type { ResolvedObjects } from '../policy/stage.js';


/**
 * Works out what a write would store, as the API server itself would: the
 * same request with `dryRun=All` (every patch type, server-side apply, and
 * bodies in encodings the gateway does not decode, such as protobuf), plus a
 * read of the current object. Both use the gateway's
 * credential. When the API server refuses the dry-run, the client gets that
 * refusal (the real request would meet it too) and nothing is forwarded.
 *
 * @example
 * const policy = createPolicyStage({ policy, resolveObject: createDryRunResolver(upstream, { timeoutMs: 10_000 }) });
 */
export function createDryRunResolver(
  upstream: Upstream,
  options: { timeoutMs: number; /** As the caller (identity.impersonation), so the cluster's RBAC for them applies here too. */ impersonate?: boolean },
): (ctx: RequestContext) => Promise<ResolvedObjects> {
  return async (ctx) => {
    const request = ctx.request;
    if (!request) throw new GatehouseError('GH_POLICY_UNAVAILABLE', 'the request was not classified');
    // A create has no current object; anything else names the object it changes.
    const readCurrent = request.verb !== 'create' && request.name !== '';
    const rawUrl = ctx.req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const query = new URLSearchParams(q === -1 ? '' : rawUrl.slice(q + 1));
    query.set('dryRun', 'All');

    const headers = upstreamRequestHeaders(ctx.req.headers, false);
    delete headers['content-length'];
    const caller: OutgoingHttpHeaders = {};
    if (options.impersonate) {
      addImpersonation(headers, ctx);
      addImpersonation(caller, ctx);
    }
    const [current, result] = await Promise.all([
      readCurrent
        ? call(() => upstreamFetch(upstream, { method: 'GET', path: objectPath(path, request.subresource), headers: caller, timeoutMs: options.timeoutMs }))
        : undefined,
      call(() =>
        upstreamFetch(upstream, {
          method: ctx.req.method ?? 'PATCH',
          path: `${path}?${query.toString()}`,
          headers: { ...headers, accept: 'application/json' },
          body: ctx.body ?? Buffer.alloc(0),
          timeoutMs: options.timeoutMs,
        }),
      ),
    ]);
    if (result.status < 200 || result.status > 299) throw refusal(result.status, result.body);
    const oldObject = current?.status === 200 ? parse(current.body) : null;
    return { object: parse(result.body), oldObject };
  };
}

/** The object itself for a subresource write (scale, status): policy judges the object. */
function objectPath(path: string, subresource: string): string {
  return subresource ? path.slice(0, path.length - subresource.length - 1) : path;
}

async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new GatehouseError('GH_POLICY_UNAVAILABLE', `the gateway could not dry-run the request to judge it: ${(err as Error).message}`, {
      cause: err,
      retryAfterSeconds: 2,
    });
  }
}

function parse(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new GatehouseError('GH_POLICY_UNAVAILABLE', 'the API server answered the dry-run with something other than JSON');
  }
}

function refusal(status: number, body: Buffer): GatehouseError {
  let message = `the API server refused the request (${status})`;
  let reason = 'Invalid';
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { message?: string; reason?: string };
    if (parsed.message) message = parsed.message;
    if (parsed.reason) reason = parsed.reason;
  } catch {
    // Keep the generic message.
  }
  return new GatehouseError('GH_DRY_RUN_REFUSED', message, { relayed: { httpStatus: status, reason } });
}
