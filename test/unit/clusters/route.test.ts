import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createRouteStage } from '../../../src/clusters/route.js';
import type { RequestContext, StageOutcome } from '../../../src/pipeline/context.js';

const stage = createRouteStage({ defaultCluster: 'default', known: (n) => ['default', 'prod', 'a-b-1'].includes(n), names: () => ['default', 'prod', 'a-b-1'] });

function route(url: string): { ctx: RequestContext; outcome: StageOutcome } {
  const ctx = { id: 'r1', req: { url, headers: {} } as IncomingMessage, upgrade: false, startedAt: 0n, arrivedMicros: 0, timings: {} } as RequestContext;
  return { ctx, outcome: stage.run(ctx) as StageOutcome };
}

describe('route stage', () => {
  it('sends a request without the prefix to the default cluster, path untouched', () => {
    const { ctx, outcome } = route('/api/v1/namespaces/x/pods?watch=1');
    expect(outcome).toEqual({ action: 'continue' });
    expect(ctx.cluster).toBe('default');
    expect(ctx.req.url).toBe('/api/v1/namespaces/x/pods?watch=1');
  });

  it('takes the cluster from /clusters/<name> and strips the prefix, query included', () => {
    for (const [url, rest] of [
      ['/clusters/prod/api/v1/pods', '/api/v1/pods'],
      ['/clusters/prod/apis/apps/v1/deployments?limit=5', '/apis/apps/v1/deployments?limit=5'],
      ['/clusters/prod', '/'],
      ['/clusters/prod?x=1', '/?x=1'],
      ['/clusters/a-b-1/version', '/version'],
    ] as const) {
      const { ctx, outcome } = route(url);
      expect(outcome, url).toEqual({ action: 'continue' });
      expect(ctx.cluster, url).toBe(url.split('/')[2]!.split('?')[0]);
      expect(ctx.req.url, url).toBe(rest);
    }
  });

  it('refuses an unknown cluster with 404 naming the ones it has, and never echoes odd bytes', () => {
    const { ctx, outcome } = route('/clusters/staging/api/v1/pods');
    expect(ctx.cluster).toBeUndefined();
    expect(outcome.action).toBe('stop');
    if (outcome.action !== 'stop') return;
    expect(outcome.error.code).toBe('GH_UNKNOWN_CLUSTER');
    expect(outcome.error.httpStatus).toBe(404);
    expect(outcome.error.message).toBe('this gateway has no cluster "staging"; it serves default, prod, a-b-1');
    for (const odd of ['/clusters/%2e%2e/api', '/clusters//api/v1/pods', '/clusters/PROD/api', '/clusters/<script>/api']) {
      const r = route(odd);
      expect(r.outcome.action, odd).toBe('stop');
      if (r.outcome.action === 'stop') expect(r.outcome.error.message, odd).not.toContain('<');
      expect(r.ctx.req.url, odd).toBe(odd);
    }
  });
});
