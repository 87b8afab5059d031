/**
 * Waking the webhook relays after a commit, instead of inside it. A NOTIFY issued by a transaction takes
 * PostgreSQL's global notification lock at that transaction's commit, so a trigger on every outbox insert made every
 * booking's commit queue behind every other's (BENCHMARKING.md; measured on the database floor: dropping the trigger
 * gave spread bookings +10…25 % on a noisy machine). Now a committed booking asks for one wake-up; those asked for
 * within RELAY_WAKEUP_COALESCE_MS are sent as one NOTIFY, on its own, after the commits, holding no row lock.
 *
 * A lost wake-up (process gone before the timer fires, database hiccup) costs latency only: relays also poll
 * (WEBHOOK_LIMITS.pollIntervalMs), and the outbox row is committed whatever happens here.
 */
import type { Pool } from 'pg';

/** The channel relays LISTEN on. */
export const RELAY_CHANNEL = 'isogw_webhooks';
/** Wake-ups asked for within this many milliseconds are sent as one NOTIFY. */
export const RELAY_WAKEUP_COALESCE_MS = 10;

/** Pools with a wake-up already scheduled (per pool, so separate databases in one process never share one). */
const scheduled = new WeakSet<Pool>();

/** Asks for the relays to be woken shortly; call after a commit that wrote outbox rows. Never throws, never waits. */
export function wakeRelaysAfterCommit(pool: Pool): void {
  if (scheduled.has(pool)) return;
  scheduled.add(pool);
  const timer = setTimeout(() => {
    scheduled.delete(pool);
    pool.query('select pg_notify($1, $2)', [RELAY_CHANNEL, 'outbox']).catch(() => {
      // The pool may be closing, or the database away: polling delivers the events anyway.
    });
  }, RELAY_WAKEUP_COALESCE_MS);
  // A pending wake-up never keeps a process alive that is otherwise done.
  timer.unref();
}
