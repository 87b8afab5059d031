/**
 * The check every protected route runs right after authentication and the scope: take one request from the
 * partner's bucket of the route class, and either let it through (undefined) or answer 429 before anything is read
 * or changed.
 *
 * Fail open: when the store cannot decide (Redis down or slow), the request goes through and we log it (once per
 * RATE_LIMIT_LIMITS.unavailableLogIntervalMs). Rate limiting protects capacity, not correctness — the ledger, the
 * idempotency keys and the uniqueness constraints stay correct under any load — so a Redis outage must not stop
 * partners' payments, which it would if we failed closed. (The DPoP replay check, which is about correctness,
 * fails closed.)
 */
import type { IntakeResponse } from '../payments/responses.ts';
import { problemResponse } from '../payments/responses.ts';
import { RATE_LIMIT_ERRORS, RATE_LIMIT_LIMITS, type RateLimitPolicies, type RouteClass } from './policy.ts';
import type { RateLimiter } from './rate-limiter.ts';

/** 429 with Retry-After and RateLimit headers, or undefined when the request may go on. */
export type RateLimitCheck = (clientId: string, routeClass: RouteClass) => Promise<IntakeResponse | undefined>;

export interface RateLimitCheckOptions {
  readonly limiter: RateLimiter;
  /** The limiter's policies (for the RateLimit-Policy header). */
  readonly policies: RateLimitPolicies;
  /** Where "store unavailable, failing open" goes. */
  readonly log: { warn(fields: Record<string, unknown>, message: string): void };
  /** Epoch milliseconds (throttles the warning). */
  readonly now?: (() => number) | undefined;
}

export function createRateLimitCheck(options: RateLimitCheckOptions): RateLimitCheck {
  const now = options.now ?? Date.now;
  let lastWarningMs = Number.NEGATIVE_INFINITY;
  let failedOpenSinceWarning = 0;

  return async (clientId, routeClass) => {
    const outcome = await options.limiter.take(clientId, routeClass);
    if (outcome.kind === 'allowed') return undefined;
    if (outcome.kind === 'unavailable') {
      failedOpenSinceWarning += 1;
      if (now() - lastWarningMs >= RATE_LIMIT_LIMITS.unavailableLogIntervalMs) {
        options.log.warn({ err: outcome.error, failedOpen: failedOpenSinceWarning }, 'rate limit store unavailable; requests go through unlimited');
        lastWarningMs = now();
        failedOpenSinceWarning = 0;
      }
      return undefined;
    }
    const policy = options.policies[routeClass];
    const retryAfterSeconds = Math.max(1, Math.ceil(outcome.retryAfterMs / 1000));
    const response = problemResponse(
      RATE_LIMIT_ERRORS.rate_limited.status,
      'rate_limited',
      `this partner's ${routeClass} limit is ${policy.perSecond} requests per second (bursts up to ${policy.burst}); retry in ${retryAfterSeconds} s`,
    );
    return {
      ...response,
      headers: {
        ...response.headers,
        'retry-after': String(retryAfterSeconds),
        // draft-ietf-httpapi-ratelimit-headers: quota q per window w seconds (a full bucket, and the time it takes to
        // refill from empty); r requests remaining, t seconds until the quota is available again.
        'ratelimit-policy': `"${routeClass}";q=${policy.burst};w=${Math.ceil(policy.burst / policy.perSecond)}`,
        ratelimit: `"${routeClass}";r=0;t=${retryAfterSeconds}`,
      },
    };
  };
}
