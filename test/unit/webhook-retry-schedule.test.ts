/**
 * The retry schedule and Retry-After: about three days of exponential back-off with ±10 % jitter, then dead; an
 * endpoint's Retry-After believed in both RFC 9110 forms, within our cap.
 */
import { describe, expect, it } from 'vitest';

import { WEBHOOK_LIMITS } from '../../src/webhooks/limits.ts';
import { parseRetryAfter, RETRY_JITTER_FRACTION, RETRY_SCHEDULE_MS, retryDelayMs } from '../../src/webhooks/retry-schedule.ts';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

describe('retry schedule', () => {
  it('is 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 20 h', () => {
    expect(RETRY_SCHEDULE_MS).toEqual([5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 14 * HOUR, 20 * HOUR, 20 * HOUR]);
  });

  it('adds up to about three days', () => {
    const total = RETRY_SCHEDULE_MS.reduce((sum, ms) => sum + ms, 0);
    expect(total).toBeGreaterThan(3 * 24 * HOUR - 2 * HOUR);
    expect(total).toBeLessThan(3 * 24 * HOUR + 2 * HOUR);
  });

  it('gives the scheduled delay with no jitter when random is 0.5', () => {
    RETRY_SCHEDULE_MS.forEach((ms, index) => expect(retryDelayMs(index + 1, RETRY_SCHEDULE_MS, () => 0.5)).toBe(ms));
  });

  it('jitters by at most ±10 %', () => {
    expect(RETRY_JITTER_FRACTION).toBe(0.1);
    expect(retryDelayMs(2, RETRY_SCHEDULE_MS, () => 0)).toBe(0.9 * 5 * MINUTE);
    const top = retryDelayMs(2, RETRY_SCHEDULE_MS, () => 0.999_999)!;
    expect(top).toBeLessThanOrEqual(1.1 * 5 * MINUTE);
    expect(top).toBeGreaterThan(1.099 * 5 * MINUTE);
    for (let i = 0; i < 200; i += 1) {
      const delay = retryDelayMs(1)!;
      expect(delay).toBeGreaterThanOrEqual(4_500);
      expect(delay).toBeLessThanOrEqual(5_500);
    }
  });

  it('spreads retries of endpoints that failed together', () => {
    const delays = new Set(Array.from({ length: 50 }, () => retryDelayMs(4)));
    expect(delays.size).toBeGreaterThan(40);
  });

  it('is exhausted after the last step: undefined means dead', () => {
    expect(retryDelayMs(RETRY_SCHEDULE_MS.length, RETRY_SCHEDULE_MS, () => 0.5)).toBe(20 * HOUR);
    expect(retryDelayMs(RETRY_SCHEDULE_MS.length + 1)).toBeUndefined();
    expect(retryDelayMs(100)).toBeUndefined();
  });

  it('takes a short schedule (tests and operators)', () => {
    const schedule = [10, 20];
    expect(retryDelayMs(1, schedule, () => 0.5)).toBe(10);
    expect(retryDelayMs(2, schedule, () => 0.5)).toBe(20);
    expect(retryDelayMs(3, schedule, () => 0.5)).toBeUndefined();
    expect(retryDelayMs(1, [], () => 0.5)).toBeUndefined();
  });

  it('refuses a step that is not a whole number from 1 (a programmer error)', () => {
    expect(() => retryDelayMs(0)).toThrow(RangeError);
    expect(() => retryDelayMs(1.5)).toThrow(RangeError);
    expect(() => retryDelayMs(Number.NaN)).toThrow(RangeError);
  });
});

describe('Retry-After', () => {
  const now = new Date('2026-03-02T10:00:00.000Z');

  it('reads delay-seconds', () => {
    expect(parseRetryAfter('7', now)).toBe(7);
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter(' 120 ', now)).toBe(120);
  });

  it('reads an IMF-fixdate relative to now', () => {
    expect(parseRetryAfter('Mon, 02 Mar 2026 10:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('Mon, 02 Mar 2026 11:00:00 GMT', now)).toBe(3600);
  });

  it('rounds a date up, so we never come back before the time asked', () => {
    expect(parseRetryAfter('Mon, 02 Mar 2026 10:00:30 GMT', new Date('2026-03-02T10:00:00.400Z'))).toBe(30);
  });

  it('reads the obsolete RFC 850 and asctime forms', () => {
    expect(parseRetryAfter('Monday, 02-Mar-26 10:01:00 GMT', now)).toBe(60);
    expect(parseRetryAfter('Mon Mar  2 10:02:00 2026', now)).toBe(120);
  });

  it('gives 0 for a date in the past', () => {
    expect(parseRetryAfter('Sun, 01 Mar 2026 10:00:00 GMT', now)).toBe(0);
  });

  it('caps at retryAfterMaxSeconds, in both forms', () => {
    const max = WEBHOOK_LIMITS.retryAfterMaxSeconds;
    expect(parseRetryAfter(String(max + 1), now)).toBe(max);
    expect(parseRetryAfter('99999999999999999999999', now)).toBe(max);
    expect(parseRetryAfter('Mon, 30 Mar 2026 10:00:00 GMT', now)).toBe(max);
  });

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['negative', '-5'],
    ['fractional', '1.5'],
    ['a word', 'soon'],
    ['a number with a unit', '10s'],
    ['an ISO 8601 date', '2026-03-02T10:00:30Z'],
    ['a date in another zone', 'Mon, 02 Mar 2026 10:00:30 CET'],
    ['a date that does not exist', 'Mon, 31 Feb 2026 10:00:30 GMT'],
    ['an hour out of range', 'Mon, 02 Mar 2026 25:00:30 GMT'],
    ['a bad day name', 'Xyz, 02 Mar 2026 10:00:30 GMT'],
  ])('is undefined for %s', (_what, value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});
