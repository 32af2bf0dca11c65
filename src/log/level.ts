import type { Logger } from 'pino';

/** The levels `log.level` takes, most verbose last but one (`silent` turns the log off). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Changes the level of the process logger, live: every module logs through
 * that one logger (there are no child loggers holding a level of their own).
 * The change is logged at info under whichever of the two levels shows it,
 * so going from info to debug and back both leave a line.
 *
 * @example
 * setLogLevel(log, 'debug', 'gatehouse-admin'); // → { level: 'debug', previous: 'info' }
 */
export function setLogLevel(log: Logger, level: LogLevel, by: string): { level: LogLevel; previous: string } {
  const previous = log.level;
  // Not `level`: pino's own field for the line's level.
  const line = (): void => log.info({ from: previous, to: level, by }, 'log level changed');
  if (log.isLevelEnabled('info')) {
    line();
    log.level = level;
  } else {
    log.level = level;
    line();
  }
  return { level, previous };
}
