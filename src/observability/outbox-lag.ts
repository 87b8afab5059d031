/**
 * The outbox lag: how long the oldest status event has been waiting to become webhook deliveries. It is what the
 * partners feel first when the relays stall (or all run with ISOGW_WEBHOOK_RELAY=off and no `isogw relay` runs), so
 * it is sampled at scrape time rather than tracked: one index lookup on the undispatched rows' partial index.
 */
import type { Pool } from 'pg';

/** Seconds since the oldest undispatched outbox row was written; 0 when every row is dispatched. */
export async function outboxLagSeconds(pool: Pool, timeoutMs: number): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the outbox lag query took longer than ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    // Ordered by id, not created_at: the partial index outbox_undispatched is on id, and ids follow commit order
    // closely enough for a lag measured in seconds.
    const { rows } = await Promise.race([
      pool.query<{ lag: string }>(
        `select extract(epoch from clock_timestamp() - created_at) as lag from outbox where dispatched_at is null order by id limit 1`,
      ),
      timedOut,
    ]);
    const lag = rows[0]?.lag;
    return lag === undefined ? 0 : Math.max(0, Number(lag));
  } finally {
    clearTimeout(timer);
  }
}
