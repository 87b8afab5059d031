/**
 * The SQL of the relay's claims and outcomes: which deliveries are due, who owns one while it is being sent, and
 * what an attempt's answer does to it. Every relay of every gateway instance runs these same statements against the
 * same rows; the database, not any relay's memory or clock, decides who sends what.
 *
 * Claim: one statement locks due deliveries (FOR UPDATE SKIP LOCKED: relays take different rows, never wait on each
 * other) and leases them: state in_flight, attempts + 1, lease_owner, lease_until. `attempts` after the claim is the
 * fencing token of that claim. A crashed relay's claim expires with its lease and is claimed again (a new attempt
 * number); the attempt cut short leaves no row in the log.
 *
 * Order: a payment's events reach an endpoint in sequence order. A delivery is not claimable while an earlier event
 * of its payment is still pending or in flight for the same endpoint (delivered or dead-lettered ones no longer
 * hold it back), nor while an earlier event of the payment is not yet dispatched at all — two relays dispatching
 * in parallel could otherwise create event 3's delivery before event 2's.
 *
 * Outcome: recorded only if the claim is still ours (same owner, same attempt number, still in flight); a relay
 * that was too slow and lost its lease records nothing, so it can never overwrite the result of the relay that took
 * the delivery over. The attempt row and the delivery's new state are written in one transaction.
 *
 * Time is the database's `now()` throughout (due, lease, next attempt, attempt timestamps): relays' clocks may
 * disagree, the database's is one.
 */
import type { Pool } from 'pg';

import { setEndpointEnabled } from './endpoints.ts';
import { retryDelayMs } from './retry-schedule.ts';
import type { SendOutcome } from './sender.ts';

export interface ClaimOptions {
  /** Who claims: written as lease_owner, and checked when the outcome is recorded. */
  readonly relayId: string;
  /** Deliveries claimed at most (WEBHOOK_LIMITS.claimBatchDeliveries). */
  readonly limit: number;
  /** How long the claim is ours (WEBHOOK_LIMITS.leaseSeconds). */
  readonly leaseSeconds: number;
}

/** A delivery this relay now holds: send it, then record the outcome. */
export interface DeliveryClaim {
  readonly deliveryId: string;
  readonly endpointId: string;
  readonly url: string;
  readonly webhookId: string;
  readonly body: string;
  /** The attempt number this claim started, and its fencing token. */
  readonly attempt: number;
  /** Attempts in the current retry schedule, this one included (attempts - schedule_start, 1-based). */
  readonly step: number;
  readonly relayId: string;
  /** When the claim began (database time): the attempt's started_at. */
  readonly claimedAt: Date;
}

export interface RecordOptions {
  /** Delays before each retry, in milliseconds (RETRY_SCHEDULE_MS unless a test or operator shortens it). */
  readonly retryScheduleMs?: readonly number[] | undefined;
  /** Jitter source in [0, 1) for retryDelayMs. */
  readonly random?: (() => number) | undefined;
  /** The longest Retry-After honoured (WEBHOOK_LIMITS.retryAfterMaxSeconds); longer ones are capped. */
  readonly retryAfterMaxSeconds: number;
}

/** What recording did: the attempt's outcome (as in webhook_attempts.outcome), or nothing because the lease was lost. */
export type RecordResult =
  | { readonly kind: 'recorded'; readonly outcome: 'delivered' | 'retry' | 'gone' | 'dead'; readonly retryInMs?: number; readonly retryAfterSeconds?: number }
  | { readonly kind: 'lost_lease' };

/** What is due, and when the next thing will be. */
export interface DeliveryWork {
  /** Some delivery is claimable right now. */
  readonly claimable: boolean;
  /** Milliseconds until the next pending delivery falls due or a lease expires; undefined = nothing scheduled. */
  readonly nextDueInMs: number | undefined;
}

/**
 * Claimable: due (pending and next_attempt_at reached, or in flight past its lease), endpoint enabled, and no
 * earlier event of the same payment still undelivered for this endpoint or undispatched. Shared by the claim and
 * by deliveryWork, so "is there work" and "claim the work" can never disagree.
 */
const CLAIMABLE = `
  e.enabled
  and ((d.state = 'pending' and d.next_attempt_at <= now()) or (d.state = 'in_flight' and d.lease_until < now()))
  and not exists (
    select 1 from webhook_deliveries earlier
     where earlier.endpoint_id = d.endpoint_id and earlier.payment_id = d.payment_id and earlier.sequence < d.sequence
       and earlier.state in ('pending', 'in_flight'))
  and not exists (
    select 1 from outbox o
     where o.payment_id = d.payment_id and o.sequence < d.sequence and o.dispatched_at is null)`;

const CLAIM_SQL = `
  with due as (
    select d.id
      from webhook_deliveries d
      join webhook_endpoints e on e.id = d.endpoint_id
     where ${CLAIMABLE}
     order by d.next_attempt_at, d.id
     limit $2
       for update of d skip locked
  )
  update webhook_deliveries d
     set state = 'in_flight', attempts = d.attempts + 1, lease_owner = $1,
         lease_until = now() + $3::integer * interval '1 second'
    from due, webhook_endpoints e
   where d.id = due.id and e.id = d.endpoint_id
  returning d.id, d.endpoint_id, e.url, d.webhook_id, d.body, d.attempts, d.attempts - d.schedule_start as step, now() as claimed_at`;

const WORK_SQL = `
  select exists (select 1 from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id where ${CLAIMABLE}) as claimable,
         extract(epoch from least(
           (select min(d.next_attempt_at) from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id
             where d.state = 'pending' and e.enabled and d.next_attempt_at > now()),
           (select min(lease_until) from webhook_deliveries where state = 'in_flight' and lease_until > now())
         ) - now()) * 1000 as next_due_ms`;

/**
 * Is anything claimable now, and when is the next due time? Read without locks, so a relay can ask before it claims:
 * a claim is an UPDATE, and every statement on webhook_deliveries notifies every relay — even one that changed no
 * row — so relays that claimed on every notification would wake each other for ever.
 */
export async function deliveryWork(pool: Pool): Promise<DeliveryWork> {
  const { rows } = await pool.query<{ claimable: boolean; next_due_ms: string | null }>(WORK_SQL);
  const row = rows[0];
  return {
    claimable: row?.claimable ?? false,
    nextDueInMs: row?.next_due_ms === null || row?.next_due_ms === undefined ? undefined : Math.max(0, Math.ceil(Number(row.next_due_ms))),
  };
}

/** Claims up to `limit` due deliveries for `relayId`, oldest due first. */
export async function claimDueDeliveries(pool: Pool, options: ClaimOptions): Promise<DeliveryClaim[]> {
  if (!Number.isSafeInteger(options.limit) || options.limit < 1) throw new TypeError(`claimDueDeliveries: limit must be a positive integer, got ${options.limit}`);
  if (!Number.isSafeInteger(options.leaseSeconds) || options.leaseSeconds < 1) throw new TypeError(`claimDueDeliveries: leaseSeconds must be a positive integer, got ${options.leaseSeconds}`);
  const { rows } = await pool.query<{ id: string; endpoint_id: string; url: string; webhook_id: string; body: string; attempts: number; step: number; claimed_at: Date }>(
    CLAIM_SQL,
    [options.relayId, options.limit, options.leaseSeconds],
  );
  return rows.map((row) => ({
    deliveryId: row.id,
    endpointId: row.endpoint_id,
    url: row.url,
    webhookId: row.webhook_id,
    body: row.body,
    attempt: row.attempts,
    step: row.step,
    relayId: options.relayId,
    claimedAt: row.claimed_at,
  }));
}

/** What an attempt's answer does to its delivery (see RecordResult); one transaction, only while the claim is ours. */
export async function recordOutcome(pool: Pool, claim: DeliveryClaim, outcome: SendOutcome, options: RecordOptions): Promise<RecordResult> {
  const plan = planOf(claim, outcome, options);
  const client = await pool.connect();
  // A checked-out client has no error listener of the pool's: a connection cut between two statements (a database
  // restart) would be an uncaught 'error' event, ending the process. The next statement reports it instead.
  client.on('error', ignoreConnectionError);
  let broken: Error | undefined;
  try {
    await client.query('begin');
    // The fence: still in flight, still ours, still this attempt. Locks the row until commit.
    const fenced = await client.query<{ id: string }>(
      `update webhook_deliveries
          set state = $5, lease_owner = null, lease_until = null, last_status = $6, last_error = $7,
              next_attempt_at = case when $5 = 'pending' then now() + $8::bigint * interval '1 millisecond' else next_attempt_at end,
              schedule_start = case when $9 then attempts else schedule_start end,
              delivered_at = case when $5 = 'delivered' then now() else delivered_at end,
              dead_at = case when $5 = 'dead' then now() else dead_at end
        where id = $1 and state = 'in_flight' and lease_owner = $2 and attempts = $3 and endpoint_id = $4
        returning id`,
      [claim.deliveryId, claim.relayId, claim.attempt, claim.endpointId, plan.state, plan.status ?? null, plan.error ?? null, plan.delayMs, plan.restartSchedule],
    );
    if (fenced.rows.length === 0) {
      await client.query('rollback');
      return { kind: 'lost_lease' };
    }
    await client.query(
      `insert into webhook_attempts (delivery_id, attempt, relay, started_at, finished_at, outcome, http_status, error, retry_after_seconds)
       values ($1, $2, $3, $4, now(), $5, $6, $7, $8)`,
      [claim.deliveryId, claim.attempt, claim.relayId, claim.claimedAt, plan.outcome, plan.status ?? null, plan.error ?? null, plan.retryAfterSeconds ?? null],
    );
    if (plan.outcome === 'gone') {
      // 410: the partner says the endpoint is gone. Disabled, not deleted: its deliveries wait, this one included.
      await setEndpointEnabled(client, claim.endpointId, false, 'gone');
    }
    await client.query('commit');
    return {
      kind: 'recorded',
      outcome: plan.outcome,
      ...(plan.outcome === 'retry' ? { retryInMs: plan.delayMs } : {}),
      ...(plan.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: plan.retryAfterSeconds }),
    };
  } catch (error) {
    await client.query('rollback').catch((rollbackError: Error) => (broken = rollbackError));
    throw error;
  } finally {
    client.off('error', ignoreConnectionError);
    // A connection that cannot even roll back is discarded, not handed to the next caller.
    client.release(broken);
  }
}

interface Plan {
  readonly outcome: 'delivered' | 'retry' | 'gone' | 'dead';
  readonly state: 'pending' | 'delivered' | 'dead';
  readonly status: number | undefined;
  readonly error: string | undefined;
  /** Until the next attempt (state pending). */
  readonly delayMs: number;
  /** The next attempt starts a fresh retry schedule (schedule_start = attempts). */
  readonly restartSchedule: boolean;
  readonly retryAfterSeconds: number | undefined;
}

/** Status codes whose Retry-After we honour (RFC 9110 §10.2.3: 503; RFC 6585 §4: 429). */
const RETRY_AFTER_STATUSES: ReadonlySet<number> = new Set([429, 503]);

function planOf(claim: DeliveryClaim, outcome: SendOutcome, options: RecordOptions): Plan {
  switch (outcome.kind) {
    case 'delivered':
      return { outcome: 'delivered', state: 'delivered', status: outcome.status, error: undefined, delayMs: 0, restartSchedule: false, retryAfterSeconds: undefined };
    case 'gone':
      // Due at once, on a fresh schedule: it goes out as soon as the endpoint is enabled again, and the 410 was not a
      // failure of this event that should bring it closer to dead-lettering.
      return { outcome: 'gone', state: 'pending', status: outcome.status, error: 'the endpoint answered 410 Gone: disabled', delayMs: 0, restartSchedule: true, retryAfterSeconds: undefined };
    case 'failed': {
      // What the endpoint said, when it said anything, belongs with the failure (for the partner's diagnosis and ours).
      const failure = outcome.excerpt === '' ? outcome.error : `${outcome.error}: ${outcome.excerpt}`;
      const scheduled = retryDelayMs(claim.step, options.retryScheduleMs, options.random);
      if (scheduled === undefined) {
        // The schedule is exhausted — even if the endpoint asked to be retried later, this was the last attempt.
        return { outcome: 'dead', state: 'dead', status: outcome.status, error: failure, delayMs: 0, restartSchedule: false, retryAfterSeconds: undefined };
      }
      const asked = outcome.status !== undefined && RETRY_AFTER_STATUSES.has(outcome.status) ? outcome.retryAfterSeconds : undefined;
      const retryAfterSeconds = asked === undefined ? undefined : Math.min(Math.max(0, Math.ceil(asked)), options.retryAfterMaxSeconds);
      return {
        outcome: 'retry',
        state: 'pending',
        status: outcome.status,
        error: failure,
        delayMs: retryAfterSeconds === undefined ? Math.max(0, Math.round(scheduled)) : retryAfterSeconds * 1000,
        restartSchedule: false,
        retryAfterSeconds,
      };
    }
  }
}

function ignoreConnectionError(): void {}
