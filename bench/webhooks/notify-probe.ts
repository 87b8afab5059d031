/**
 * The NOTIFY wake-up alone: how long after a committing statement a LISTENing connection hears of it. The relay's
 * fast path is exactly this (a NOTIFY on `isogw_webhooks` once an outbox row is committed wakes the relay's LISTEN
 * connection), so it is the floor the database sets under the relay's commit-to-delivery latency. Measured on a
 * channel of the bench's own, so no relay is woken, next to a plain `select 1` round trip on the same connection.
 */
import pg from 'pg';

import { LatencyHistogram, type LatencySummary } from '../lib/histogram.ts';

const CHANNEL = 'bench_webhooks_probe';
/** A notification that has not arrived within this has been lost (it never is, but the probe must not hang). */
const NOTIFICATION_TIMEOUT_MS = 5_000;

export interface NotifyProbe {
  readonly samples: number;
  /** From sending `select pg_notify(…)` (autocommit) to the listener's notification event, ms. */
  readonly wakeupMs: LatencySummary;
  /** From sending `select 1` to its answer, on the notifying connection, ms. */
  readonly roundTripMs: LatencySummary;
}

export async function probeNotify(databaseUrl: string, samples: number): Promise<NotifyProbe> {
  const listener = new pg.Client({ connectionString: databaseUrl });
  const notifier = new pg.Client({ connectionString: databaseUrl });
  await Promise.all([listener.connect(), notifier.connect()]);
  try {
    await listener.query(`listen ${CHANNEL}`);
    const wakeups = new LatencyHistogram();
    const roundTrips = new LatencyHistogram();
    let waiting: { payload: string; resolve: (at: number) => void } | undefined;
    listener.on('notification', (message) => {
      if (waiting !== undefined && message.payload === waiting.payload) waiting.resolve(performance.now());
    });
    for (let i = 0; i < samples; i++) {
      const payload = String(i);
      let timer: NodeJS.Timeout | undefined;
      const heard = new Promise<number>((resolve, reject) => {
        waiting = { payload, resolve };
        timer = setTimeout(() => reject(new Error(`notification ${i} not heard within ${NOTIFICATION_TIMEOUT_MS} ms`)), NOTIFICATION_TIMEOUT_MS);
      });
      const sentAt = performance.now();
      await notifier.query('select pg_notify($1, $2)', [CHANNEL, payload]);
      wakeups.record((await heard) - sentAt);
      clearTimeout(timer);
      const pingAt = performance.now();
      await notifier.query('select 1');
      roundTrips.record(performance.now() - pingAt);
    }
    return { samples, wakeupMs: wakeups.summary(), roundTripMs: roundTrips.summary() };
  } finally {
    await Promise.allSettled([listener.end(), notifier.end()]);
  }
}
