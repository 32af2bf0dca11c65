import { describe, expect, it } from 'vitest';
import { GENESIS_HASH } from '../../../src/audit/chain.js';
import { chunkHash, createStreamRecorder, streamChunksProblem } from '../../../src/audit/stream.js';
import type { ChunkOwner, StreamChunk } from '../../../src/audit/stream.js';

/** A queue that keeps what it is given and settles when told. */
function queue() {
  const chunks: StreamChunk[] = [];
  const owners: ChunkOwner[] = [];
  return {
    chunks,
    push: (chunk: StreamChunk, owner: ChunkOwner) => {
      chunks.push(chunk);
      owners.push(owner);
    },
    settleAll(err?: unknown) {
      for (const owner of owners.splice(0)) owner.chunkSettled(err);
    },
  };
}

describe('createStreamRecorder', () => {
  it.each([
    ['a request id', 'b3f1c2d4-0000-4000-8000-000000000001', ['watch']],
    ['quotes, backslashes, non-ASCII and U+2028', 'sess "quoted" \\ é \u2028 日本', ['stdout', 'chan "x" é']],
    ['a lone surrogate', 'a\ud800b', ['log']],
    ['an id too long for the header buffer', 'x'.repeat(3000), ['stdin', 'y'.repeat(900)]],
  ])('hashes each chunk exactly as chunkHash does (%s)', async (_name, sessionId, channels) => {
    const q = queue();
    const stream = createStreamRecorder(q.push, { kind: 'exec', sessionId });
    // Seqs across digit boundaries (9 → 10, 99 → 100), text, binary, and a marker.
    for (let i = 0; i < 120; i++) stream.write(channels[i % channels.length]!, i % 3 === 0 ? Buffer.from([0, 255, i]) : `line ${i}\n`);
    stream.mark('a note');
    q.settleAll();
    const ref = await stream.end();
    let prev = GENESIS_HASH;
    for (const chunk of q.chunks) {
      expect(chunk.hash).toBe(chunkHash(prev, chunk));
      prev = chunk.hash;
    }
    expect(ref).toMatchObject({ sessionId, chunks: 121, hash: prev, truncated: false });
    expect(streamChunksProblem(ref, q.chunks)).toBeUndefined();
  });

  it('hashes right when many streams record the same buffers in turn, as the clients of a shared watch do', () => {
    const q = queue();
    const streams = [1, 2, 3].map((n) => createStreamRecorder(q.push, { kind: 'watch', sessionId: `shared-${n}` }));
    const a = Buffer.from('{"type":"ADDED"}\n');
    const b = Buffer.from('{"type":"DELETED"}\n');
    for (const data of [a, a, b, a, b, b]) for (const stream of streams) stream.write('watch', data);
    const query = (sessionId: string): StreamChunk[] => q.chunks.filter((c) => c.sessionId === sessionId);
    for (const stream of streams) {
      const chunks = query(stream.sessionId);
      expect(chunks.map((c) => c.data.toString())).toEqual([a, a, b, a, b, b].map(String));
      expect(streamChunksProblem({ sessionId: stream.sessionId, kind: 'watch', chunks: 6, bytes: chunks.reduce((n, c) => n + c.data.length, 0), hash: chunks.at(-1)!.hash, truncated: false }, chunks)).toBeUndefined();
    }
  });

  it('records a buffer as it is, and text as its UTF-8 bytes', () => {
    const q = queue();
    const stream = createStreamRecorder(q.push, { kind: 'watch' });
    const data = Buffer.from('{"type":"ADDED"}\n');
    stream.write('watch', data);
    stream.write('watch', new Uint8Array([1, 2, 3]));
    stream.write('log', 'é');
    expect(q.chunks[0]!.data).toBe(data);
    expect(Buffer.isBuffer(q.chunks[1]!.data)).toBe(true);
    expect([...q.chunks[1]!.data]).toEqual([1, 2, 3]);
    expect(q.chunks[2]!.data).toEqual(Buffer.from('é'));
    expect(q.chunks[2]!.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });

  it('ends only once every chunk is settled', async () => {
    const q = queue();
    const stream = createStreamRecorder(q.push, { kind: 'watch' });
    stream.write('watch', 'a');
    stream.write('watch', 'b');
    let ended = false;
    const end = stream.end().then((ref) => ((ended = true), ref));
    await new Promise((resolve) => setImmediate(resolve));
    expect(ended).toBe(false);
    q.settleAll();
    await expect(end).resolves.toMatchObject({ chunks: 2, bytes: 2 });
  });

  it('never reports a stream whose chunk was not stored as recorded, and tells onError once, not from inside write', async () => {
    const q = queue();
    const errors: unknown[] = [];
    let writing = false;
    const stream = createStreamRecorder(q.push, {
      kind: 'exec',
      onError: (err) => {
        expect(writing).toBe(false);
        errors.push(err);
      },
    });
    stream.write('stdout', 'kept');
    q.settleAll();
    stream.write('stdout', 'lost');
    stream.write('stdout', 'also lost');
    q.settleAll(new Error('disk full'));
    await expect(stream.end()).rejects.toThrow('disk full');
    // A queue that refuses at once (a closed or full writer) settles inside write().
    const refused = createStreamRecorder((_chunk, owner) => owner.chunkSettled(new Error('queue full')), {
      kind: 'exec',
      onError: (err) => {
        expect(writing).toBe(false);
        errors.push(err);
      },
    });
    writing = true;
    refused.write('stdout', 'x');
    writing = false;
    await expect(refused.end()).rejects.toThrow('queue full');
    expect(errors.map((e) => (e as Error).message)).toEqual(['disk full', 'queue full']);
  });
});
