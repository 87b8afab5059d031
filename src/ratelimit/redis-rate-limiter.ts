/**
 * The rate limiter on Redis, shared by every gateway instance: one key per (partner, route class) holding its GCRA
 * theoretical arrival time, read and advanced by one Lua script, so concurrent requests on any number of instances
 * are decided one at a time. The script takes the time from Redis (TIME), not from the caller: instances whose
 * clocks differ still share one clock for their buckets.
 */
import type { Redis } from 'ioredis';

import { assertPolicy, DEFAULT_RATE_LIMIT_POLICIES, RATE_LIMIT_LIMITS, type RateLimitPolicies } from './policy.ts';
import type { RateLimiter, RateLimitOutcome } from './rate-limiter.ts';

export interface RedisRateLimiterOptions {
  /** Namespaces every key, e.g. `isogw:`. */
  readonly keyPrefix: string;
  readonly policies?: RateLimitPolicies | undefined;
  readonly timeoutMs?: number | undefined;
}

/**
 * gcraStep (rate-limiter.ts) in Lua. ARGV: emission interval (ms), burst. Numbers go back as strings (Redis would
 * truncate Lua numbers to integers). Since Redis 5 scripts replicate their effects, so reading TIME is allowed.
 */
const GCRA_SCRIPT = `
local interval = tonumber(ARGV[1])
local capacity = interval * tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or '')
if tat == nil or tat < now then tat = now end
local newTat = tat + interval
local allowAt = newTat - capacity
if now < allowAt then
  return {'limited', string.format('%.3f', allowAt - now), string.format('%.3f', tat - now)}
end
redis.call('SET', KEYS[1], string.format('%.3f', newTat), 'PX', math.ceil(newTat - now))
return {'allowed', string.format('%.3f', newTat - now)}`;

class RateLimitStoreUnavailable extends Error {
  override readonly name = 'RateLimitStoreUnavailable';
}

export function createRedisRateLimiter(redis: Redis, options: RedisRateLimiterOptions): RateLimiter {
  if (options.keyPrefix === '') throw new TypeError('keyPrefix must not be empty');
  const policies = options.policies ?? DEFAULT_RATE_LIMIT_POLICIES;
  for (const [routeClass, policy] of Object.entries(policies)) assertPolicy(routeClass, policy);
  const timeoutMs = options.timeoutMs ?? RATE_LIMIT_LIMITS.redisTimeoutMs;

  return {
    async take(clientId, routeClass) {
      const policy = policies[routeClass];
      const intervalMs = 1000 / policy.perSecond;
      // `{clientId}` is a hash tag: a partner's buckets share a Redis Cluster slot.
      const key = `${options.keyPrefix}ratelimit:{${clientId}}:${routeClass}`;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new RateLimitStoreUnavailable(`rate limit store did not answer within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        const reply = (await Promise.race([redis.eval(GCRA_SCRIPT, 1, key, String(intervalMs), String(policy.burst)), timeout])) as string[];
        return outcomeOf(reply, intervalMs, policy.burst);
      } catch (error) {
        const cause = error instanceof Error ? error : new Error(String(error));
        return { kind: 'unavailable', error: cause instanceof RateLimitStoreUnavailable ? cause : new RateLimitStoreUnavailable('rate limit store unavailable', { cause }) };
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

function outcomeOf(reply: string[], intervalMs: number, burst: number): RateLimitOutcome {
  const [kind, first, second] = reply;
  if (kind === 'limited') return { kind: 'limited', retryAfterMs: Number(first), resetMs: Number(second) };
  if (kind === 'allowed') {
    const resetMs = Number(first);
    return { kind: 'allowed', remaining: Math.floor((intervalMs * burst - resetMs) / intervalMs + 1e-9), resetMs };
  }
  return { kind: 'unavailable', error: new RateLimitStoreUnavailable(`unexpected reply from the rate limit script: ${JSON.stringify(reply)}`) };
}
