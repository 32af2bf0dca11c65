import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createClassifyStage } from '../../../src/classify/stage.js';
import { classifyRequest } from '../../../src/kube/request-info.js';
import type { RequestContext } from '../../../src/pipeline/context.js';

function context(method: string, url: string, headers: Record<string, string> = {}): RequestContext {
  const req = Object.assign(Readable.from([]), { method, url, headers }) as unknown as IncomingMessage;
  return { id: 't', req, upgrade: false, startedAt: 0n, arrivedMicros: 0, timings: {}, cluster: 'prod' };
}

const classify = createClassifyStage({ maxBodyBytes: 1 << 20 });

describe('classify stage', () => {
  it.each([
    ['GET', '/api/v1/namespaces/a/configmaps/one'],
    ['GET', '/apis/apps/v1/namespaces/a/deployments?labelSelector=app%3Dx&fieldSelector=metadata.name%3Dy&watch=1'],
    ['DELETE', '/api/v1/namespaces/a/pods/p/status'],
    ['GET', '/version'],
  ])('copies every field of the RequestInfo of %s %s, and adds cluster, query and content type', async (method, url) => {
    const ctx = context(method, url, { 'content-type': 'Application/JSON; charset=utf-8' });
    expect(await classify.run(ctx)).toEqual({ action: 'continue' });
    const result = classifyRequest(method, url);
    if (!result.ok) throw new Error(result.reason);
    const q = url.indexOf('?');
    expect(ctx.request).toStrictEqual({
      ...result.info,
      cluster: 'prod',
      query: q === -1 ? '' : url.slice(q + 1),
      contentType: 'application/json',
      object: undefined,
    });
  });

  it('refuses a path the API server could read differently', async () => {
    const outcome = await classify.run(context('GET', '/api/v1/namespaces/a/../b/pods'));
    expect(outcome.action).toBe('stop');
  });
});
