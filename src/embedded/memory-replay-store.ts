/**
 * The replay store port (src/security/replay-store.ts) in this process's memory, for a single gateway instance
 * without Redis (the embedded default). Same contract as the Redis one: the first claim of a key within its lifetime
 * is true, every later one false; and when it cannot remember (full of live jtis) it throws ReplayStoreUnavailable,
 * so the request is refused (503), never let through.
 *
 * Only for one instance: a second gateway process would have its own memory, and a proof replayed to it would pass.
 */
import { type ReplayStore, ReplayStoreUnavailable } from '../security/replay-store.ts';
import { ExpiringMap } from './expiring-map.ts';
import { EMBEDDED_LIMITS } from './limits.ts';

export interface MemoryReplayStoreOptions {
  readonly entriesMax?: number | undefined;
  readonly now?: (() => number) | undefined;
}

export function createMemoryReplayStore(options: MemoryReplayStoreOptions = {}): ReplayStore {
  const seen = new ExpiringMap<true>({ entriesMax: options.entriesMax ?? EMBEDDED_LIMITS.replayEntriesMax, now: options.now });
  return {
    async claimOnce(key, ttlSeconds) {
      if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) throw new RangeError(`ttlSeconds must be a positive integer (got ${ttlSeconds})`);
      const outcome = seen.setIfAbsent(key, true, ttlSeconds * 1000);
      if (outcome === 'full') throw new ReplayStoreUnavailable(`replay store holds ${options.entriesMax ?? EMBEDDED_LIMITS.replayEntriesMax} live entries`);
      return outcome === 'set';
    },
  };
}
