/**
 * The sliding-window counter budgets use: counts are kept per fixed window
 * (aligned to multiples of the window length since the epoch), and a request
 * fits when the current window's count plus the previous window's count,
 * weighted by how much of the previous window still overlaps the sliding
 * window ending now, stays within the limit. No fixed window ever holds more
 * than the limit, and a burst at a window's end still counts against the
 * start of the next one. Pure functions; the stores and the stage use them.
 *
 * @module
 */

/** The start (ms since the epoch) of the fixed window holding `now`. */
export function windowStart(now: number, windowMs: number): number {
  return Math.floor(now / windowMs) * windowMs;
}

/**
 * How many requests the current window may hold in all at `now`, given the
 * previous window's count: `floor(limit - previous × overlap)`. A request
 * fits when the current count is below it.
 *
 * @example
 * // Limit 10 per 10m, 8 in the previous window, 2.5 minutes into this one: 8 × 0.75 = 6 still count.
 * currentCap(10, 600_000, 8, 150_000) // → 4
 */
export function currentCap(limit: number, windowMs: number, previous: number, elapsedMs: number): number {
  const overlap = windowMs - Math.min(Math.max(elapsedMs, 0), windowMs);
  // Integer arithmetic (ms), so the boundary is exact: floor((limit·w − previous·overlap) / w).
  return Math.floor((limit * windowMs - previous * overlap) / windowMs);
}

export interface WindowCounts {
  /** Requests counted in the current fixed window. */
  readonly current: number;
  /** Requests counted in the fixed window before it. */
  readonly previous: number;
}

/** The sliding-window estimate of requests in the last `windowMs` at `now`, rounded. */
export function usedAt(counts: WindowCounts, windowMs: number, now: number): number {
  const elapsed = now - windowStart(now, windowMs);
  return Math.round(counts.current + (counts.previous * (windowMs - elapsed)) / windowMs);
}

/**
 * When the next request fits again (ms since the epoch), for a budget that
 * has no room at `now`, assuming nothing else is counted meanwhile.
 *
 * @example
 * // Limit 3 per 60s, 3 counted in this window (which began at 0): the next window must
 * // overlap this one by at most 2/3, so the next request fits at 60s + 20s.
 * nextFit(3, 60_000, { current: 3, previous: 0 }, 30_000) // → 80_000
 */
export function nextFit(limit: number, windowMs: number, counts: WindowCounts, now: number): number {
  const start = windowStart(now, windowMs);
  if (counts.current + 1 <= limit && counts.previous > 0) {
    // Later in this window, once the previous window's weight has fallen far enough.
    const overlapAllowed = ((limit - counts.current - 1) * windowMs) / counts.previous;
    return Math.max(now, start + Math.ceil(windowMs - overlapAllowed));
  }
  // In the next window, where this window's count becomes the previous one.
  const next = start + windowMs;
  if (counts.current === 0) return next;
  const overlapAllowed = ((limit - 1) * windowMs) / counts.current;
  return next + Math.max(0, Math.ceil(windowMs - overlapAllowed));
}
