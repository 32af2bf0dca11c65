import { describe, expect, it } from 'vitest';
import { createBodyMaskStream, createMasker, MASK_BASE64, type MaskReport } from '../../../src/masking/index.js';
import { arr, at, chunked, drain, fixtureText, leaks } from './fixtures.js';

const masker = createMasker();

async function run(chunks: Buffer[], options?: { maxBufferedBytes?: number }): Promise<{ out: Buffer; report: MaskReport }> {
  const stream = createBodyMaskStream(masker, options);
  const out = await drain(chunks, stream);
  return { out, report: stream.report() };
}

const bodies = ['secret.json', 'secret-list.json', 'secret-table.json', 'secret-table-object.json', 'configmap.json', 'deployment.json', 'cronjob.json', 'pod-list.json', 'status-notfound.json'];

describe('streaming a response body', () => {
  it.each(bodies)('%s: the same result and report as maskValue on the whole body', async (name) => {
    const text = fixtureText(name);
    const { out, report } = await run([Buffer.from(text)]);
    const whole = masker.maskValue(JSON.parse(text));
    expect(JSON.parse(out.toString())).toEqual(whole.value);
    expect(report).toEqual(whole.report);
    expect(leaks(out.toString())).toEqual([]);
  });

  it.each(bodies)('%s: pretty-printed (as curl gets it), in 7-byte chunks', async (name) => {
    const pretty = Buffer.from(JSON.stringify(JSON.parse(fixtureText(name)), null, 2) + '\n');
    const { out } = await run(chunked(pretty, 7));
    expect(JSON.parse(out.toString())).toEqual(masker.maskValue(JSON.parse(pretty.toString())).value);
  });

  it('a body with nothing to mask comes out byte for byte (whitespace included)', async () => {
    const status = Buffer.from(` ${JSON.stringify(JSON.parse(fixtureText('status-notfound.json')), null, 1)}\n`);
    expect((await run([status])).out.equals(status)).toBe(true);
    const list = Buffer.from('{"kind":"ConfigMapList","apiVersion":"v1","metadata":{},"items":[ {"metadata":{"name":"a"},"data":{"LOG":"x"}} ,{"metadata":{"name":"b"}}]}');
    expect((await run([list])).out.equals(list)).toBe(true);
  });

  it('is correct split at every byte boundary', async () => {
    const input = Buffer.from(fixtureText('secret-list.json'));
    const expected = (await run([input])).out;
    for (let cut = 0; cut <= input.length; cut++) {
      const { out } = await run([input.subarray(0, cut), input.subarray(cut)]);
      expect(out.equals(expected), `split at ${cut}`).toBe(true);
    }
  }, 60_000);

  it('forwards list items as they arrive, in a few large pieces, holding at most one item', async () => {
    const item = (i: number) => ({ metadata: { name: `s${i}` }, data: { password: 'aHVudGVyMg==' } });
    const body = Buffer.from(JSON.stringify({ kind: 'SecretList', apiVersion: 'v1', metadata: {}, items: Array.from({ length: 3000 }, (_, i) => item(i)) }));
    const stream = createBodyMaskStream(masker, { maxBufferedBytes: 200 });
    const out: Buffer[] = [];
    stream.on('data', (b: Buffer) => out.push(b));
    const half = body.length >> 1;
    // 2 KiB writes, as the API server sends a list: far fewer pieces come out (a write each costs more than masking)…
    for (const c of chunked(body.subarray(0, half), 2048)) stream.write(c);
    expect(out.length).toBeLessThanOrEqual(Math.ceil(half / 65536));
    // …and the rest of what one turn brought follows at once, not with the next input.
    await new Promise((resolve) => setImmediate(resolve));
    const soFar = Buffer.concat(out).toString();
    expect(soFar.split(MASK_BASE64).length - 1).toBeGreaterThan(1400);
    stream.end(body.subarray(half));
    await new Promise((resolve) => stream.on('end', resolve));
    const parsed: unknown = JSON.parse(Buffer.concat(out).toString());
    expect(arr(parsed, 'items')).toHaveLength(3000);
    expect(leaks(parsed)).toEqual([]);
  });

  it('holds no more memory for a small answer than it needs, and outputs of a large one in pieces of ~64 KiB', async () => {
    const pieces = async (body: Buffer): Promise<Buffer[]> => {
      const stream = createBodyMaskStream(masker);
      const out: Buffer[] = [];
      stream.on('data', (b: Buffer) => out.push(b));
      const ended = new Promise((resolve) => stream.on('end', resolve));
      for (const c of chunked(body, 16 * 1024)) stream.write(c);
      stream.end();
      await ended;
      return out;
    };
    // An agent's GET of one object: what the output pins is a few KiB, not a LIST's 80.
    const small = await pieces(Buffer.from(fixtureText('configmap.json')));
    expect(small.length).toBeGreaterThan(0);
    for (const b of small) expect(b.buffer.byteLength).toBeLessThanOrEqual(16 * 1024);
    const item = (i: number) => ({ metadata: { name: `s${i}` }, data: { password: 'aHVudGVyMg==' } });
    const list = await pieces(Buffer.from(JSON.stringify({ kind: 'SecretList', apiVersion: 'v1', metadata: {}, items: Array.from({ length: 20_000 }, (_, i) => item(i)) })));
    expect(list.length).toBeGreaterThan(10);
    for (const b of list.slice(0, -1)) expect(b.length).toBeGreaterThanOrEqual(64 * 1024);
  });

  it('stops taking input while nobody reads its output (memory stays bounded)', async () => {
    const item = (i: number) => ({ metadata: { name: `s${i}` }, data: { password: 'aHVudGVyMg==' } });
    const body = Buffer.from(JSON.stringify({ kind: 'SecretList', apiVersion: 'v1', metadata: {}, items: Array.from({ length: 40_000 }, (_, i) => item(i)) }));
    const stream = createBodyMaskStream(masker);
    let accepted = 0;
    for (const c of chunked(body, 2048)) {
      if (!stream.write(c)) break;
      accepted += c.length;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(accepted).toBeLessThan(body.length / 4);
    expect(stream.readableLength).toBeLessThan(4 * 65536);
    stream.destroy();
  });

  it('holds members that come before kind until it arrives (masking depends on it)', async () => {
    const body = Buffer.from('{"data":{"password":"aHVudGVyMg=="},"metadata":{"name":"x"},"kind":"Secret","apiVersion":"v1"}');
    const { out } = await run([body]);
    expect(JSON.parse(out.toString())).toEqual({ data: { password: MASK_BASE64 }, metadata: { name: 'x' }, kind: 'Secret', apiVersion: 'v1' });
    // No kind at all (a watch event body): held to the end, then masked by the embedded object's kind.
    const event = Buffer.from('{"type":"ADDED","object":{"kind":"Secret","apiVersion":"v1","data":{"a":"eA=="}}}');
    expect(at(JSON.parse((await run([event])).out.toString()), 'object', 'data', 'a')).toBe(MASK_BASE64);
  });

  it('bodies that are not an object are masked whole', async () => {
    expect((await run([Buffer.from('["password=hunter2", 1]')])).out.toString()).toBe('["password=<masked:assignment>",1]');
    expect((await run([Buffer.from(' 42 ')])).out.toString()).toBe(' 42 ');
    expect((await run([Buffer.from('')])).out.length).toBe(0);
  });

  it('fails on malformed, truncated or oversized bodies, never forwarding the unmasked part', async () => {
    await expect(run([Buffer.from('{"kind" "Secret"}')])).rejects.toMatchObject({ code: 'GH_MASKING_FAILED' });
    for (const bad of ['{"kind":"Secret",}', '{"kind":"Secret" "a":1}', '{,"kind":"Secret"}', '{"kind":"SecretList","items":[{},,{}]}', '{"kind":"SecretList","items":[{} {}]}', '{"kind":"SecretList","items":[{},]}']) {
      await expect(run([Buffer.from(bad)]), bad).rejects.toThrow(/unexpected byte/);
    }
    await expect(run([Buffer.from('{"kind":"Secret","data":{"a":"eA=="')])).rejects.toThrow(/ended in the middle/);
    // The error names no part of the body: V8's parse errors quote the text around the fault (here, a value).
    const unquoted = run([Buffer.from('{"kind":"SecretList","items":[{"data":{"password":aHVudGVyMg}}]}')]);
    await expect(unquoted).rejects.toThrow(/not valid JSON$/);
    await expect(unquoted).rejects.not.toThrow(/aHVudGVyMg/);
    await expect(run([Buffer.from('{"kind":"Secret"} x')])).rejects.toThrow(/unexpected byte/);
    const big = Buffer.from(JSON.stringify({ kind: 'SecretList', apiVersion: 'v1', items: [{ data: { a: 'x'.repeat(5000) } }] }));
    await expect(run([big], { maxBufferedBytes: 4096 })).rejects.toThrow(/larger than 4096 bytes/);
    await expect(run([Buffer.from(`{"data":"${'x'.repeat(5000)}","kind":"Secret"}`)], { maxBufferedBytes: 4096 })).rejects.toThrow(/4096 bytes/);
  });
});
