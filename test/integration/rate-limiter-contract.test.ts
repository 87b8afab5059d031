/**
 * The per-partner rate limiter on Redis and in memory (src/embedded/) passes the same contract, then what only one
 * of them has: exact GCRA arithmetic on a clock the test moves (memory), a full store and a dead Redis answering
 * 'unavailable'; and the check in front of the routes: its 429 answer and failing open, with one warning per interval.
 */
import { randomUUID } from 'node:crypto';

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createMemoryRateLimiter } from '../../src/embedded/memory-rate-limiter.ts';
import { DEFAULT_RATE_LIMIT_POLICIES, RATE_LIMIT_LIMITS, type RateLimitPolicies } from '../../src/ratelimit/policy.ts';
import { createRateLimitCheck } from '../../src/ratelimit/rate-limit-check.ts';
import type { RateLimiter } from '../../src/ratelimit/rate-limiter.ts';
import { createRedisRateLimiter } from '../../src/ratelimit/redis-rate-limiter.ts';
import { deleteKeysWithPrefix, TEST_REDIS_URL } from '../support/authz.ts';
import { freePort } from '../support/gateway.ts';
import { rateLimiterContract, type RateLimiterSubject } from '../support/rate-limiter-contract.ts';

const filePrefix = `isogw-test:rate-limit:${randomUUID()}:`;
let redis: Redis;

beforeAll(() => {
  redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  await deleteKeysWithPrefix(redis, filePrefix);
  await redis.quit();
});

const subjects: RateLimiterSubject[] = [
  { name: 'Redis', create: (policies) => createRedisRateLimiter(redis, { keyPrefix: `${filePrefix}${randomUUID()}:`, policies, timeoutMs: 2_000 }) },
  { name: 'memory', create: (policies) => createMemoryRateLimiter({ policies }) },
];

describe.each(subjects)('RateLimiter on $name', (subject) => rateLimiterContract(subject));

const tiny: RateLimitPolicies = { ...DEFAULT_RATE_LIMIT_POLICIES, intake: { perSecond: 2, burst: 2 } };

describe('the in-memory rate limiter on a moved clock', () => {
  it('refuses the third of a burst of 2 at 2/s until exactly 500 ms have passed', async () => {
    let nowMs = 1_000_000;
    const limiter = createMemoryRateLimiter({ policies: tiny, now: () => nowMs });
    expect(await limiter.take('bank-alpha', 'intake')).toEqual({ kind: 'allowed', remaining: 1, resetMs: 500 });
    expect(await limiter.take('bank-alpha', 'intake')).toEqual({ kind: 'allowed', remaining: 0, resetMs: 1000 });
    expect(await limiter.take('bank-alpha', 'intake')).toEqual({ kind: 'limited', retryAfterMs: 500, resetMs: 1000 });
    nowMs += 499;
    expect((await limiter.take('bank-alpha', 'intake')).kind).toBe('limited');
    nowMs += 1;
    expect(await limiter.take('bank-alpha', 'intake')).toEqual({ kind: 'allowed', remaining: 0, resetMs: 1000 });
    nowMs += 10_000;
    expect(await limiter.take('bank-alpha', 'intake')).toEqual({ kind: 'allowed', remaining: 1, resetMs: 500 });
  });

  it('answers unavailable (and the check fails open) when it holds as many buckets as it may', async () => {
    const limiter = createMemoryRateLimiter({ bucketsMax: 1 });
    expect((await limiter.take('bank-alpha', 'intake')).kind).toBe('allowed');
    expect((await limiter.take('bank-beta', 'intake')).kind).toBe('unavailable');
    expect((await limiter.take('bank-alpha', 'intake')).kind).toBe('allowed');
  });
});

describe('the Redis rate limiter when Redis is gone', () => {
  it('answers unavailable within its timeout instead of throwing or hanging', async () => {
    const dead = new Redis(`redis://127.0.0.1:${await freePort()}`, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true });
    dead.on('error', () => {});
    try {
      const limiter = createRedisRateLimiter(dead, { keyPrefix: filePrefix, timeoutMs: 200 });
      const outcome = await limiter.take('bank-alpha', 'intake');
      expect(outcome.kind).toBe('unavailable');
    } finally {
      dead.disconnect();
    }
  });
});

describe('the rate limit check in front of the routes', () => {
  const warnings: Record<string, unknown>[] = [];
  const log = { warn: (fields: Record<string, unknown>) => void warnings.push(fields) };

  it('answers 429 rate_limited with Retry-After in whole seconds (rounded up) and the RateLimit header fields', async () => {
    let nowMs = 0;
    const policies: RateLimitPolicies = { ...DEFAULT_RATE_LIMIT_POLICIES, read: { perSecond: 1, burst: 3 } };
    const check = createRateLimitCheck({ limiter: createMemoryRateLimiter({ policies, now: () => nowMs }), policies, log });
    for (let i = 0; i < 3; i += 1) expect(await check('bank-gamma', 'read')).toBeUndefined();
    nowMs += 100;
    const answer = await check('bank-gamma', 'read');
    expect(answer?.status).toBe(429);
    expect(JSON.parse(answer?.body ?? '{}')).toMatchObject({ error: 'rate_limited' });
    expect(answer?.headers).toMatchObject({
      'retry-after': '1',
      'ratelimit-policy': '"read";q=3;w=3',
      ratelimit: '"read";r=0;t=1',
      'cache-control': 'no-store',
      'content-type': 'application/json; charset=utf-8',
    });
  });

  it('lets every request through while the store is unavailable, warning once per interval', async () => {
    warnings.length = 0;
    let nowMs = 0;
    const broken: RateLimiter = { take: async () => ({ kind: 'unavailable', error: new Error('down') }) };
    const check = createRateLimitCheck({ limiter: broken, policies: DEFAULT_RATE_LIMIT_POLICIES, log, now: () => nowMs });
    for (let i = 0; i < 5; i += 1) expect(await check('bank-alpha', 'intake')).toBeUndefined();
    expect(warnings).toHaveLength(1);
    nowMs += RATE_LIMIT_LIMITS.unavailableLogIntervalMs;
    expect(await check('bank-alpha', 'intake')).toBeUndefined();
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toMatchObject({ failedOpen: 5 });
  });
});
