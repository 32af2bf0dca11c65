import { describe, expect, it } from 'vitest';
import { createSlot } from '../../../src/gateway/slot.js';

const value = (name: string) => {
  const v = { name, closed: 0, close: () => void v.closed++ };
  return v;
};

describe('the swapped request path', () => {
  it('closes a replaced value at once when nobody uses it', () => {
    const a = value('a');
    const slot = createSlot(a);
    const b = value('b');
    slot.swap(b);
    expect(slot.current()).toBe(b);
    expect(a.closed).toBe(1);
  });

  it('lets a request keep the value it started with and closes it after the last one ends', () => {
    const a = value('a');
    const slot = createSlot(a);
    const first = slot.acquire();
    const second = slot.acquire();
    slot.swap(value('b'));
    expect(first.value).toBe(a);
    expect(slot.acquire().value.name).toBe('b');
    first.release();
    first.release(); // twice counts once
    expect(a.closed).toBe(0);
    second.release();
    expect(a.closed).toBe(1);
  });

  it('closes the current value and any still in use on close', () => {
    const a = value('a');
    const slot = createSlot(a);
    const held = slot.acquire();
    const b = value('b');
    slot.swap(b);
    slot.close();
    expect([a.closed, b.closed]).toEqual([1, 1]);
    held.release();
    expect(a.closed).toBe(1);
  });
});
