/**
 * The webhook relay: the loop that turns the outbox into signed HTTP deliveries. Each round dispatches outbox rows
 * into deliveries (dispatch.ts), claims due deliveries under a lease (delivery-store.ts), sends them concurrently
 * (each signed at send time, same webhook-id and body on every attempt) and records every outcome. It runs again at
 * once while it finds work, and otherwise sleeps until a NOTIFY on `isogw_webhooks`, the next due time, or the
 * polling interval — whichever comes first.
 *
 * Any number of relays may run at once (one per gateway instance, plus `isogw relay` processes): they share nothing
 * but the database, whose row locks and leases decide who sends what. A relay never crashes its process on a
 * database error: it logs, backs off, and carries on; its LISTEN connection reconnects by itself, and polling
 * covers the gap. Sends are bounded by the sender's timeouts (well within the lease), so a claim is recorded by its
 * own relay unless that relay dies — then the lease expires and another relay sends it again (same webhook-id:
 * delivery is at least once, receivers deduplicate).
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

import pg from 'pg';
import type { Pool } from 'pg';

import { RELAY_CHANNEL } from '../payments/outbox-wakeup.ts';
import { claimDueDeliveries, type DeliveryClaim, deliveryWork, recordOutcome, type RecordResult } from './delivery-store.ts';
import { dispatchOutbox } from './dispatch.ts';
import { signingKeysFor } from './endpoints.ts';
import { WEBHOOK_LIMITS, type WebhookLimits } from './limits.ts';
import type { SendOutcome } from './sender.ts';
import { type SigningKey, webhookHeaders } from './signing.ts';

/**
 * The channel relays listen on: committed bookings and settlements notify it after their commits
 * (payments/outbox-wakeup.ts), the migrations' triggers when a delivery becomes due or an endpoint is enabled.
 */
export const WEBHOOKS_CHANNEL = RELAY_CHANNEL;

/** The relay's own bounds (the delivery bounds are WEBHOOK_LIMITS). */
export const RELAY_LIMITS = Object.freeze({
  /** First wait after a failed round (database down); doubles per consecutive failure. */
  errorBackoffMinMs: 250,
  /** Longest wait between failed rounds. */
  errorBackoffMaxMs: 10_000,
  /** First wait before reopening a lost LISTEN connection (polling carries on meanwhile); doubles per failure, up to errorBackoffMaxMs. */
  listenReconnectDelayMs: 1_000,
  /** Opening the LISTEN connection may take this long. */
  listenConnectTimeoutMs: 5_000,
  /** Tries to record one attempt's outcome before leaving it to the lease (the delivery is then sent again). */
  recordTriesMax: 3,
  /** Wait between those tries, times the try number. */
  recordRetryDelayMs: 200,
});

/** What the relay needs of a sender (src/webhooks/sender.ts): one POST, an outcome, never a throw for an endpoint's behaviour. */
export interface RelaySender {
  send(request: { readonly url: string; readonly headers: Record<string, string>; readonly body: string }): Promise<SendOutcome>;
}

export type RelayLogEntry =
  | {
      readonly kind: 'attempt';
      readonly relayId: string;
      readonly deliveryId: string;
      readonly webhookId: string;
      readonly url: string;
      /** The payment's UETR, the MsgId of its message and the interaction id of the request that brought it in,
       * when they could be read (a lookup beside the send: its failure never holds a delivery back). */
      readonly uetr: string | undefined;
      readonly msgId: string | undefined;
      readonly correlationId: string | undefined;
      readonly eventType: string | undefined;
      readonly attempt: number;
      /** As recorded (webhook_attempts.outcome), or lost_lease when another relay had taken the delivery over. */
      readonly outcome: 'delivered' | 'retry' | 'gone' | 'dead' | 'lost_lease' | 'unrecorded';
      readonly status: number | undefined;
      readonly durationMs: number;
      readonly error: string | undefined;
      /** When the next attempt is due, for a retry. */
      readonly retryInMs: number | undefined;
    }
  | { readonly kind: 'error'; readonly relayId: string; readonly message: string; readonly error: unknown }
  | { readonly kind: 'warning'; readonly relayId: string; readonly message: string };

/** WEBHOOK_LIMITS' bounds as plain numbers (the frozen object's types are its literal values). */
export type RelayLimitValues = { readonly [K in keyof WebhookLimits]: number };

export interface WebhookRelayOptions {
  /** The gateway's pool (the app role): dispatch, claims, outcomes. */
  readonly pool: Pool;
  /** For the dedicated LISTEN connection (a pooled one would be taken from the pool for ever). */
  readonly databaseUrl: string;
  /** The role the LISTEN connection assumes, like the pool's (src/db/pool.ts); undefined = the URL's user. */
  readonly databaseRole?: string | undefined;
  readonly sender: RelaySender;
  /** lease_owner and webhook_attempts.relay; default host:pid:random. */
  readonly relayId?: string | undefined;
  /** Delays before each retry, in ms; default RETRY_SCHEDULE_MS (5 s … 20 h). */
  readonly retryScheduleMs?: readonly number[] | undefined;
  /** Default WEBHOOK_LIMITS; tests shorten the lease and the polling interval. */
  readonly limits?: Partial<RelayLimitValues> | undefined;
  /** GrpHdr/InstgAgt of the RCVD reports built into payloads (ISOGW_BIC). */
  readonly gatewayBic?: string | undefined;
  /** Every attempt, error and warning; default: errors and warnings to stderr. */
  readonly log?: ((entry: RelayLogEntry) => void) | undefined;
  /** Jitter source in [0, 1) for the retry schedule. */
  readonly random?: (() => number) | undefined;
  /**
   * False: no LISTEN connection, the relay polls (pollIntervalMs). For a database whose connections share one
   * session (PGlite, src/embedded/), where a connection of its own would not be one. Default true.
   */
  readonly listen?: boolean | undefined;
}

export interface WebhookRelay {
  readonly relayId: string;
  /** Starts the loop (after a first try at LISTEN); resolves at once, the loop runs until stop(). */
  start(): Promise<void>;
  /** Graceful: stops claiming, waits for the sends in flight and records them, closes the LISTEN connection. */
  stop(): Promise<void>;
  /** One round, awaited to the end (for tests; not while started): dispatch a batch, claim a batch, send, record. */
  runOnce(): Promise<{ dispatched: number; attempted: number }>;
}

export function createWebhookRelay(options: WebhookRelayOptions): WebhookRelay {
  const { pool, sender } = options;
  const limits: RelayLimitValues = Object.freeze({ ...WEBHOOK_LIMITS, ...options.limits });
  for (const name of ['dispatchBatchRows', 'claimBatchDeliveries', 'leaseSeconds', 'pollIntervalMs'] as const) {
    if (!Number.isSafeInteger(limits[name]) || limits[name] < 1) throw new TypeError(`createWebhookRelay: limits.${name} must be a positive integer, got ${limits[name]}`);
  }
  const relayId = options.relayId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const sink = options.log ?? defaultLog;
  // A logger that throws must not turn a recorded attempt into an unhandled rejection or stop the loop.
  const log = (entry: RelayLogEntry): void => {
    try {
      sink(entry);
    } catch {
      // nothing sensible is left to tell it with
    }
  };
  const recordOptions = { retryScheduleMs: options.retryScheduleMs, random: options.random, retryAfterMaxSeconds: limits.retryAfterMaxSeconds };

  const inFlight = new Set<Promise<void>>();
  let state: 'idle' | 'running' | 'stopping' | 'stopped' = 'idle';
  let loopDone: Promise<void> = Promise.resolve();
  let listenDone: Promise<void> = Promise.resolve();
  let stopListening: (() => void) | undefined;

  // Wake-ups: a notification, a finished send or stop() ends the current sleep; one arriving while a round runs
  // makes the next sleep return at once, so nothing that happened during a round waits for the poll.
  let woken = false;
  let interrupt: (() => void) | undefined;
  const wake = (): void => {
    woken = true;
    interrupt?.();
  };
  const sleep = async (ms: number): Promise<void> => {
    if (!woken) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          interrupt = undefined;
          resolve();
        };
        const timer = setTimeout(done, ms);
        interrupt = done;
      });
    }
    woken = false;
  };

  const error = (message: string, cause: unknown): void => log({ kind: 'error', relayId, message, error: cause });

  /** Dispatch one batch; claim what fits in `capacity` if anything is claimable; start sending the claims. */
  async function round(capacity: number): Promise<{ dispatched: number; sends: Promise<void>[]; nextDueInMs: number | undefined }> {
    const dispatched = await dispatchOutbox(pool, {
      batchRows: limits.dispatchBatchRows,
      gatewayBic: options.gatewayBic,
      warn: (message) => log({ kind: 'warning', relayId, message }),
    });
    if (capacity < 1) return { dispatched, sends: [], nextDueInMs: undefined };
    const work = await deliveryWork(pool);
    if (!work.claimable) return { dispatched, sends: [], nextDueInMs: work.nextDueInMs };
    const claims = await claimDueDeliveries(pool, { relayId, limit: capacity, leaseSeconds: limits.leaseSeconds });
    // For the attempt log lines only, read beside the sends (one query per batch), never in their way.
    const payments = paymentsOfDeliveries(pool, claims.map((claim) => claim.deliveryId)).catch(() => new Map<string, DeliveryPayment>());
    // Keys once per endpoint per batch: a rotation between two batches is picked up by the next one.
    const keys = new Map<string, Promise<SigningKey[]>>();
    const sends = claims.map((claim) => {
      let endpointKeys = keys.get(claim.endpointId);
      if (endpointKeys === undefined) {
        endpointKeys = signingKeysFor(pool, claim.endpointId);
        // Awaited per send below; an unobserved rejection here must not become an unhandledRejection.
        endpointKeys.catch(() => {});
        keys.set(claim.endpointId, endpointKeys);
      }
      const send = deliver(claim, endpointKeys, payments).finally(() => {
        inFlight.delete(send);
        wake();
      });
      inFlight.add(send);
      return send;
    });
    return { dispatched, sends, nextDueInMs: work.nextDueInMs };
  }

  /** Sign, send, record. Never rejects: every failure ends as a recorded attempt or a log line (and the lease). */
  async function deliver(claim: DeliveryClaim, keys: Promise<SigningKey[]>, payments: Promise<ReadonlyMap<string, DeliveryPayment>>): Promise<void> {
    const started = performance.now();
    let outcome: SendOutcome;
    try {
      // Signed now, not at claim time: the timestamp tells the receiver how fresh this attempt is.
      const headers = webhookHeaders(await keys, claim.webhookId, Math.floor(Date.now() / 1000), claim.body);
      outcome = await sender.send({ url: claim.url, headers, body: claim.body });
    } catch (cause) {
      // Not sent: the keys could not be read (database) or there are none (webhookHeaders refuses to send unsigned).
      // A failed attempt, so it is retried on the schedule and visible in the attempt log.
      outcome = { kind: 'failed', status: undefined, retryAfterSeconds: undefined, error: `not sent: ${(cause as Error).message}`, durationMs: Math.round(performance.now() - started), excerpt: '' };
    }
    let result: RecordResult | undefined;
    for (let attempt = 1; result === undefined; attempt += 1) {
      try {
        result = await recordOutcome(pool, claim, outcome, recordOptions);
      } catch (cause) {
        if (attempt >= RELAY_LIMITS.recordTriesMax) {
          error(`delivery ${claim.deliveryId} attempt ${claim.attempt}: the outcome could not be recorded; the delivery will be sent again when its lease expires`, cause);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, RELAY_LIMITS.recordRetryDelayMs * attempt));
      }
    }
    const payment = (await payments).get(claim.deliveryId);
    log({
      kind: 'attempt',
      relayId,
      deliveryId: claim.deliveryId,
      webhookId: claim.webhookId,
      url: claim.url,
      uetr: payment?.uetr,
      msgId: payment?.msgId,
      correlationId: payment?.correlationId,
      eventType: payment?.eventType,
      attempt: claim.attempt,
      outcome: result === undefined ? 'unrecorded' : result.kind === 'lost_lease' ? 'lost_lease' : result.outcome,
      status: 'status' in outcome ? outcome.status : undefined,
      durationMs: outcome.durationMs,
      error: outcome.kind === 'failed' ? outcome.error : undefined,
      retryInMs: result?.kind === 'recorded' ? result.retryInMs : undefined,
    });
  }

  async function loop(): Promise<void> {
    let failures = 0;
    while (state === 'running') {
      let sleepMs = limits.pollIntervalMs;
      try {
        woken = false;
        const capacity = limits.claimBatchDeliveries - inFlight.size;
        const { dispatched, sends, nextDueInMs } = await round(capacity);
        failures = 0;
        // Found work: there may be more right behind it (a full batch, deliveries unblocked by these).
        if (dispatched > 0 || sends.length > 0) continue;
        if (nextDueInMs !== undefined) sleepMs = Math.min(sleepMs, nextDueInMs);
      } catch (cause) {
        failures += 1;
        sleepMs = Math.min(RELAY_LIMITS.errorBackoffMaxMs, RELAY_LIMITS.errorBackoffMinMs * 2 ** Math.min(failures - 1, 16));
        error(`relay round failed (${failures} in a row); next try in ${sleepMs} ms`, cause);
      }
      await sleep(sleepMs);
    }
  }

  /** Keeps one LISTEN connection open until stop(), reopening it after errors. */
  async function listen(firstTry: () => void): Promise<void> {
    let failures = 0;
    while (state === 'running') {
      const client = new pg.Client({
        connectionString: options.databaseUrl,
        connectionTimeoutMillis: RELAY_LIMITS.listenConnectTimeoutMs,
        application_name: 'isogw-relay',
        ...(options.databaseRole === undefined ? {} : { options: `-c role=${options.databaseRole}` }),
      });
      const closed = new Promise<void>((resolve) => {
        stopListening = resolve;
        // Without an error listener a dropped connection would crash the process.
        client.on('error', (cause) => {
          if (state === 'running') error('the LISTEN connection failed; polling until it is back', cause);
          resolve();
        });
        client.on('end', () => resolve());
      });
      client.on('notification', wake);
      let listening = false;
      try {
        await client.connect();
        await client.query(`listen ${WEBHOOKS_CHANNEL}`);
        listening = true;
        failures = 0;
        // Whatever happened while we were not listening.
        wake();
      } catch (cause) {
        if (state === 'running') error('cannot open the LISTEN connection; polling until it is back', cause);
      }
      firstTry();
      if (listening && state === 'running') await closed;
      stopListening = undefined;
      await client.end().catch(() => {});
      if (state === 'running') {
        failures += 1;
        // Backing off like the rounds do: a database that is down for a while is not asked every second.
        const delayMs = Math.min(RELAY_LIMITS.errorBackoffMaxMs, RELAY_LIMITS.listenReconnectDelayMs * 2 ** Math.min(failures - 1, 16));
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delayMs);
          stopListening = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        stopListening = undefined;
      }
    }
  }

  return {
    relayId,
    async start() {
      if (state !== 'idle') throw new Error(`webhook relay ${relayId} is ${state}; a relay starts once`);
      state = 'running';
      if (options.listen !== false) {
        await new Promise<void>((resolve) => {
          listenDone = listen(resolve);
        });
      }
      loopDone = loop();
    },
    async stop() {
      if (state !== 'running') {
        state = 'stopped';
        return;
      }
      state = 'stopping';
      wake();
      stopListening?.();
      await loopDone;
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      await listenDone;
      state = 'stopped';
    },
    async runOnce() {
      if (state === 'running' || state === 'stopping') throw new Error('runOnce is for a relay that is not started');
      const { dispatched, sends } = await round(limits.claimBatchDeliveries);
      await Promise.all(sends);
      return { dispatched, attempted: sends.length };
    },
  };
}

interface DeliveryPayment {
  readonly uetr: string;
  readonly msgId: string;
  readonly correlationId: string | undefined;
  readonly eventType: string;
}

/** Who each delivery is about: its payment's UETR, its message's MsgId and correlation id (migration 0004). */
async function paymentsOfDeliveries(pool: Pool, deliveryIds: readonly string[]): Promise<Map<string, DeliveryPayment>> {
  if (deliveryIds.length === 0) return new Map();
  const { rows } = await pool.query<{ id: string; uetr: string; msg_id: string; correlation_id: string | null; event_type: string }>(
    `select d.id, p.uetr, m.msg_id, m.correlation_id, d.event_type
       from webhook_deliveries d join payments p on p.id = d.payment_id join messages m on m.id = p.message_id
      where d.id = any($1::bigint[])`,
    [deliveryIds],
  );
  return new Map(rows.map((row) => [row.id, { uetr: row.uetr, msgId: row.msg_id, correlationId: row.correlation_id ?? undefined, eventType: row.event_type }]));
}

function defaultLog(entry: RelayLogEntry): void {
  if (entry.kind === 'attempt') return;
  const detail = entry.kind === 'error' ? `: ${entry.error instanceof Error ? entry.error.message : String(entry.error)}` : '';
  process.stderr.write(`isogw relay ${entry.relayId}: ${entry.kind}: ${entry.message}${detail}\n`);
}
