import { parseTtl } from '../identity/tokens-ttl.js';

/**
 * An RFC 3339 time, or an age (`2h`) before now; milliseconds since the epoch.
 *
 * @example
 * parseTime('7d'); // → Date.now() - 7 days
 * parseTime('2025-11-25T14:00:00Z'); // → 1764079200000
 */
export function parseTime(text: string): number {
  if (/^\d+[smhd]$/.test(text.trim())) return Date.now() - parseTtl(text) * 1000;
  const ms = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(ms)) throw new Error(`invalid time "${text}": give an RFC 3339 time (2025-11-25T14:00:00Z) or an age (90m, 2h, 7d)`);
  return ms;
}
