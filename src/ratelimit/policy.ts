/**
 * Per-partner rate limits (issue 7 §5): what a partner may send per route class, named with units. A limit is a
 * token bucket seen as GCRA (the generic cell rate algorithm): `perSecond` is the sustained rate, `burst` how many
 * requests may arrive at once after a quiet spell. Limits apply per OAuth client and route class, after
 * authentication, so a partner's allowance can never be spent by anyone else.
 */

/** The route classes, each with a bucket of its own per partner. */
export const ROUTE_CLASSES = ['intake', 'read', 'webhooks'] as const;
export type RouteClass = (typeof ROUTE_CLASSES)[number];

export interface RateLimitPolicy {
  /** Sustained requests per second (a positive integer). */
  readonly perSecond: number;
  /** Requests that may arrive at once when the bucket is full (a positive integer). */
  readonly burst: number;
}

export type RateLimitPolicies = { readonly [K in RouteClass]: RateLimitPolicy };

/**
 * Generous on purpose: they stop a runaway client loop, not normal traffic. The end-to-end bench runs ~400
 * pacs.008/s spread over 4–8 banks; a single partner's intake at 200/s with a burst of 400 leaves it room.
 */
export const DEFAULT_RATE_LIMIT_POLICIES: RateLimitPolicies = Object.freeze({
  /** POST /iso20022/pacs.008 (payments:write). */
  intake: Object.freeze({ perSecond: 200, burst: 400 }),
  /** GET /partners/me, /payments/{uetr}, /accounts, /accounts/{id}/balance. */
  read: Object.freeze({ perSecond: 200, burst: 400 }),
  /** The webhook API (/webhooks/…, GET /payments/{uetr}/webhooks): configuration, not traffic. */
  webhooks: Object.freeze({ perSecond: 50, burst: 100 }),
});

export const RATE_LIMIT_LIMITS = Object.freeze({
  /** A Redis round trip for one decision; past it the request goes through (fail open, see rate-limit-check.ts). */
  redisTimeoutMs: 100,
  /** While the store is unavailable, one warning per this interval (not one per request). */
  unavailableLogIntervalMs: 10_000,
  /** Largest accepted perSecond or burst setting: beyond it a limit is no limit (and the arithmetic stays exact). */
  settingMax: 1_000_000,
});

/** The error code of a rate-limited answer (docs/errors.md is generated from RATE_LIMIT_ERRORS). */
export const RATE_LIMIT_ERRORS = {
  rate_limited: {
    status: 429,
    route: 'every route, after authentication',
    when: 'The partner (OAuth client) sent more requests of this route class than its limit allows: intake (POST /iso20022/pacs.008), reads (GET /partners/me, /payments/{uetr}, /accounts…) and the webhook API each have a bucket of their own. `Retry-After` says in how many seconds the next request is let through; `RateLimit-Policy` (`"<class>";q=<burst>;w=<seconds to refill>`) and `RateLimit` (`"<class>";r=0;t=<seconds>`) follow the IETF RateLimit header fields draft. Nothing was read or changed: retry the same request after the delay.',
  },
} as const;

export function assertPolicy(routeClass: string, policy: RateLimitPolicy): void {
  for (const [name, value] of [['perSecond', policy.perSecond], ['burst', policy.burst]] as const) {
    if (!Number.isSafeInteger(value) || value < 1 || value > RATE_LIMIT_LIMITS.settingMax) {
      throw new RangeError(`${routeClass}.${name} must be a whole number from 1 to ${RATE_LIMIT_LIMITS.settingMax} (got ${value})`);
    }
  }
}
