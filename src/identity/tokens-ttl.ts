const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

/** The longest lifetime a Gatehouse token may be given: ten years. */
export const MAX_TOKEN_TTL_SECONDS = 3650 * 86_400;

/**
 * Parses a token lifetime: a whole number and one unit, `s`, `m`, `h` or `d`.
 * Throws a RangeError that says what is accepted.
 *
 * @example
 * parseTtl('30d'); // → 2592000
 * parseTtl('90m'); // → 5400
 */
export function parseTtl(text: string): number {
  const match = /^(\d+)([smhd])$/.exec(text.trim());
  if (!match) {
    throw new RangeError(`invalid TTL "${text}": give a whole number and a unit (s, m, h or d), e.g. 30d, 12h, 90m or 3600s`);
  }
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2] as keyof typeof UNIT_SECONDS];
  if (seconds === 0) throw new RangeError(`invalid TTL "${text}": it must be longer than zero`);
  if (seconds > MAX_TOKEN_TTL_SECONDS) throw new RangeError(`invalid TTL "${text}": at most ${MAX_TOKEN_TTL_SECONDS / 86_400}d`);
  return seconds;
}
