/**
 * When a failed delivery is tried again. The schedule backs off from seconds (a blip: a deploy, a restart) to hours
 * (an outage), about three days in all, after which the delivery is dead-lettered for a person to look at and
 * redeliver. Jitter spreads the retries of endpoints that failed together (one partner's outage, our own restart)
 * so they do not come back in lock-step. An endpoint that says when to come back (429/503 Retry-After) is believed,
 * within WEBHOOK_LIMITS.retryAfterMaxSeconds.
 *
 * Pure functions: the clock and the randomness are parameters.
 */
import { WEBHOOK_LIMITS } from './limits.ts';

const SECOND_MS = 1_000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;

/** Delays before retry 1, 2, …, in ms: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 20 h (≈ 3 days in all); after the last, the delivery is dead-lettered. */
export const RETRY_SCHEDULE_MS: readonly number[] = Object.freeze([
  5 * SECOND_MS,
  5 * MINUTE_MS,
  30 * MINUTE_MS,
  2 * HOUR_MS,
  5 * HOUR_MS,
  10 * HOUR_MS,
  14 * HOUR_MS,
  20 * HOUR_MS,
  20 * HOUR_MS,
]);

/** ±JITTER_FRACTION (0.1) uniformly, so endpoints that failed together are not retried in lock-step. */
export const RETRY_JITTER_FRACTION = 0.1;

/**
 * The delay after the `step`-th failed attempt of the current schedule (step 1 = after the first failure), or
 * undefined when the schedule is exhausted (→ dead). `random` in [0, 1) is injectable for tests.
 */
export function retryDelayMs(step: number, schedule: readonly number[] = RETRY_SCHEDULE_MS, random: () => number = Math.random): number | undefined {
  if (!Number.isSafeInteger(step) || step < 1) throw new RangeError(`a retry step is a whole number from 1, got ${step}`);
  const base = schedule[step - 1];
  if (base === undefined) return undefined;
  const jitter = RETRY_JITTER_FRACTION * (2 * random() - 1);
  return Math.max(0, Math.round(base * (1 + jitter)));
}

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const LONG_DAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH = `(${MONTHS.join('|')})`;
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
/** RFC 9110 §5.6.7: IMF-fixdate (what senders must use), and the obsolete RFC 850 and asctime forms recipients must accept. */
const IMF_FIXDATE = new RegExp(`^(${DAY_NAMES.join('|')}), (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
const RFC850_DATE = new RegExp(`^(${LONG_DAY_NAMES.join('|')}), (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
const ASCTIME_DATE = new RegExp(`^(${DAY_NAMES.join('|')}) ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`);
const DELAY_SECONDS = /^\d+$/;

/**
 * RFC 9110 §10.2.3 Retry-After: delay-seconds or an HTTP-date, relative to `now`. Returns whole seconds (a date is
 * rounded up, so we never come back before the time asked), capped at WEBHOOK_LIMITS.retryAfterMaxSeconds; a date
 * in the past gives 0. undefined if absent or not one of those forms (a negative number is not delay-seconds).
 */
export function parseRetryAfter(value: string | undefined, now: Date): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  const max = WEBHOOK_LIMITS.retryAfterMaxSeconds;
  // Any run of digits is valid, however long; a huge one is simply "later than we wait".
  if (DELAY_SECONDS.test(text)) return Math.min(Number(text), max);
  const at = httpDate(text);
  if (at === undefined) return undefined;
  const seconds = Math.ceil((at - now.getTime()) / 1000);
  return Math.min(Math.max(seconds, 0), max);
}

/** Milliseconds since the epoch of an HTTP-date, or undefined. */
function httpDate(text: string): number | undefined {
  let match = IMF_FIXDATE.exec(text);
  if (match !== null) return utc(Number(match[4]), match[3], Number(match[2]), match.slice(5, 8));
  match = RFC850_DATE.exec(text);
  if (match !== null) {
    // RFC 9110: a two-digit year more than 50 years in the future is in the past century; near enough for retries.
    const yy = Number(match[4]);
    return utc(yy < 70 ? 2000 + yy : 1900 + yy, match[3], Number(match[2]), match.slice(5, 8));
  }
  match = ASCTIME_DATE.exec(text);
  if (match !== null) return utc(Number(match[7]), match[2], Number(match[3]?.trim()), match.slice(4, 7));
  return undefined;
}

function utc(year: number, monthName: string | undefined, day: number, time: readonly (string | undefined)[]): number | undefined {
  const month = MONTHS.indexOf(monthName ?? '');
  const [hours, minutes, seconds] = time.map(Number);
  if (month < 0 || hours === undefined || minutes === undefined || seconds === undefined) return undefined;
  if (day < 1 || day > 31 || hours > 23 || minutes > 59 || seconds > 60) return undefined;
  const ms = Date.UTC(year, month, day, hours, minutes, Math.min(seconds, 59));
  // Date.UTC rolls 31 Feb over into March: such a date is not a date.
  return new Date(ms).getUTCDate() === day ? ms : undefined;
}
