import { createServer, request } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { GatehouseError } from '../../../src/errors/codes.js';
import { CONTINUE, stop } from '../../../src/pipeline/context.js';
import type { RequestContext, Stage } from '../../../src/pipeline/context.js';
import { createPipeline } from '../../../src/pipeline/pipeline.js';
import type { Completion } from '../../../src/pipeline/pipeline.js';
import type { Recorder } from '../../../src/record/recorder.js';
import { respondWithStatus, respondWithStatusOnSocket } from '../../../src/proxy/respond.js';

let server: Server | undefined;
afterEach(() => server?.close());

/** Serves a pipeline on loopback; the terminal answers 200 with the stage order it saw. */
async function serve(stages: Stage[], recorder?: Recorder): Promise<{ url: string; forwarded: RequestContext[]; completions: Completion[] }> {
  const forwarded: RequestContext[] = [];
  const completions: Completion[] = [];
  const pipeline = createPipeline(
    stages,
    {
      forward: (ctx, res, completion) => {
        forwarded.push(ctx);
        completions.push(completion);
        res.end(JSON.stringify(Object.keys(ctx.timings)));
        return Promise.resolve();
      },
      forwardUpgrade: () => Promise.reject(new Error('not used')),
    },
    {
      refuse: (ctx, res, error) => respondWithStatus(res, error, ctx.id),
      refuseUpgrade: (ctx, socket, error) => respondWithStatusOnSocket(socket, error, ctx.id),
    },
    pino({ level: 'silent' }),
    recorder,
  );
  server = createServer((req, res) => pipeline.handleRequest(req, res));
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, forwarded, completions };
}

function get(url: string): Promise<{ status: number; body: string; auditId: string | undefined }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, auditId: res.headers['audit-id'] as string | undefined }));
    })
      .on('error', reject)
      .end();
  });
}

const named = (name: string, run: Stage['run']): Stage => ({ name, run });

describe('pipeline', () => {
  it('runs every stage in order, times each, then forwards', async () => {
    const seen: string[] = [];
    const { url, forwarded } = await serve([
      named('a', () => (seen.push('a'), CONTINUE)),
      named('b', () => Promise.resolve((seen.push('b'), CONTINUE))),
    ]);
    const res = await get(`${url}/api`);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual(['a', 'b']);
    expect(seen).toEqual(['a', 'b']);
    expect(forwarded).toHaveLength(1);
    expect(forwarded[0]!.timings.a).toBeGreaterThanOrEqual(0);
  });

  it('stops at the first refusal and never forwards', async () => {
    const seen: string[] = [];
    const { url, forwarded } = await serve([
      named('a', () => stop(new GatehouseError('GH_UNAUTHENTICATED', 'who are you'))),
      named('b', () => (seen.push('b'), CONTINUE)),
    ]);
    const res = await get(`${url}/api`);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ kind: 'Status', reason: 'Unauthorized', message: 'who are you' });
    expect(res.auditId).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen).toEqual([]);
    expect(forwarded).toHaveLength(0);
  });

  it('fails closed when a stage throws', async () => {
    const { url, forwarded } = await serve([
      named('broken', () => {
        throw new Error('bug');
      }),
    ]);
    const res = await get(`${url}/api`);
    expect(res.status).toBe(500);
    expect(JSON.parse(res.body)).toMatchObject({ reason: 'InternalError', details: { causes: [{ reason: 'GH_INTERNAL' }] } });
    expect((JSON.parse(res.body) as { message: string }).message).toContain('stage broken');
    expect(forwarded).toHaveLength(0);
  });

  it('waits for a stage that answers later, even with a thenable that is not a Promise', async () => {
    const later = { then: (resolve: (o: ReturnType<typeof stop>) => void) => setTimeout(() => resolve(stop(new GatehouseError('GH_UNAUTHENTICATED', 'later'))), 5) };
    const { url, forwarded } = await serve([named('later', () => later as unknown as Promise<ReturnType<typeof stop>>)]);
    expect((await get(`${url}/api`)).status).toBe(401);
    expect(forwarded).toHaveLength(0);
  });

  it('fails closed when a stage answers nothing', async () => {
    const { url, forwarded } = await serve([named('empty', () => undefined as unknown as typeof CONTINUE)]);
    expect((await get(`${url}/api`)).status).toBe(500);
    expect(forwarded).toHaveLength(0);
  });

  describe('while the audit store is down', () => {
    const down = new GatehouseError('GH_AUDIT_UNAVAILABLE', 'store down', { retryAfterSeconds: 1 });
    const recorder = (whileDown: Recorder['whileDown'], recorded: string[] = []): Recorder => ({
      unavailable: () => undefined,
      whileDown,
      unrecordedReads: () => 0,
      close: () => undefined,
      responseCaptureLimit: () => 1024,
      awaitsRecord: () => true,
      openStream: () => undefined,
      record: (ctx) => (recorded.push(ctx.id), Promise.reject(down)),
    });

    it('forwards a read the recorder lets pass with a completion that records nothing', async () => {
      const recorded: string[] = [];
      const { url, completions } = await serve([named('a', () => CONTINUE)], recorder(() => 'unrecorded', recorded));
      expect((await get(`${url}/api`)).status).toBe(200);
      expect(completions[0]).toMatchObject({ captureBytes: 0, holdsAnswer: false });
      await completions[0]!.done({ status: 200 });
      expect(recorded).toEqual([]);
    });

    it('refuses what the recorder refuses after the stages ran, and tries to record the refusal', async () => {
      const recorded: string[] = [];
      const seen: string[] = [];
      const { url, forwarded } = await serve([named('a', () => (seen.push('a'), CONTINUE))], recorder(() => down, recorded));
      const res = await get(`${url}/api`);
      expect(res.status).toBe(503);
      expect(seen).toEqual(['a']);
      expect(forwarded).toHaveLength(0);
      expect(recorded).toHaveLength(1);
    });
  });
});
