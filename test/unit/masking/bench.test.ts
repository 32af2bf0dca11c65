/**
 * Cost figures, printed, never asserted (machines differ): masking a LIST of
 * 5 000 Secrets shaped like the real one in fixtures/secret.json (kubectl
 * apply'd: last-applied annotation with the data, managedFields), and the
 * same 5 000 as a watch stream.
 */
import { describe, expect, it } from 'vitest';
import { createBodyMaskStream, createMasker, createWatchMaskStream, MASK_BASE64 } from '../../../src/masking/index.js';
import { arr, at, chunked, drain, fixture, leaks, obj } from './fixtures.js';

const N = 5000;

function secretList(): string {
  // List items come without kind and apiVersion.
  const secret = obj(fixture('secret.json'));
  delete secret.kind;
  delete secret.apiVersion;
  const items = Array.from({ length: N }, (_, i) => {
    const s = structuredClone(secret);
    const metadata = obj(s, 'metadata');
    metadata.name = `db-creds-${i}`;
    metadata.uid = `7f4b9527-dbd1-438c-8cb3-${String(i).padStart(12, '0')}`;
    return s;
  });
  return JSON.stringify({ kind: 'SecretList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items });
}

function time<T>(fn: () => T, rounds = 5): { ms: number; result: T } {
  let best = Infinity;
  let result: T | undefined;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    result = fn();
    best = Math.min(best, performance.now() - t0);
  }
  return { ms: best, result: result! };
}

describe('masking cost', () => {
  const masker = createMasker();

  it(`a SecretList of ${N} Secrets`, () => {
    const body = secretList();
    const parse = time(() => JSON.parse(body) as unknown);
    const mask = time(() => masker.maskValue(parse.result));
    const stringify = time(() => JSON.stringify(mask.result.value));
    const passthrough = time(() => JSON.stringify(JSON.parse(body)));
    expect(at(mask.result.value, 'items', N - 1, 'data', 'password')).toBe(MASK_BASE64);
    expect(leaks(mask.result.value)).toEqual([]);
    expect(mask.result.report.masked).toBe(N * 6);
    const us = (ms: number): string => ((ms * 1000) / N).toFixed(1);
    const total = parse.ms + mask.ms + stringify.ms;
    console.log(
      `[bench] SecretList ${N} items, ${(body.length / 1e6).toFixed(1)} MB: parse ${parse.ms.toFixed(0)} ms, mask ${mask.ms.toFixed(0)} ms ` +
        `(${us(mask.ms)} µs/item), stringify ${stringify.ms.toFixed(0)} ms; parse+mask+stringify ${us(total)} µs/item, ` +
        `${((body.length / 1e6) / (total / 1000)).toFixed(0)} MB/s; parse+stringify alone ${us(passthrough.ms)} µs/item ` +
        `(masking adds ×${(total / passthrough.ms).toFixed(2)} over re-serialising)`,
    );
  }, 60_000);

  it(`the same SecretList streamed through the body masker in 16 KiB chunks`, async () => {
    const body = Buffer.from(secretList());
    let best = Infinity;
    for (let round = 0; round < 3; round++) {
      const stream = createBodyMaskStream(masker);
      const t0 = performance.now();
      await drain(chunked(body, 16 * 1024), stream);
      best = Math.min(best, performance.now() - t0);
      expect(stream.report().masked).toBe(N * 6);
    }
    console.log(
      `[bench] body stream, SecretList ${N} items in 16 KiB chunks: ${best.toFixed(0)} ms, ${((best * 1000) / N).toFixed(1)} µs/item, ` +
        `${(body.length / 1e6 / (best / 1000)).toFixed(0)} MB/s`,
    );
  }, 60_000);

  it(`a watch stream of ${N} Secret events`, async () => {
    const items = arr(JSON.parse(secretList()), 'items');
    const lines = items.map((o) => `${JSON.stringify({ type: 'ADDED', object: { kind: 'Secret', apiVersion: 'v1', ...obj(o) } })}\n`);
    const input = Buffer.from(lines.join(''));
    const stream = createWatchMaskStream(masker);
    const t0 = performance.now();
    const out = await drain(chunked(input, 16 * 1024), stream);
    const ms = performance.now() - t0;
    expect(stream.eventCount).toBe(N);
    console.log(`[bench] watch ${N} Secret events, ${(input.length / 1e6).toFixed(1)} MB in 16 KiB chunks: ${ms.toFixed(0)} ms, ${((ms * 1000) / N).toFixed(1)} µs/event (out ${(out.length / 1e6).toFixed(1)} MB)`);
  }, 60_000);
});
