import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createClassifyStage } from '../../../src/classify/stage.js';
import { podAliasesAsStored, secretAsStored, structureIssue } from '../../../src/classify/stored-form.js';
import type { RequestContext } from '../../../src/pipeline/context.js';

function context(method: string, url: string, contentType: string, body: string): RequestContext {
  const req = Object.assign(Readable.from([Buffer.from(body)]), { method, url, headers: { 'content-type': contentType } }) as unknown as IncomingMessage;
  return { id: 't', req, upgrade: false, startedAt: 0n, arrivedMicros: 0, timings: {} };
}

const classify = createClassifyStage({ maxBodyBytes: 1 << 20 });

describe('structureIssue', () => {
  it('finds a repeated key at any depth, compared after unescaping', () => {
    expect(structureIssue('{"spec":{"a":1},"spec":{}}', 512)).toEqual({ duplicateKey: 'spec' });
    expect(structureIssue('{"s":[{"sc":{"p":true},"sc":{}}]}', 512)).toEqual({ duplicateKey: 'sc' });
    expect(structureIssue('{"spec":1,"sp\\u0065c":2}', 512)).toEqual({ duplicateKey: 'spec' });
  });

  it('accepts the same key in sibling objects, keys inside strings and escaped quotes', () => {
    expect(structureIssue('[{"a":1},{"a":2}]', 512)).toBeUndefined();
    expect(structureIssue('{"a":{"b":1},"b":{"a":"x\\",\\"a\\":1"}}', 512)).toBeUndefined();
    expect(structureIssue('{"a":["a","a"],"c":{}}', 512)).toBeUndefined();
  });

  it('finds objects and arrays nested past the limit, not brackets inside strings', () => {
    expect(structureIssue('{"a":[{"b":[]}]}', 4)).toBeUndefined();
    expect(structureIssue('{"a":[{"b":[]}]}', 3)).toEqual({ deeperThan: 3 });
    expect(structureIssue('[[[[]]],[]]', 3)).toEqual({ deeperThan: 3 });
    expect(structureIssue('["[[[[[", "{{{{"]', 1)).toBeUndefined();
    expect(structureIssue(`{"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`, 512)).toEqual({ deeperThan: 512 });
  });
});

describe('secretAsStored', () => {
  it('writes stringData over data, base64-encoded, and drops stringData', () => {
    expect(secretAsStored({ kind: 'Secret', data: { a: 'eA==', b: 'eQ==' }, stringData: { b: 'z', c: 'w' } })).toEqual({
      kind: 'Secret',
      data: { a: 'eA==', b: 'eg==', c: 'dw==' },
    });
  });

  it('leaves what the API server would refuse unchanged', () => {
    const odd = { stringData: { a: 1 } };
    expect(secretAsStored(odd)).toBe(odd);
    expect(secretAsStored('x')).toBe('x');
  });
});

describe('podAliasesAsStored', () => {
  it('fills serviceAccountName from the deprecated serviceAccount in pods and pod templates', () => {
    const pod = { spec: { serviceAccount: 'admin' } };
    podAliasesAsStored('', 'pods', pod);
    expect(pod.spec).toEqual({ serviceAccount: 'admin', serviceAccountName: 'admin' });
    const cronjob = { spec: { jobTemplate: { spec: { template: { spec: { serviceAccount: 'admin', serviceAccountName: '' } } } } } };
    podAliasesAsStored('batch', 'cronjobs', cronjob);
    expect(cronjob.spec.jobTemplate.spec.template.spec.serviceAccountName).toBe('admin');
  });

  it('keeps serviceAccountName when both are set (it wins in the API server too) and ignores other kinds', () => {
    const pod = { spec: { serviceAccount: 'admin', serviceAccountName: 'app' } };
    podAliasesAsStored('', 'pods', pod);
    expect(pod.spec.serviceAccountName).toBe('app');
    const cm = { spec: { serviceAccount: 'admin' } };
    podAliasesAsStored('', 'configmaps', cm);
    expect(cm.spec).toEqual({ serviceAccount: 'admin' });
  });
});

describe('classify stage bodies', () => {
  it('refuses a JSON body with a repeated key (Go merges it, JSON.parse keeps the last)', async () => {
    const ctx = context('POST', '/api/v1/namespaces/a/pods', 'application/json', '{"spec":{"containers":[]},"spec":{}}');
    const out = await classify.run(ctx);
    expect(out).toMatchObject({ action: 'stop', error: { code: 'GH_BAD_REQUEST_BODY' } });
  });

  it('refuses a JSON body nested deeper than 512 levels, and takes one at 512', async () => {
    const nested = (levels: number): string => `{"kind":"ConfigMap","data":{},"x":${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}}`;
    const deep = context('POST', '/api/v1/namespaces/a/configmaps', 'application/json', nested(513));
    expect(await classify.run(deep)).toMatchObject({ action: 'stop', error: { code: 'GH_BAD_REQUEST_BODY', message: expect.stringMatching(/deeper than 512 levels/) as unknown } });
    const atLimit = context('POST', '/api/v1/namespaces/a/configmaps', 'application/json', nested(512));
    expect(await classify.run(atLimit)).toEqual({ action: 'continue' });
  });

  it('leaves YAML undecoded so policy uses the server-side dry-run (YAML 1.1: yes is true, << merges)', async () => {
    const ctx = context('POST', '/api/v1/namespaces/a/pods', 'application/yaml', 'spec:\n  x: yes\n');
    expect(await classify.run(ctx)).toEqual({ action: 'continue' });
    expect(ctx.request?.object).toBeUndefined();
    expect(ctx.body?.length).toBeGreaterThan(0);
  });

  it('judges a Secret by the data it will store', async () => {
    const ctx = context('POST', '/api/v1/namespaces/a/secrets', 'application/json', '{"kind":"Secret","stringData":{"k":"v"}}');
    await classify.run(ctx);
    expect(ctx.request?.object).toEqual({ kind: 'Secret', data: { k: 'dg==' } });
  });
});
