import { describe, expect, it } from 'vitest';
import { asciicastInfo, toAsciicast } from '../../../src/audit/asciicast.js';
import { buildAuditEvent } from '../../../src/audit/event.js';
import type { StreamChunk } from '../../../src/audit/stream.js';

let seq = 0;
function chunk(channel: string, data: string | Buffer, time: string): StreamChunk {
  seq += 1;
  return { sessionId: 's', seq, time, channel, data: Buffer.from(data), hash: '' };
}
const lines = (cast: string) => cast.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown);

describe('toAsciicast', () => {
  it('writes the header and one event per chunk, with times relative to the first chunk', () => {
    const cast = toAsciicast({ title: 'alice: exec ns/web-0 -- sh' }, [
      chunk('resize', '{"Width":120,"Height":40}', '2025-11-25T14:57:00.000000Z'),
      chunk('stdin', 'echo hi\r', '2025-11-25T14:57:00.250000Z'),
      chunk('stdout', 'hi\r\n', '2025-11-25T14:57:00.251500Z'),
      chunk('stderr', 'oops\n', '2025-11-25T14:57:01.000001Z'),
      chunk('resize', '{"Width":80,"Height":20}', '2025-11-25T14:57:02.000000Z'),
      chunk('error', '{"status":"Success"}', '2025-11-25T14:57:03.000000Z'),
      chunk('marker', 'recording stopped', '2025-11-25T14:57:04.000000Z'),
      chunk('portforward-data', 'ignored', '2025-11-25T14:57:05.000000Z'),
    ]);
    expect(cast.endsWith('\n')).toBe(true);
    expect(lines(cast)).toEqual([
      { version: 2, width: 120, height: 40, timestamp: Date.parse('2025-11-25T14:57:00Z') / 1000, title: 'alice: exec ns/web-0 -- sh' },
      [0, 'r', '120x40'],
      [0.25, 'i', 'echo hi\r'],
      [0.2515, 'o', 'hi\r\n'],
      [1.000001, 'o', 'oops\n'],
      [2, 'r', '80x20'],
      [3, 'm', '{"status":"Success"}'],
      [4, 'm', 'recording stopped'],
    ]);
  });

  it('plays watch events and log lines as output, each starting at the left', () => {
    const cast = toAsciicast({ title: 'logs' }, [
      chunk('log', 'line one\nline two\n', '2025-11-25T14:57:00.000000Z'),
      chunk('watch', '{"type":"ADDED"}\r\n', '2025-11-25T14:57:01.000000Z'),
    ]);
    expect(lines(cast).slice(1)).toEqual([
      [0, 'o', 'line one\r\nline two\r\n'],
      [1, 'o', '{"type":"ADDED"}\r\n'],
    ]);
  });

  it('defaults to 80x24, keeps env and an explicit timestamp', () => {
    const [header] = lines(toAsciicast({ title: 't', timestamp: 42, env: { TERM: 'xterm-256color' } }, [chunk('stdout', 'x', '2025-11-25T14:57:00.000000Z')]));
    expect(header).toEqual({ version: 2, width: 80, height: 24, timestamp: 42, env: { TERM: 'xterm-256color' }, title: 't' });
  });

  it('keeps a character split across chunks whole, and replaces invalid UTF-8', () => {
    const euro = Buffer.from('€');
    const cast = toAsciicast({ title: 't' }, [
      chunk('stdout', euro.subarray(0, 2), '2025-11-25T14:57:00.000000Z'),
      chunk('stdout', Buffer.concat([euro.subarray(2), Buffer.from([0xff]), Buffer.from('ok')]), '2025-11-25T14:57:00.100000Z'),
    ]);
    expect(lines(cast).slice(1)).toEqual([
      [0, 'o', ''],
      [0.1, 'o', '€\ufffdok'],
    ]);
  });

  it('an empty recording is just the header', () => {
    expect(lines(toAsciicast({ title: 'nothing' }, []))).toHaveLength(1);
  });
});

describe('asciicastInfo', () => {
  it('names who ran which command where', () => {
    const event = buildAuditEvent({
      requestId: 'r',
      method: 'GET',
      path: '/api/v1/namespaces/ns/pods/web-0/exec?command=sh&command=-c&command=ls&stdin=true',
      clientAddress: '127.0.0.1',
      headers: {},
      principal: { subject: 'alice', groups: [], kind: 'human', via: 'oidc', tokenId: undefined },
      result: { status: 101 },
      timeMicros: 1_764_082_620_000_000,
    });
    Object.assign(event.request, { subresource: 'exec', namespace: 'ns', name: 'web-0' });
    expect(asciicastInfo(event)).toEqual({ title: 'alice: exec ns/web-0 -- sh -c ls', timestamp: 1_764_082_620 });
  });
});
