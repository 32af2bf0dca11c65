/** The sliding-window counter: room in the current window, the estimate of use, and when a used-up budget frees up. */
import { describe, expect, it } from 'vitest';
import { currentCap, nextFit, usedAt, windowStart } from '../../../src/budgets/window.js';

const W = 60_000;

describe('sliding window', () => {
  it('aligns windows to multiples of their length', () => {
    expect(windowStart(125_000, W)).toBe(120_000);
    expect(windowStart(120_000, W)).toBe(120_000);
  });

  it('lets the current window hold the limit minus what of the previous window still overlaps', () => {
    expect(currentCap(10, W, 0, 0)).toBe(10);
    expect(currentCap(10, W, 10, 0)).toBe(0); // a full previous window, fully overlapping
    expect(currentCap(10, W, 10, 30_000)).toBe(5);
    expect(currentCap(10, W, 8, 15_000)).toBe(4); // 8 × 0.75 = 6
    expect(currentCap(10, W, 10, W)).toBe(10);
    expect(currentCap(3, W, 3, 19_999)).toBe(0); // 3 × 0.6667 = 2.00005: no room yet
    expect(currentCap(3, W, 3, 20_000)).toBe(1);
  });

  it('estimates the requests in the sliding window ending now', () => {
    expect(usedAt({ current: 2, previous: 8 }, W, 120_000 + 15_000)).toBe(8);
    expect(usedAt({ current: 3, previous: 0 }, W, 30_000)).toBe(3);
  });

  it('says when the next request fits: later in this window once the previous one weighs less', () => {
    // Limit 10, 5 now and 10 before, 30s in: 5 + 10 × 0.5 = 10, full. At 36s 10 × 0.4 = 4 still count, so a sixth fits.
    expect(nextFit(10, W, { current: 5, previous: 10 }, 60_000 + 30_000)).toBe(60_000 + 36_000);
    const at = nextFit(10, W, { current: 5, previous: 10 }, 90_000);
    expect(currentCap(10, W, 10, at - 60_000)).toBeGreaterThan(5);
    expect(currentCap(10, W, 10, at - 60_000 - 1)).toBe(5);
  });

  it('says when the next request fits: in the next window when this one is full', () => {
    expect(nextFit(3, W, { current: 3, previous: 0 }, 30_000)).toBe(80_000);
    expect(currentCap(3, W, 3, 80_000 - 60_000)).toBe(1);
    expect(nextFit(1, W, { current: 1, previous: 5 }, 10_000)).toBe(120_000);
  });
});
