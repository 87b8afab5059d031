/**
 * Where a relay's commit-to-delivery latency goes, per event, from the times the database recorded next to the
 * bench's own: the booking's commit (bench), the claim (webhook_attempts.started_at: the claim statement's now()),
 * the arrival at the receiver (bench), and the end of the attempt (webhook_attempts.finished_at: the start of the
 * transaction recording it, once the response was read). For sequence 2 also the wait behind sequence 1: from
 * sequence 1's recorded end (which unblocks it) to its own claim.
 *
 * The database's timestamps are wall-clock (the same system clock as the bench's performance.timeOrigin + now() on
 * this machine), so the stages are good to a fraction of a millisecond; a stage that comes out negative by clock
 * error is counted as 0.
 */
import type pg from 'pg';

import { LatencyHistogram, type LatencySummary } from '../lib/histogram.ts';
import type { Booking } from './producer.ts';
import type { PhaseRecord } from './receiver.ts';

export interface SequenceBreakdown {
  readonly sequence: number;
  /** Commit → claimed: the NOTIFY wake-up, the relay's round (dispatch, work query), the claim. */
  readonly commitToClaimMs: LatencySummary;
  /** Claimed → arrived: reading the keys, signing, the HTTP request up to the receiver's handler. */
  readonly claimToArrivalMs: LatencySummary;
  /** Arrived → recorded: the response back to the relay and the start of the transaction recording the attempt. */
  readonly arrivalToRecordMs: LatencySummary;
  /** Sequence ≥ 2: the previous event's attempt recorded → this one claimed (the per-payment order's price). */
  readonly previousRecordedToClaimMs?: LatencySummary;
}

interface AttemptTimes {
  hex: string;
  sequence: number;
  claimed: number;
  recorded: number;
}

export async function latencyBreakdown(owner: pg.Pool, bookings: readonly Booking[], record: PhaseRecord): Promise<SequenceBreakdown[]> {
  if (bookings.length === 0) return [];
  const { rows } = await owner.query<{ hex: string; sequence: number; claimed: string; recorded: string }>(
    `select replace(p.uetr::text, '-', '') as hex, d.sequence,
            extract(epoch from a.started_at) * 1000 as claimed, extract(epoch from a.finished_at) * 1000 as recorded
       from webhook_deliveries d
       join payments p on p.id = d.payment_id
       join webhook_attempts a on a.delivery_id = d.id and a.outcome = 'delivered'
      where replace(p.uetr::text, '-', '') = any($1::text[])`,
    [bookings.map((b) => b.uetrHex)],
  );
  const times = new Map<string, AttemptTimes>();
  for (const row of rows) times.set(`${row.hex}_${row.sequence}`, { hex: row.hex, sequence: row.sequence, claimed: Number(row.claimed), recorded: Number(row.recorded) });
  // Our clock as wall-clock milliseconds, like the database's.
  const wall = (performanceMs: number): number => performance.timeOrigin + performanceMs;
  const sequences = [...new Set(rows.map((row) => row.sequence))].sort((a, b) => a - b);
  return sequences.map((sequence) => {
    const commitToClaim = new LatencyHistogram();
    const claimToArrival = new LatencyHistogram();
    const arrivalToRecord = new LatencyHistogram();
    const previousToClaim = new LatencyHistogram();
    for (const booking of bookings) {
      const attempt = times.get(`${booking.uetrHex}_${sequence}`);
      const arrived = record.firstArrival.get(`evt_${booking.uetrHex}_${sequence}`);
      if (attempt === undefined || arrived === undefined) continue;
      commitToClaim.record(Math.max(0, attempt.claimed - wall(booking.committedAt)));
      claimToArrival.record(Math.max(0, wall(arrived) - attempt.claimed));
      arrivalToRecord.record(Math.max(0, attempt.recorded - wall(arrived)));
      const previous = times.get(`${booking.uetrHex}_${sequence - 1}`);
      if (previous !== undefined) previousToClaim.record(Math.max(0, attempt.claimed - previous.recorded));
    }
    return {
      sequence,
      commitToClaimMs: commitToClaim.summary(),
      claimToArrivalMs: claimToArrival.summary(),
      arrivalToRecordMs: arrivalToRecord.summary(),
      ...(previousToClaim.count === 0 ? {} : { previousRecordedToClaimMs: previousToClaim.summary() }),
    };
  });
}
