import { describe, expect, it } from 'vitest';
import { durationMs, durationText } from '../../../src/config/duration.js';

describe('durations in config and requests', () => {
  it('keeps valid text and refuses what parseTtl refuses', () => {
    expect(durationText.parse('15m')).toBe('15m');
    expect(() => durationText.parse('0s')).toThrow(/longer than zero/);
    expect(() => durationText.parse('1h30m')).toThrow(/whole number and a unit/);
  });

  it('parses to milliseconds within an optional bound', () => {
    expect(durationMs().parse('8h')).toBe(8 * 3_600_000);
    expect(durationMs(24 * 3600).parse('24h')).toBe(86_400_000);
    expect(() => durationMs(24 * 3600).parse('2d')).toThrow(/2d.* is longer than the 24h allowed here/);
  });
});
