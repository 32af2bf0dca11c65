import { pino } from 'pino';
import type { Logger } from 'pino';

/**
 * Lines waiting for others to leave with them: at most this many characters
 * (the size up to which a pipe takes a write whole, PIPE_BUF)…
 */
const BATCH_CHARS = 4096;
/** …or this long after the first of them was logged. */
const BATCH_MS = 50;

/**
 * The process logger: JSON lines on stderr, so stdout stays free for command
 * output. See {@link batchLines} for how they are written.
 */
export function createLogger(level: string): Logger {
  return pino({ level, base: { name: 'gatehouse' } }, batchLines(pino.destination({ fd: 2, sync: false })));
}

/** What pino writes to: a `pino.destination()` (SonicBoom). */
export interface LineDestination {
  write(line: string): boolean;
  flush(cb?: (err?: Error) => unknown): void;
  flushSync(): void;
}

/**
 * Makes the destination write lines in batches (up to 4 KiB, or 50 ms after
 * the first waiting line) instead of one asynchronous write each: every write
 * is a round trip through libuv's thread pool, and at one access line per
 * request that cost the gateway more CPU than its request stages. A flush
 * (pino's on exit, `logger.flush()`) writes what is waiting first; the timer
 * runs only while a line waits, so an idle process does nothing.
 *
 * @example
 * const log = pino({ level: 'info' }, batchLines(pino.destination({ fd: 2, sync: false })));
 */
export function batchLines<D extends LineDestination>(destination: D): D {
  const write = destination.write.bind(destination);
  const flush = destination.flush.bind(destination);
  const flushSync = destination.flushSync.bind(destination);
  let waiting = '';
  let timer: NodeJS.Timeout | undefined;
  const release = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    const out = waiting;
    waiting = '';
    // A destination already closed (at exit) takes nothing more; writing would throw from the timer.
    if (out !== '' && (destination as { destroyed?: boolean }).destroyed !== true) write(out);
  };
  destination.write = (line: string): boolean => {
    if (waiting.length + line.length > BATCH_CHARS) release();
    waiting += line;
    timer ??= setTimeout(release, BATCH_MS).unref();
    return true;
  };
  destination.flush = (cb) => {
    release();
    flush(cb);
  };
  destination.flushSync = () => {
    release();
    flushSync();
  };
  return destination;
}
