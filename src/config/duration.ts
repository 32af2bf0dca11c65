import { z } from 'zod';
import { parseTtl } from '../identity/tokens-ttl.js';

/** A duration as written in config and requests (`30s`, `15m`, `8h`, `7d`), checked with {@link parseTtl} and kept as text. */
export const durationText = z.string().superRefine((text, ctx) => {
  try {
    parseTtl(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

/** A duration as text, parsed to milliseconds; at most `maxSeconds` when given. */
export function durationMs(maxSeconds?: number): z.ZodType<number, string> {
  return z.string().transform((text, ctx) => {
    let seconds: number;
    try {
      seconds = parseTtl(text);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
    if (maxSeconds !== undefined && seconds > maxSeconds) {
      ctx.addIssue({ code: 'custom', message: `"${text}" is longer than the ${maxSeconds / 3600}h allowed here` });
      return z.NEVER;
    }
    return seconds * 1000;
  });
}
