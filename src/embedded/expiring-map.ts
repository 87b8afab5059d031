/**
 * The little of Redis the in-memory ports need: keys with a lifetime (like SET ... PX) and a bound on how many are
 * held (like maxmemory with noeviction: a full store refuses writes rather than evicting, because evicting a replay
 * record would let a replay through). Expired entries are invisible at once and dropped lazily: on the read that
 * finds them, and all together when the map is full, so memory stays within `entriesMax` without a timer.
 *
 * One process, one event loop: every method runs to completion without awaiting, which is what makes the
 * check-then-write of the callers atomic (the role Lua scripts and MULTI play in Redis).
 */

interface Entry<V> {
  readonly value: V;
  /** Epoch milliseconds after which the entry no longer exists. */
  readonly expiresAtMs: number;
}

export interface ExpiringMapOptions {
  readonly entriesMax: number;
  /** Epoch milliseconds; injected so tests (and nothing else) can move time. */
  readonly now?: (() => number) | undefined;
}

export class ExpiringMap<V> {
  readonly #entries = new Map<string, Entry<V>>();
  readonly #entriesMax: number;
  readonly #now: () => number;

  constructor(options: ExpiringMapOptions) {
    if (!Number.isSafeInteger(options.entriesMax) || options.entriesMax < 1) {
      throw new RangeError(`entriesMax must be a positive integer (got ${options.entriesMax})`);
    }
    this.#entriesMax = options.entriesMax;
    this.#now = options.now ?? Date.now;
  }

  get(key: string): V | undefined {
    return this.#live(key)?.value;
  }

  /** Milliseconds `key` has left to live, or undefined when it does not exist. */
  ttlMs(key: string): number | undefined {
    const entry = this.#live(key);
    return entry === undefined ? undefined : entry.expiresAtMs - this.#now();
  }

  /** Writes (or overwrites) `key` for `ttlMs`. False, and nothing written, when the map is full of live entries. */
  set(key: string, value: V, ttlMs: number): boolean {
    assertTtl(ttlMs);
    if (this.#live(key) === undefined && !this.#hasRoom()) return false;
    this.#entries.set(key, { value, expiresAtMs: this.#now() + ttlMs });
    return true;
  }

  /** SET NX PX: writes only when `key` does not exist. */
  setIfAbsent(key: string, value: V, ttlMs: number): 'set' | 'exists' | 'full' {
    assertTtl(ttlMs);
    if (this.#live(key) !== undefined) return 'exists';
    if (!this.#hasRoom()) return 'full';
    this.#entries.set(key, { value, expiresAtMs: this.#now() + ttlMs });
    return 'set';
  }

  /** SET XX KEEPTTL: replaces the value of a live `key` and keeps its lifetime; false when it does not exist. */
  replace(key: string, value: V): boolean {
    const entry = this.#live(key);
    if (entry === undefined) return false;
    this.#entries.set(key, { value, expiresAtMs: entry.expiresAtMs });
    return true;
  }

  delete(key: string): boolean {
    return this.#live(key) !== undefined && this.#entries.delete(key);
  }

  /** Live entries (expired ones still held are dropped first). */
  get size(): number {
    this.#dropExpired();
    return this.#entries.size;
  }

  #live(key: string): Entry<V> | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  #hasRoom(): boolean {
    if (this.#entries.size < this.#entriesMax) return true;
    // Full: only now is a sweep worth its O(n); it runs at most once per entriesMax writes of new keys.
    this.#dropExpired();
    return this.#entries.size < this.#entriesMax;
  }

  #dropExpired(): void {
    const now = this.#now();
    for (const [key, entry] of this.#entries) if (entry.expiresAtMs <= now) this.#entries.delete(key);
  }
}

function assertTtl(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new RangeError(`ttlMs must be a positive integer (got ${ttlMs})`);
}
