/**
 * Per-partner rate limits through a real gateway (mutual TLS, real tokens, Redis): the intake answers 429 right
 * after authentication — before the Idempotency-Key or the body is looked at — while another partner is still
 * served; the read routes (GET /partners/me included) share one bucket and the webhook API has its own; requests
 * that fail authentication spend nobody's budget. Tiny limits (1/s) and "send until refused" loops, so a slow
 * machine that lets a token refill mid-test only makes a loop one step longer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { RateLimitPolicies } from '../../src/ratelimit/policy.ts';
import { type Matrix, sendMatrix, startMatrix, validCertificateBoundRequest, validDpopRequest } from '../support/auth-matrix.ts';
import type { GatewayAnswer } from '../support/gateway.ts';

const POLICIES: RateLimitPolicies = {
  intake: { perSecond: 1, burst: 2 },
  read: { perSecond: 1, burst: 2 },
  webhooks: { perSecond: 1, burst: 2 },
};
/** Requests sent before giving up on a 429: far more than a burst plus what a slow test could refill. */
const ATTEMPTS_MAX = 20;

let matrix: Matrix;

beforeAll(async () => {
  matrix = await startMatrix({ rateLimits: POLICIES, webhooks: { relay: false, allowInsecureEndpoints: true } });
}, 60_000);

afterAll(async () => {
  await matrix?.close();
});

/** Sends fresh requests until one is refused with 429; the answers before it and the refusal. */
async function untilRateLimited(next: () => Promise<GatewayAnswer>): Promise<{ before: GatewayAnswer[]; refusal: GatewayAnswer }> {
  const before: GatewayAnswer[] = [];
  for (let i = 0; i < ATTEMPTS_MAX; i += 1) {
    const answer = await next();
    if (answer.status === 429) return { before, refusal: answer };
    before.push(answer);
  }
  throw new Error(`no 429 in ${ATTEMPTS_MAX} requests: ${before.map((a) => a.status).join(', ')}`);
}

function expectRateLimited(answer: GatewayAnswer, routeClass: string): void {
  expect(answer.status).toBe(429);
  expect(JSON.parse(answer.body)).toMatchObject({ error: 'rate_limited' });
  expect(answer.headers['retry-after']).toBe('1');
  expect(answer.headers['ratelimit-policy']).toBe(`"${routeClass}";q=2;w=2`);
  expect(answer.headers.ratelimit).toBe(`"${routeClass}";r=0;t=1`);
  expect(answer.headers['cache-control']).toBe('no-store');
}

describe('per-partner rate limits', () => {
  it('the intake refuses a partner over its limit before the Idempotency-Key and the body, and serves another partner', async () => {
    // No Idempotency-Key and a body that is not XML: the requests let through answer 400, the refused one 429 —
    // so the limit is checked before either is looked at, and nothing is booked.
    const { before, refusal } = await untilRateLimited(async () =>
      sendMatrix((await validDpopRequest(matrix, { headers: { 'idempotency-key': undefined, 'content-type': 'text/plain' }, body: 'not a pacs.008' })).request),
    );
    expect(before.length).toBeGreaterThanOrEqual(POLICIES.intake.burst);
    for (const answer of before) expect(JSON.parse(answer.body)).toMatchObject({ error: 'idempotency_key_missing' });
    expectRateLimited(refusal, 'intake');
    const { rows } = await matrix.gateway.database.pool.query<{ count: string }>('select count(*) from payments');
    expect(rows[0]?.count).toBe('0');

    const beta = await sendMatrix((await validCertificateBoundRequest(matrix)).request);
    expect(beta.status, beta.body).toBe(200);
  });

  it('the read routes share a bucket per partner, GET /partners/me included; the webhook API has its own', async () => {
    const read = async (path: string) => sendMatrix((await validDpopRequest(matrix, { partner: 'bank-gamma', method: 'GET', path })).request);
    const { before, refusal } = await untilRateLimited(() => read('/partners/me'));
    expect(before.length).toBeGreaterThanOrEqual(POLICIES.read.burst);
    for (const answer of before) expect(answer.status).toBe(200);
    expectRateLimited(refusal, 'read');
    // Same bucket: GET /accounts gets fewer than a fresh bucket's burst (at most what refilled meanwhile).
    const accounts = await untilRateLimited(() => read('/accounts'));
    expect(accounts.before.length).toBeLessThan(POLICIES.read.burst);
    expectRateLimited(accounts.refusal, 'read');

    const webhooks = await read('/webhooks/endpoints');
    expect(webhooks.status, webhooks.body).toBe(200);
    const spent = await untilRateLimited(() => read('/webhooks/endpoints'));
    expectRateLimited(spent.refusal, 'webhooks');
  });

  it('a request that fails authentication spends no budget', async () => {
    // bank-alpha's read bucket is untouched so far: a flood of bad tokens over its connection must leave it so.
    for (let i = 0; i < 5; i += 1) {
      const refused = await sendMatrix((await validDpopRequest(matrix, { method: 'GET', path: '/accounts', rewriteToken: (token) => `${token}x` })).request);
      expect(refused.status).toBe(401);
    }
    for (let i = 0; i < POLICIES.read.burst; i += 1) {
      const answer = await sendMatrix((await validDpopRequest(matrix, { method: 'GET', path: '/accounts' })).request);
      expect(answer.status, answer.body).toBe(200);
    }
  });
});
