import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { batchLines } from '../../../src/log/logger.js';

function fakeDestination() {
  const writes: string[] = [];
  const calls: string[] = [];
  const destination = {
    destroyed: false,
    write: (line: string) => (writes.push(line), true),
    flush: () => void calls.push('flush'),
    flushSync: () => void calls.push('flushSync'),
  };
  return { destination: batchLines(destination), writes, calls, raw: destination };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('batchLines', () => {
  it('writes the lines logged close together in one write, within 50 ms', () => {
    const { destination, writes } = fakeDestination();
    destination.write('a\n');
    destination.write('b\n');
    expect(writes).toEqual([]);
    vi.advanceTimersByTime(50);
    expect(writes).toEqual(['a\nb\n']);
    vi.advanceTimersByTime(1000);
    expect(writes).toEqual(['a\nb\n']);
  });

  it('writes what waits before it would grow past 4 KiB (a pipe takes up to 4 KiB whole)', () => {
    const { destination, writes } = fakeDestination();
    const line = `${'x'.repeat(1023)}\n`;
    for (let i = 0; i < 4; i++) destination.write(line);
    expect(writes).toEqual([]);
    destination.write('tail\n');
    expect(writes).toEqual([line.repeat(4)]);
    vi.advanceTimersByTime(50);
    expect(writes).toEqual([line.repeat(4), 'tail\n']);
  });

  it('writes a line longer than a batch on its own', () => {
    const { destination, writes } = fakeDestination();
    const long = `${'y'.repeat(5000)}\n`;
    destination.write('a\n');
    destination.write(long);
    expect(writes).toEqual(['a\n']);
    vi.advanceTimersByTime(50);
    expect(writes).toEqual(['a\n', long]);
  });

  it('writes what waits before a flush, sync or not (pino flushes on exit)', () => {
    const { destination, writes, calls } = fakeDestination();
    destination.write('a\n');
    destination.flushSync();
    expect(writes).toEqual(['a\n']);
    expect(calls).toEqual(['flushSync']);
    destination.write('b\n');
    destination.flush();
    expect(writes).toEqual(['a\n', 'b\n']);
    expect(calls).toEqual(['flushSync', 'flush']);
    vi.advanceTimersByTime(50);
    expect(writes).toEqual(['a\n', 'b\n']);
  });

  it('drops what waits once the destination is closed instead of throwing from the timer', () => {
    const { destination, writes, raw } = fakeDestination();
    destination.write('a\n');
    raw.destroyed = true;
    vi.advanceTimersByTime(50);
    expect(writes).toEqual([]);
  });
});
