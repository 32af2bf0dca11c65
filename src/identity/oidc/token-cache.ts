import type { Principal } from '../principal.js';

interface Entry {
  readonly principal: Principal;
  readonly expiresAtMs: number;
}

/**
 * A small LRU of verified tokens, keyed by the token's SHA-256 (never the
 * token), each held until the earlier of the token's `exp` and a maximum age.
 * An entry past its time is dropped when looked up, never served. Callers get
 * a copy, so nothing they do to a principal changes the cached one.
 *
 * @example
 * const cache = new VerifiedTokenCache({ maxEntries: 1000, maxAgeMs: 60_000 });
 * cache.set(sha256, principal, exp * 1000);
 * cache.get(sha256); // → a copy of principal until min(exp, now + 60 s), then undefined
 */
export class VerifiedTokenCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #maxAgeMs: number;
  readonly #now: () => number;

  constructor(options: { maxEntries: number; maxAgeMs: number; now?: () => number }) {
    this.#maxEntries = options.maxEntries;
    this.#maxAgeMs = options.maxAgeMs;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): Principal | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    if (this.#now() >= entry.expiresAtMs) return undefined;
    this.#entries.set(key, entry);
    return copy(entry.principal);
  }

  /** Caches `principal` until `expiresAtMs` (the token's `exp`) or the maximum age, whichever is first. */
  set(key: string, principal: Principal, expiresAtMs: number): void {
    const until = Math.min(expiresAtMs, this.#now() + this.#maxAgeMs);
    if (until <= this.#now() || this.#maxEntries === 0) return;
    this.#entries.delete(key);
    this.#entries.set(key, { principal: copy(principal), expiresAtMs: until });
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
  }
}

function copy(principal: Principal): Principal {
  return { ...principal, groups: [...principal.groups] };
}
