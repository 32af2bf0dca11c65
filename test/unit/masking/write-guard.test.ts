import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createClassifyStage } from '../../../src/classify/stage.js';
import type { GatehouseError } from '../../../src/errors/codes.js';
import { createMaskedWriteGuard, MASK_BASE64, MASK_TEXT } from '../../../src/masking/index.js';
import type { RequestContext, StageOutcome } from '../../../src/pipeline/context.js';

const classify = createClassifyStage({ maxBodyBytes: 1 << 20 });
const guard = createMaskedWriteGuard();

/** Classifies the request (which reads and decodes the body), then runs the guard on it. */
async function guarded(method: string, url: string, body: string, contentType = 'application/json'): Promise<StageOutcome> {
  const req = Object.assign(Readable.from([Buffer.from(body)]), { method, url, headers: { 'content-type': contentType } }) as unknown as IncomingMessage;
  const ctx: RequestContext = { id: 't', req, upgrade: false, startedAt: 0n, arrivedMicros: 0, timings: {} };
  expect(await classify.run(ctx)).toEqual({ action: 'continue' });
  return guard.run(ctx);
}

function refusal(outcome: StageOutcome): GatehouseError {
  if (outcome.action !== 'stop') throw new Error(`expected a refusal, got ${JSON.stringify(outcome)}`);
  expect(outcome.error.code).toBe('GH_MASKED_VALUE');
  return outcome.error;
}

const SECRETS = '/api/v1/namespaces/a/secrets';
const secret = (data: Record<string, string>): string => JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db' }, data });

describe('the masked-write guard', () => {
  it('refuses a Secret written back with its masked data, naming the field', async () => {
    const err = refusal(await guarded('PUT', `${SECRETS}/db`, secret({ username: 'd2Vi', password: MASK_BASE64 })));
    expect(err.message).toContain('(at data.password)');
    expect(err.message).toContain('not the real value');
  });

  it('finds the marker as Go writes JSON (< and > escaped), in a container env value', async () => {
    const body = JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: { template: { spec: { containers: [{ name: 'web', env: [{ name: 'DB_PASSWORD', value: MASK_TEXT }] }] } } },
    }).replace(/</g, '\\u003c').replace(/>/g, '\\u003e');
    expect(body).not.toContain(MASK_TEXT);
    const err = refusal(await guarded('PUT', '/apis/apps/v1/namespaces/a/deployments/web', body));
    expect(err.message).toContain('(at spec.template.spec.containers[0].env[0].value)');
  });

  it("finds a detector's mask, raw in a YAML apply patch and escaped in JSON", async () => {
    const yaml = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  url: postgres://app:<masked:connection-string>@db/shop\n';
    expect(refusal(await guarded('PATCH', '/api/v1/namespaces/a/configmaps/c?fieldManager=kubectl', yaml, 'application/apply-patch+yaml')).message).toContain('(at data.url)');
    const err = refusal(await guarded('POST', '/api/v1/namespaces/a/configmaps', '{"kind":"ConfigMap","data":{"t":"x \\u003cmasked:github-token\\u003e"}}'));
    expect(err.message).toContain('(at data.t)');
  });

  it('refuses the marker in bytes it cannot decode into paths (a protobuf body)', () => {
    const body = Buffer.concat([Buffer.from([0x6b, 0x38, 0x73, 0x00, 0x0a, 0x15]), Buffer.from(MASK_TEXT), Buffer.from([0xff, 0x01])]);
    const ctx = { request: { verb: 'create', object: undefined }, body } as unknown as RequestContext;
    const err = refusal(guard.run(ctx) as StageOutcome);
    expect(err.message).not.toContain('(at ');
  });

  it('refuses a masked value nested deeper than it names fields, without naming one', () => {
    // Classify refuses JSON bodies this deep (400); the guard still must not name, nor miss, what it is given.
    const text = `{"kind":"ConfigMap","data":{"deep":${'['.repeat(2000)}"${MASK_TEXT}"${']'.repeat(2000)}}}`;
    const ctx = { request: { verb: 'create', object: JSON.parse(text) as unknown }, body: Buffer.from(text) } as unknown as RequestContext;
    const err = refusal(guard.run(ctx) as StageOutcome);
    expect(err.message).not.toContain('(at ');
  });

  it('lets through writes without a masked value, and requests that write nothing', async () => {
    expect(await guarded('POST', SECRETS, secret({ password: Buffer.from('the masked by gatehouse story').toString('base64') }))).toEqual({ action: 'continue' });
    expect(await guarded('PATCH', `${SECRETS}/db`, JSON.stringify({ metadata: { annotations: { note: 'values are masked: see docs' } } }), 'application/merge-patch+json')).toEqual({
      action: 'continue',
    });
    // Only writes are checked: a delete's options, or any read, never store anything.
    expect(await guarded('DELETE', `${SECRETS}/db`, JSON.stringify({ kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid: MASK_TEXT } }))).toEqual({ action: 'continue' });
    expect(await guarded('GET', `${SECRETS}/db`, '')).toEqual({ action: 'continue' });
  });
});
