import { pino } from 'pino';
import type { Logger } from 'pino';

/** The process logger: JSON lines on stderr, so stdout stays free for command output. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { name: 'gatehouse' } }, pino.destination({ fd: 2, sync: false }));
}
