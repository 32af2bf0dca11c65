/**
 * An exec recording as asciicast v2, checked against the event that closed
 * it; a tampered recording is refused unless asked for explicitly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleEvent } from '../audit/stores.js';
import { errorOf, startConsoleFixture } from './fixture.js';
import type { ConsoleFixture } from './fixture.js';

let fx: ConsoleFixture;
beforeAll(async () => {
  fx = await startConsoleFixture({
    record: async (writer) => {
      const stream = writer.openStream({ kind: 'exec', sessionId: 'exec-1' });
      stream.write('resize', '{"Width":100,"Height":30}');
      stream.write('stdin', 'ls\r');
      stream.write('stdout', 'bin etc\r\n');
      await writer.append(sampleEvent(40, { stream: await stream.end() }));
    },
  });
});
afterAll(() => fx.close());

const cast = (query = '', as = 'auditor') => fx.call('GET', `/gatehouse/v1/streams/exec-1/asciicast${query}`, { as });

describe('asciicast', () => {
  it('plays back a verified recording', async () => {
    const response = await cast();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/x-asciicast; charset=utf-8');
    const [header, ...events] = (await response.text()).trimEnd().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(header).toMatchObject({ version: 2, width: 100, height: 30 });
    expect(events.map((e) => (e as unknown[]).slice(1))).toEqual([
      ['r', '100x30'],
      ['i', 'ls\r'],
      ['o', 'bin etc\r\n'],
    ]);
  });

  it('is for auditors and admins; an unknown stream is 404', async () => {
    expect((await cast('', 'alice')).status).toBe(403);
    expect((await fx.call('GET', '/gatehouse/v1/streams/nope/asciicast', { as: 'admin' })).status).toBe(404);
  });

  it('refuses a recording whose chunks were edited, unless unverified=true', async () => {
    fx.store.db.prepare("UPDATE audit_stream_chunks SET data = ? WHERE session_id = 'exec-1' AND channel = 'stdout'").run(Buffer.from('nothing here\r\n'));
    const refused = await cast();
    expect(refused.status).toBe(409);
    expect(await errorOf(refused)).toMatchObject({ code: 'recording-unverified', message: expect.stringMatching(/^the recording does not verify: /) as unknown });
    const anyway = await cast('?unverified=true');
    expect(anyway.status).toBe(200);
    expect(await anyway.text()).toContain('nothing here');
  });
});
