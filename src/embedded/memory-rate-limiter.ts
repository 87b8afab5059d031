/**
 * The rate limiter port (src/ratelimit/rate-limiter.ts) in this process's memory, for a single gateway instance
 * without Redis (the embedded default). Same GCRA arithmetic and answers as the Redis one; each take reads and
 * writes without awaiting in between, so it is one atomic step like the Lua script.
 *
 * Only for one instance: a second gateway process would keep buckets of its own, and a partner would get each
 * instance's allowance.
 */
import { assertPolicy, DEFAULT_RATE_LIMIT_POLICIES, type RateLimitPolicies } from '../ratelimit/policy.ts';
import { gcraStep, type RateLimiter } from '../ratelimit/rate-limiter.ts';
import { ExpiringMap } from './expiring-map.ts';

/**
 * Buckets held at once: one per (partner, route class), and only authenticated partners have one, so the partner
 * registry bounds it long before this does. Full, the limiter answers 'unavailable' (and the caller fails open).
 */
export const MEMORY_RATE_LIMIT_BUCKETS_MAX = 10_000;

export interface MemoryRateLimiterOptions {
  readonly policies?: RateLimitPolicies | undefined;
  readonly bucketsMax?: number | undefined;
  /** Epoch milliseconds; injected so tests can move time. */
  readonly now?: (() => number) | undefined;
}

export function createMemoryRateLimiter(options: MemoryRateLimiterOptions = {}): RateLimiter {
  const policies = options.policies ?? DEFAULT_RATE_LIMIT_POLICIES;
  for (const [routeClass, policy] of Object.entries(policies)) assertPolicy(routeClass, policy);
  const now = options.now ?? Date.now;
  const buckets = new ExpiringMap<number>({ entriesMax: options.bucketsMax ?? MEMORY_RATE_LIMIT_BUCKETS_MAX, now });

  return {
    async take(clientId, routeClass) {
      const key = `${clientId}\u0000${routeClass}`;
      const step = gcraStep(buckets.get(key), now(), policies[routeClass]);
      if (step.store !== undefined && !buckets.set(key, step.store.tatMs, step.store.ttlMs)) {
        return { kind: 'unavailable', error: new Error(`rate limiter holds ${options.bucketsMax ?? MEMORY_RATE_LIMIT_BUCKETS_MAX} buckets`) };
      }
      return step.outcome;
    },
  };
}
