/**
 * The rate limiter port: one decision per request, atomic per (partner, route class). Implemented on Redis
 * (redis-rate-limiter.ts: shared by every gateway instance) and in memory (src/embedded/memory-rate-limiter.ts: one
 * instance only), both held to test/support/rate-limiter-contract.ts. The arithmetic (GCRA) is written once here
 * for the memory one and mirrored in the Redis one's Lua script.
 */
import type { RateLimitPolicy, RouteClass } from './policy.ts';

export type RateLimitOutcome =
  /** Let through; `remaining` more would be let through right now; the bucket is full again in `resetMs`. */
  | { readonly kind: 'allowed'; readonly remaining: number; readonly resetMs: number }
  /** Refused; the next request is let through in `retryAfterMs`. Nothing was consumed. */
  | { readonly kind: 'limited'; readonly retryAfterMs: number; readonly resetMs: number }
  /** The store could not decide (Redis down or slow, memory full); the caller fails open. */
  | { readonly kind: 'unavailable'; readonly error: Error };

export interface RateLimiter {
  /** Takes one request from the (clientId, routeClass) bucket. Never throws: a failure is 'unavailable'. */
  take(clientId: string, routeClass: RouteClass): Promise<RateLimitOutcome>;
}

/** GCRA state: the theoretical arrival time (epoch ms) of the next request at the sustained rate. */
export interface GcraStep {
  readonly outcome: Exclude<RateLimitOutcome, { kind: 'unavailable' }>;
  /** The new TAT to store (allowed only) and how long it matters (ms; after it the bucket is full anyway). */
  readonly store?: { readonly tatMs: number; readonly ttlMs: number };
}

/**
 * One GCRA step at `nowMs`: each request advances the TAT by one emission interval (1000 / perSecond ms); a request
 * is let through while the TAT stays within burst intervals of now. Equivalent to a token bucket of `burst`
 * tokens refilled at `perSecond`, with a single number of state.
 */
export function gcraStep(storedTatMs: number | undefined, nowMs: number, policy: RateLimitPolicy): GcraStep {
  const intervalMs = 1000 / policy.perSecond;
  const capacityMs = intervalMs * policy.burst;
  const tat = storedTatMs === undefined || storedTatMs < nowMs ? nowMs : storedTatMs;
  const newTat = tat + intervalMs;
  const allowAt = newTat - capacityMs;
  if (nowMs < allowAt) return { outcome: { kind: 'limited', retryAfterMs: allowAt - nowMs, resetMs: tat - nowMs } };
  const resetMs = newTat - nowMs;
  return {
    outcome: { kind: 'allowed', remaining: Math.floor((capacityMs - resetMs) / intervalMs + 1e-9), resetMs },
    store: { tatMs: newTat, ttlMs: Math.ceil(resetMs) },
  };
}
