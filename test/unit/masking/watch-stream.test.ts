import { describe, expect, it } from 'vitest';
import { GatehouseError } from '../../../src/errors/codes.js';
import { createMasker, createWatchMaskStream, LAST_APPLIED_ANNOTATION, MASK_BASE64, type MaskReport } from '../../../src/masking/index.js';
import { at, drain, fake, fixtureText, leaks, obj, str } from './fixtures.js';
import { prng } from '../../helpers/prng.js';

const masker = createMasker();

/** Runs `chunks` through a watch mask stream; resolves with the output and the stream's report. */
async function run(chunks: Buffer[], options?: { maxEventBytes?: number }): Promise<{ out: Buffer; report: MaskReport; events: MaskReport[] }> {
  const stream = createWatchMaskStream(masker, options);
  const events: MaskReport[] = [];
  stream.on('report', (r: MaskReport) => events.push(r));
  const out = await drain(chunks, stream);
  return { out, report: stream.report(), events };
}

const lines = (b: Buffer): unknown[] =>
  b
    .toString()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown);

/** Splits `buf` at the given offsets. */
function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    out.push(buf.subarray(from, c));
    from = c;
  }
  out.push(buf.subarray(from));
  return out;
}


describe('JSON watch streams', () => {
  it('a real Secret watch (ADDED, MODIFIED, DELETED): one masked event per line, framing kept', async () => {
    const input = Buffer.from(fixtureText('secret-watch.jsonl'));
    // Framing as the API server sends it: compact JSON objects, each followed by one newline.
    expect(input.toString().endsWith('}\n')).toBe(true);
    expect(input.toString().split('\n').length - 1).toBe(4);
    const { out, report, events } = await run([input]);
    const parsed = lines(out);
    expect(parsed.map((e) => at(e, 'type'))).toEqual(['ADDED', 'ADDED', 'MODIFIED', 'DELETED']);
    for (const e of parsed) for (const v of Object.values(obj(e, 'object', 'data'))) expect(v).toBe(MASK_BASE64);
    expect(out.toString().split('\n').length - 1).toBe(4);
    expect(leaks(out.toString())).toEqual([]);
    expect(events).toHaveLength(4);
    expect(report.masked).toBe(events.reduce((n, r) => n + r.masked, 0));
    expect(report.paths).toContain('object.data.password');
  });

  it('a real Table watch (kubectl get -w): last-applied in the row metadata is masked', async () => {
    const { out } = await run([Buffer.from(fixtureText('secret-table-watch.jsonl'))]);
    const parsed = lines(out);
    expect(at(parsed[0], 'object', 'kind')).toBe('Table');
    const row = ['object', 'rows', 0];
    const event = parsed.find((e) => at(e, ...row, 'cells', 0) === 'db-creds');
    const annotation = str(event, ...row, 'object', 'metadata', 'annotations', LAST_APPLIED_ANNOTATION);
    expect(at(JSON.parse(annotation), 'data', 'password')).toBe(MASK_BASE64);
    expect(leaks(out.toString())).toEqual([]);
  });

  it('events with nothing to mask are forwarded byte for byte (BOOKMARK, ERROR, other kinds)', async () => {
    const input = Buffer.from(
      [
        '{"type":"ADDED","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"a"},"data":{"x":"é 😀 \\" \\\\ }"}}}',
        '{"type":"BOOKMARK","object":{"kind":"Secret","apiVersion":"v1","metadata":{"resourceVersion":"12","annotations":{"k8s.io/initial-events-end":"true"}}}}',
        '{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (2)","reason":"Expired","code":410}}',
        '',
      ].join('\n'),
    );
    const { out, report } = await run([input]);
    expect(out.equals(input)).toBe(true);
    expect(report.masked).toBe(0);
  });

  const small = Buffer.from(
    `{"type":"ADDED","object":{"kind":"Secret","apiVersion":"v1","metadata":{"name":"s","labels":{"é":"😀"}},"data":{"k":"aHVudGVyMg=="}}}\n` +
      `{"type":"MODIFIED","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"c"},"data":{"run":"x \\"}{\\" token=${fake.githubClassic}"}}}\n`,
  );

  it('is correct split at every byte boundary (two chunks)', async () => {
    const whole = (await run([small])).out;
    expect(leaks(whole.toString())).toEqual([]);
    expect(lines(whole)).toHaveLength(2);
    for (let cut = 0; cut <= small.length; cut++) {
      const { out } = await run(splitAt(small, [cut]));
      expect(out.equals(whole), `split at ${cut}`).toBe(true);
    }
  });

  it('is correct one byte at a time and under 300 random splittings', async () => {
    const whole = (await run([small])).out;
    expect((await run(splitAt(small, Array.from({ length: small.length }, (_, i) => i)))).out.equals(whole)).toBe(true);
    const random = prng(7);
    for (let trial = 0; trial < 300; trial++) {
      const cuts = Array.from({ length: 1 + Math.floor(random() * 12) }, () => Math.floor(random() * (small.length + 1)));
      const { out } = await run(splitAt(small, cuts));
      expect(out.equals(whole), `cuts ${cuts.join(',')}`).toBe(true);
    }
  });

  it('frames by JSON nesting, not newlines: pretty-printed events and no separator at all', async () => {
    const events = [
      { type: 'ADDED', object: { kind: 'Secret', apiVersion: 'v1', data: { a: 'eA==' } } },
      { type: 'ADDED', object: { kind: 'Secret', apiVersion: 'v1', data: { b: 'eQ==' } } },
    ];
    const pretty = Buffer.from(events.map((e) => JSON.stringify(e, null, 2)).join('\r\n'));
    const glued = Buffer.from(events.map((e) => JSON.stringify(e)).join(''));
    for (const input of [pretty, glued]) {
      const parsed = lines((await run([input])).out);
      expect(parsed.map((e) => Object.values(obj(e, 'object', 'data'))[0])).toEqual([MASK_BASE64, MASK_BASE64]);
    }
  });

  it('fails with GH_MASKING_FAILED on an event over maxEventBytes (one chunk or many)', async () => {
    const big = Buffer.from(`${JSON.stringify({ type: 'ADDED', object: { kind: 'ConfigMap', apiVersion: 'v1', data: { x: 'a'.repeat(5000) } } })}\n`);
    await expect(run([big], { maxEventBytes: 4096 })).rejects.toMatchObject({ code: 'GH_MASKING_FAILED' });
    await expect(run(splitAt(big, [1000, 2000, 3000, 4000, 4500]), { maxEventBytes: 4096 })).rejects.toBeInstanceOf(GatehouseError);
    await expect(run([big], { maxEventBytes: 8192 })).resolves.toMatchObject({ report: { masked: 0 } });
  });

  it('fails on bytes that are not a JSON watch stream, and on an event that is not JSON', async () => {
    await expect(run([Buffer.from('{"type":"ADDED"}\nnot json\n')])).rejects.toThrow(/not a JSON watch stream/);
    await expect(run([Buffer.from('{"type":"ADDED",}\n')])).rejects.toThrow(/not valid JSON/);
  });

  it('drops a partial event at the end (the upstream cut off) instead of forwarding it unmasked', async () => {
    const partial = small.subarray(0, small.indexOf('\n') + 40);
    const { out } = await run([partial]);
    expect(lines(out)).toHaveLength(1);
  });
});
