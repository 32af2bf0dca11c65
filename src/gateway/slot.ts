/** Something swapped in whole, closed once nobody uses it any more. */
export interface Retirable {
  close(): void;
}

/** The one reference a config reload swaps. */
export interface Slot<T extends Retirable> {
  /** What new work should use. */
  current(): T;
  /**
   * Takes the current value for one request or session; `release` once it
   * has ended (a replaced value is closed when its last user releases it).
   */
  acquire(): { value: T; release: () => void };
  /** Puts `next` in force; the previous value is closed now if idle, else when its last user releases it. */
  swap(next: T): void;
  /** Closes the current value (shutdown, after in-flight work is drained). */
  close(): void;
}

/**
 * A reference that is swapped atomically: a request acquires one value and
 * keeps it to the end (a watch or exec session may hold an old value for
 * hours), so it sees the old configuration or the new one, never a mix.
 *
 * @example
 * const slot = createSlot(buildHandling(config));
 * const { value, release } = slot.acquire();
 * res.once('close', release);
 * slot.swap(buildHandling(next));
 */
export function createSlot<T extends Retirable>(initial: T): Slot<T> {
  let current = initial;
  const users = new Map<T, number>();
  const retired = new Set<T>();
  const leave = (value: T): void => {
    const n = (users.get(value) ?? 1) - 1;
    if (n > 0) {
      users.set(value, n);
      return;
    }
    users.delete(value);
    if (retired.delete(value)) value.close();
  };
  return {
    current: () => current,
    acquire() {
      const value = current;
      users.set(value, (users.get(value) ?? 0) + 1);
      let released = false;
      return {
        value,
        release: () => {
          if (released) return;
          released = true;
          leave(value);
        },
      };
    },
    swap(next) {
      const previous = current;
      current = next;
      if (previous === next) return;
      if (users.has(previous)) retired.add(previous);
      else previous.close();
    },
    close() {
      current.close();
      for (const value of retired) value.close();
      retired.clear();
    },
  };
}
