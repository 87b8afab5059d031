/**
 * The rate limiter port's contract (src/ratelimit/rate-limiter.ts), run against Redis and memory by
 * test/integration/rate-limiter-contract.test.ts: a burst goes through at once, the next is refused with the time
 * until one more is allowed, a refusal consumes nothing, buckets are per partner and per route class, and the
 * bucket refills at the sustained rate. Real clocks (the Redis one uses Redis's TIME), so only lower bounds on time.
 */
import { randomUUID } from 'node:crypto';

import { expect, it } from 'vitest';

import type { RateLimitPolicies } from '../../src/ratelimit/policy.ts';
import type { RateLimiter } from '../../src/ratelimit/rate-limiter.ts';

export interface RateLimiterSubject {
  readonly name: string;
  create(policies: RateLimitPolicies): RateLimiter;
}

/** A slow bucket for counting (1/s: nothing refills within a test step) and a fast one for refilling. */
const POLICIES: RateLimitPolicies = {
  intake: { perSecond: 1, burst: 3 },
  read: { perSecond: 1, burst: 2 },
  webhooks: { perSecond: 20, burst: 1 },
};

export function rateLimiterContract(subject: RateLimiterSubject): void {
  const client = () => `partner-${randomUUID()}`;

  it('lets a burst through at once, counting down what remains, then refuses with the wait until the next', async () => {
    const limiter = subject.create(POLICIES);
    const partner = client();
    const remaining = [];
    for (let i = 0; i < 3; i += 1) {
      const outcome = await limiter.take(partner, 'intake');
      expect(outcome.kind).toBe('allowed');
      if (outcome.kind === 'allowed') remaining.push(outcome.remaining);
    }
    expect(remaining).toEqual([2, 1, 0]);
    const refused = await limiter.take(partner, 'intake');
    expect(refused.kind).toBe('limited');
    if (refused.kind !== 'limited') return;
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(1000);
  });

  it('consumes nothing when it refuses: the wait never grows from one refusal to the next', async () => {
    const limiter = subject.create(POLICIES);
    const partner = client();
    await limiter.take(partner, 'read');
    await limiter.take(partner, 'read');
    const first = await limiter.take(partner, 'read');
    const second = await limiter.take(partner, 'read');
    expect(first.kind).toBe('limited');
    expect(second.kind).toBe('limited');
    if (first.kind !== 'limited' || second.kind !== 'limited') return;
    expect(second.retryAfterMs).toBeLessThanOrEqual(first.retryAfterMs);
  });

  it('keeps a bucket per partner and per route class', async () => {
    const limiter = subject.create(POLICIES);
    const partner = client();
    await limiter.take(partner, 'read');
    await limiter.take(partner, 'read');
    expect((await limiter.take(partner, 'read')).kind).toBe('limited');
    expect((await limiter.take(client(), 'read')).kind).toBe('allowed');
    expect((await limiter.take(partner, 'intake')).kind).toBe('allowed');
  });

  it('refills at the sustained rate, and not before the wait it announced', async () => {
    const limiter = subject.create(POLICIES);
    const partner = client();
    expect((await limiter.take(partner, 'webhooks')).kind).toBe('allowed');
    const refused = await limiter.take(partner, 'webhooks');
    const refusedAt = performance.now();
    expect(refused.kind).toBe('limited');
    if (refused.kind !== 'limited') return;
    expect(refused.retryAfterMs).toBeLessThanOrEqual(50);
    let outcome = await limiter.take(partner, 'webhooks');
    const deadline = refusedAt + 5_000;
    while (outcome.kind === 'limited' && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      outcome = await limiter.take(partner, 'webhooks');
    }
    expect(outcome.kind).toBe('allowed');
    // A few ms of slack: Redis's clock and ours are read at slightly different moments.
    expect(performance.now() - refusedAt).toBeGreaterThanOrEqual(refused.retryAfterMs - 5);
  });
}
