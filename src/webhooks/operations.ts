/**
 * What partners (src/routes/webhooks.ts) and operators (src/cli/webhooks.ts) may look at and do about deliveries:
 * list them, see every attempt, and send an event again. One function per need, each one SQL statement, so a list
 * and the attempts under it come from one snapshot and a redelivery cannot interleave with a relay's claim.
 *
 * Authorisation stays with the callers; every function that a partner reaches takes an optional `clientId` that,
 * when given, limits it to that partner's endpoints inside the same statement (no read-then-check window).
 *
 * A redelivery never creates a new delivery: it puts the same row (same `webhook-id`, same frozen body) back to
 * `pending`, due now, with `schedule_start = attempts`, so the relay gives it the full retry schedule again while
 * the attempt log keeps counting on (attempts 1–3, then 4, 5…). A delivery in flight is left alone: its relay holds
 * a lease and will record what the endpoint answered.
 */
import { type EndpointRow, type EndpointView, endpointView, type Queryable } from './endpoints.ts';

export const DELIVERY_STATES = ['pending', 'in_flight', 'delivered', 'dead'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

export type AttemptOutcome = 'delivered' | 'retry' | 'gone' | 'dead';

/** Bounds of every list and bulk change here. */
export const WEBHOOK_OPERATION_LIMITS = Object.freeze({
  /** Deliveries per page of an endpoint's list when the caller does not say. */
  deliveriesPageDefault: 20,
  /** Deliveries per page of an endpoint's list at most. */
  deliveriesPageMax: 100,
  /** Deliveries listed for one payment (a payment has a handful of events, each for at most endpointsPerPartner endpoints). */
  paymentDeliveriesMax: 200,
  /** Attempts listed per delivery: the newest ones (redeliveries can make the log long). */
  attemptsPerDeliveryMax: 50,
  /** Dead deliveries put back to pending by one redeliver-dead call; the answer says when more are left. */
  redeliverDeadPerCallMax: 1_000,
  /** Endpoints listed for operators in one go (partners have at most WEBHOOK_LIMITS.endpointsPerPartner each). */
  operatorEndpointsListMax: 1_000,
});

/** An endpoint as operators see it: with how many of its deliveries wait and how many are dead. */
export interface OperatorEndpointView extends EndpointView {
  readonly pendingDeliveries: number;
  readonly deadDeliveries: number;
}

/** Delivery ids are PostgreSQL bigint identities: 1 … 2^63-1. */
const DELIVERY_ID_MAX = 2n ** 63n - 1n;
const DELIVERY_ID_TEXT = /^[1-9][0-9]{0,18}$/;

export interface DeliveryView {
  readonly id: bigint;
  readonly endpointId: string;
  /** Internal: the partner owning the endpoint (for operators). */
  readonly clientId: string;
  readonly webhookId: string;
  readonly eventType: string;
  readonly uetr: string;
  readonly sequence: number;
  readonly state: DeliveryState;
  /** Attempts started so far, over every schedule. */
  readonly attempts: number;
  readonly nextAttemptAt: string;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  readonly deliveredAt: string | null;
  readonly deadAt: string | null;
  readonly createdAt: string;
}

export interface AttemptView {
  readonly attempt: number;
  /** Internal: which relay made it (for operators). */
  readonly relay: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly outcome: AttemptOutcome;
  readonly httpStatus: number | null;
  readonly error: string | null;
  readonly retryAfterSeconds: number | null;
}

export interface DeliveryWithAttempts extends DeliveryView {
  /** The newest WEBHOOK_OPERATION_LIMITS.attemptsPerDeliveryMax attempts, oldest first. */
  readonly attemptLog: readonly AttemptView[];
}

export type RedeliverOutcome =
  | { readonly kind: 'redelivered'; readonly delivery: DeliveryView }
  | { readonly kind: 'not_found' }
  | { readonly kind: 'in_flight' };

export interface DeliveryPage {
  readonly state?: DeliveryState | undefined;
  /** 1 … deliveriesPageMax. */
  readonly limit: number;
  /** Keyset: only deliveries with a smaller id (the last id of the previous page). */
  readonly before?: bigint | undefined;
}

/** `"42"` → 42n; undefined for anything but a positive decimal integer that fits a bigint column. */
export function deliveryIdOf(text: string): bigint | undefined {
  if (!DELIVERY_ID_TEXT.test(text)) return undefined;
  const id = BigInt(text);
  return id <= DELIVERY_ID_MAX ? id : undefined;
}

export function isDeliveryState(text: string): text is DeliveryState {
  return (DELIVERY_STATES as readonly string[]).includes(text);
}

const DELIVERY_COLUMNS = `d.id, d.endpoint_id, e.client_id, d.webhook_id, d.event_type, p.uetr, d.sequence, d.state, d.attempts,
       d.next_attempt_at, d.last_status, d.last_error, d.delivered_at, d.dead_at, d.created_at`;

/** An endpoint's deliveries, newest first; index webhook_deliveries_endpoint (endpoint_id, state, id) serves it. */
const ENDPOINT_DELIVERIES_SQL = `select ${DELIVERY_COLUMNS}
  from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id join payments p on p.id = d.payment_id
 where d.endpoint_id = $1 and ($2::text is null or d.state = $2) and ($3::bigint is null or d.id < $3)
   and ($4::text is null or e.client_id = $4)
 order by d.id desc
 limit $5::int`;

/**
 * A payment's deliveries in event order, each with its newest attempts (json_agg in the same statement: one
 * snapshot). Timestamps inside JSON are rendered in the session's time zone; paymentDeliveryView normalises them.
 */
const PAYMENT_DELIVERIES_SQL = `select ${DELIVERY_COLUMNS},
       coalesce((select json_agg(json_build_object(
                   'attempt', a.attempt, 'relay', a.relay, 'startedAt', a.started_at, 'finishedAt', a.finished_at,
                   'outcome', a.outcome, 'httpStatus', a.http_status, 'error', a.error,
                   'retryAfterSeconds', a.retry_after_seconds) order by a.attempt)
                   from (select * from webhook_attempts w where w.delivery_id = d.id order by w.attempt desc limit $3::int) a),
                '[]'::json) as attempt_log
  from payments p join webhook_deliveries d on d.payment_id = p.id join webhook_endpoints e on e.id = d.endpoint_id
 where p.uetr = $1::uuid and ($2::text is null or e.client_id = $2)
 order by d.sequence, d.endpoint_id, d.id
 limit $4::int`;

/**
 * Back to pending, due now, on a fresh schedule. `delivered_at` and `dead_at` describe the state being left; the
 * attempt log keeps when it was delivered or dead-lettered. The lease columns are already null outside in_flight.
 */
const REDELIVER_SET = `state = 'pending', next_attempt_at = now(), schedule_start = d.attempts, delivered_at = null, dead_at = null`;

const REDELIVER_SQL = `with target as (
  select d.id from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id
   where d.id = $1 and ($2::text is null or e.client_id = $2)
), changed as (
  update webhook_deliveries d set ${REDELIVER_SET}
    from target where d.id = target.id and d.state <> 'in_flight'
  returning d.id
)
select (select count(*) from target)::int as found, (select count(*) from changed)::int as changed`;

const DELIVERY_BY_ID_SQL = `select ${DELIVERY_COLUMNS}
  from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id join payments p on p.id = d.payment_id
 where d.id = $1`;

/**
 * Oldest dead first, at most a batch; `skip locked` leaves a row another redeliver-dead is changing to that one
 * (it could only have made it pending too). One row more than the batch is looked at to tell whether more are left.
 */
const REDELIVER_DEAD_SQL = `with dead as (
  select d.id from webhook_deliveries d
   where d.endpoint_id = $1 and d.state = 'dead'
   order by d.id
   limit $2::int + 1
   for update skip locked
), batch as (
  select id from dead order by id limit $2::int
), changed as (
  update webhook_deliveries d set ${REDELIVER_SET}
    from batch where d.id = batch.id and d.state = 'dead'
  returning d.id
)
select (select count(*) from changed)::int as redelivered, (select count(*) from dead)::int > $2::int as more`;

/** Counts through webhook_deliveries_endpoint (endpoint_id, state, id): an index range per endpoint and state. */
const OPERATOR_ENDPOINTS_SQL = `select e.id, e.client_id, e.url, e.event_types, e.description, e.enabled, e.disabled_reason, e.disabled_at,
       e.created_at, e.updated_at,
       (select count(*) from webhook_deliveries d where d.endpoint_id = e.id and d.state = 'pending')::int as pending,
       (select count(*) from webhook_deliveries d where d.endpoint_id = e.id and d.state = 'dead')::int as dead
  from webhook_endpoints e
 where $1::text is null or e.client_id = $1
 order by e.client_id, e.created_at, e.id
 limit $2::int`;

interface OperatorEndpointRow extends EndpointRow {
  pending: number;
  dead: number;
}

/** Per delivery, its newest attempts (a lateral top-N over the unique (delivery_id, attempt) index). */
const ATTEMPTS_SQL = `select a.delivery_id, a.attempt, a.relay, a.started_at, a.finished_at, a.outcome, a.http_status, a.error, a.retry_after_seconds
  from unnest($1::bigint[]) as ids(id)
  cross join lateral (select * from webhook_attempts w where w.delivery_id = ids.id order by w.attempt desc limit $2::int) a
 order by a.delivery_id, a.attempt`;

interface AttemptRow {
  delivery_id: string;
  attempt: number;
  relay: string;
  started_at: Date;
  finished_at: Date;
  outcome: AttemptOutcome;
  http_status: number | null;
  error: string | null;
  retry_after_seconds: number | null;
}

interface DeliveryRow {
  id: string;
  endpoint_id: string;
  client_id: string;
  webhook_id: string;
  event_type: string;
  uetr: string;
  sequence: number;
  state: DeliveryState;
  attempts: number;
  next_attempt_at: Date;
  last_status: number | null;
  last_error: string | null;
  delivered_at: Date | null;
  dead_at: Date | null;
  created_at: Date;
}

interface AttemptJson {
  attempt: number;
  relay: string;
  startedAt: string;
  finishedAt: string;
  outcome: AttemptOutcome;
  httpStatus: number | null;
  error: string | null;
  retryAfterSeconds: number | null;
}

/**
 * Every endpoint (or one partner's), by partner then age, with their pending and dead counts; at most
 * operatorEndpointsListMax, `truncated` when there were more.
 */
export async function endpointsForOperators(db: Queryable, clientId?: string): Promise<{ endpoints: OperatorEndpointView[]; truncated: boolean }> {
  const max = WEBHOOK_OPERATION_LIMITS.operatorEndpointsListMax;
  const { rows } = await db.query<OperatorEndpointRow>(OPERATOR_ENDPOINTS_SQL, [clientId ?? null, max + 1]);
  return {
    truncated: rows.length > max,
    endpoints: rows.slice(0, max).map((row) => ({
      ...endpointView(row),
      pendingDeliveries: row.pending,
      deadDeliveries: row.dead,
    })),
  };
}

/**
 * An endpoint's deliveries, newest first, one keyset page (limited to `clientId`'s endpoints when given);
 * `nextBefore` is the `before` of the next page, undefined on the last one (one row more is read to know).
 */
export async function deliveriesOfEndpoint(
  db: Queryable,
  endpointId: string,
  page: DeliveryPage,
  clientId?: string,
): Promise<{ deliveries: DeliveryView[]; nextBefore: bigint | undefined }> {
  assertPageLimit(page.limit);
  const { rows } = await db.query<DeliveryRow>(ENDPOINT_DELIVERIES_SQL, [
    endpointId,
    page.state ?? null,
    page.before?.toString() ?? null,
    clientId ?? null,
    page.limit + 1,
  ]);
  const deliveries = rows.slice(0, page.limit).map(deliveryView);
  return { deliveries, nextBefore: rows.length > page.limit ? deliveries.at(-1)?.id : undefined };
}

/** Every delivery of the payment with this UETR (to `clientId`'s endpoints when given), in event order, with attempts. */
export async function deliveriesOfPayment(db: Queryable, uetr: string, clientId?: string): Promise<DeliveryWithAttempts[]> {
  const limits = WEBHOOK_OPERATION_LIMITS;
  const { rows } = await db.query<DeliveryRow & { attempt_log: AttemptJson[] }>(PAYMENT_DELIVERIES_SQL, [
    uetr.toLowerCase(),
    clientId ?? null,
    limits.attemptsPerDeliveryMax,
    limits.paymentDeliveriesMax,
  ]);
  return rows.map((row) => ({
    ...deliveryView(row),
    attemptLog: row.attempt_log.map((attempt) => ({
      ...attempt,
      // json_build_object renders timestamptz in the session's time zone; normalise to UTC like the other dates
      startedAt: new Date(attempt.startedAt).toISOString(),
      finishedAt: new Date(attempt.finishedAt).toISOString(),
    })),
  }));
}

/** The newest attemptsPerDeliveryMax attempts of each delivery, oldest first (for lists that carry no attempts). */
export async function attemptsOfDeliveries(db: Queryable, deliveryIds: readonly bigint[]): Promise<Map<bigint, AttemptView[]>> {
  const attempts = new Map<bigint, AttemptView[]>(deliveryIds.map((id) => [id, []]));
  if (deliveryIds.length === 0) return attempts;
  const { rows } = await db.query<AttemptRow>(ATTEMPTS_SQL, [deliveryIds.map(String), WEBHOOK_OPERATION_LIMITS.attemptsPerDeliveryMax]);
  for (const row of rows) {
    attempts.get(BigInt(row.delivery_id))?.push({
      attempt: row.attempt,
      relay: row.relay,
      startedAt: row.started_at.toISOString(),
      finishedAt: row.finished_at.toISOString(),
      outcome: row.outcome,
      httpStatus: row.http_status,
      error: row.error,
      retryAfterSeconds: row.retry_after_seconds,
    });
  }
  return attempts;
}

export async function deliveryById(db: Queryable, id: bigint): Promise<DeliveryView | undefined> {
  const { rows } = await db.query<DeliveryRow>(DELIVERY_BY_ID_SQL, [id.toString()]);
  const row = rows[0];
  return row === undefined ? undefined : deliveryView(row);
}

/**
 * Sends one delivery again (any state but in_flight). `not_found` also for a delivery of another partner's
 * endpoint when `clientId` is given, so the answer never tells it apart from one that does not exist.
 */
export async function redeliver(db: Queryable, deliveryId: bigint, clientId?: string): Promise<RedeliverOutcome> {
  const { rows } = await db.query<{ found: number; changed: number }>(REDELIVER_SQL, [deliveryId.toString(), clientId ?? null]);
  const result = rows[0];
  if (result === undefined || result.found === 0) return { kind: 'not_found' };
  if (result.changed === 0) return { kind: 'in_flight' };
  const delivery = await deliveryById(db, deliveryId);
  // Deliveries are never deleted (their attempts reference them); a row changed a moment ago is still there.
  if (delivery === undefined) throw new Error(`delivery ${deliveryId} vanished after its redelivery`);
  return { kind: 'redelivered', delivery };
}

/**
 * Puts the endpoint's dead deliveries back to pending, oldest first, at most `limit` (default and cap
 * redeliverDeadPerCallMax); `more` says whether dead deliveries remain for another call. The endpoint's ownership
 * is the caller's to check first.
 */
export async function redeliverDead(
  db: Queryable,
  endpointId: string,
  limit: number = WEBHOOK_OPERATION_LIMITS.redeliverDeadPerCallMax,
): Promise<{ redelivered: number; more: boolean }> {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > WEBHOOK_OPERATION_LIMITS.redeliverDeadPerCallMax) {
    throw new RangeError(`redeliverDead limit must be 1…${WEBHOOK_OPERATION_LIMITS.redeliverDeadPerCallMax}, got ${limit}`);
  }
  const { rows } = await db.query<{ redelivered: number; more: boolean }>(REDELIVER_DEAD_SQL, [endpointId, limit]);
  return { redelivered: rows[0]?.redelivered ?? 0, more: rows[0]?.more ?? false };
}

function assertPageLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > WEBHOOK_OPERATION_LIMITS.deliveriesPageMax) {
    throw new RangeError(`a page holds 1…${WEBHOOK_OPERATION_LIMITS.deliveriesPageMax} deliveries, not ${limit}`);
  }
}

function deliveryView(row: DeliveryRow): DeliveryView {
  const iso = (date: Date | null) => (date === null ? null : date.toISOString());
  return {
    id: BigInt(row.id),
    endpointId: row.endpoint_id,
    clientId: row.client_id,
    webhookId: row.webhook_id,
    eventType: row.event_type,
    uetr: row.uetr,
    sequence: row.sequence,
    state: row.state,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at.toISOString(),
    lastStatus: row.last_status,
    lastError: row.last_error,
    deliveredAt: iso(row.delivered_at),
    deadAt: iso(row.dead_at),
    createdAt: row.created_at.toISOString(),
  };
}
