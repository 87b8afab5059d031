/**
 * The gateway's Prometheus metrics, in a registry of their own (never prom-client's global one: two gateways in one
 * process, as in the tests, must not count into each other). Names follow Prometheus conventions: an `isogw_`
 * prefix, the unit last (`_seconds`), `_total` on counters. Label values come from closed sets (outcomes, stage
 * names, ISO reason and error codes), never from identifiers, so the number of series stays bounded.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** How an intake request ended (the `outcome` label of isogw_intake_requests_total). */
export const INTAKE_OUTCOMES = [
  'accepted',
  'rejected',
  'duplicate',
  'replayed',
  'refused',
  'invalid',
  'key_in_flight',
  'key_reused',
  'unavailable',
  'error',
] as const;
export type IntakeOutcome = (typeof INTAKE_OUTCOMES)[number];

/** What the Idempotency-Key did for a message that could move money (the `result` label). */
export const IDEMPOTENCY_RESULTS = ['hit', 'miss', 'in_flight', 'reused'] as const;
export type IdempotencyResult = (typeof IDEMPOTENCY_RESULTS)[number];

/** A webhook attempt's outcome as the relay reports it (RelayLogEntry['outcome']). */
export const WEBHOOK_ATTEMPT_OUTCOMES = ['delivered', 'retry', 'gone', 'dead', 'lost_lease', 'unrecorded'] as const;
export type WebhookAttemptOutcome = (typeof WEBHOOK_ATTEMPT_OUTCOMES)[number];

/** Seconds: from half a millisecond (a stage that only looks at headers) to 10 s (past every time limit we set). */
const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface GatewayMetrics {
  readonly registry: Registry;
  readonly intakeRequests: Counter<'outcome' | 'reason'>;
  readonly intakeStageSeconds: Histogram<'stage'>;
  readonly idempotency: Counter<'result'>;
  readonly ledgerBookingSeconds: Histogram;
  readonly outboxLagSeconds: Gauge;
  readonly webhookAttempts: Counter<'outcome'>;
  readonly webhookDeadLetters: Counter;
  readonly dpopReplayRejections: Counter;
}

export interface MetricsOptions {
  /**
   * Age in seconds of the oldest outbox row not yet dispatched (0 when there is none), asked at scrape time;
   * undefined = the gauge is not sampled (stays 0). A rejection reports NaN: unknown, not "no lag".
   */
  readonly sampleOutboxLagSeconds?: (() => Promise<number>) | undefined;
  /** prom-client's process and Node.js metrics (CPU, memory, event loop lag, GC); on for a gateway process. */
  readonly processMetrics?: boolean | undefined;
}

export function createMetrics(options: MetricsOptions = {}): GatewayMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.processMetrics === true) collectDefaultMetrics({ register: registry });
  const sample = options.sampleOutboxLagSeconds;
  const metrics: GatewayMetrics = {
    registry,
    intakeRequests: new Counter({
      name: 'isogw_intake_requests_total',
      help: 'pacs.008 intake requests by outcome and reason (ISO reason code of a pacs.002, or the error code of a JSON answer; empty when none).',
      labelNames: ['outcome', 'reason'],
      registers,
    }),
    intakeStageSeconds: new Histogram({
      name: 'isogw_intake_stage_seconds',
      help: 'Time spent in each intake stage, in seconds.',
      labelNames: ['stage'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    }),
    idempotency: new Counter({
      name: 'isogw_idempotency_total',
      help: 'Idempotency-Key outcomes of messages that could move money: hit (stored answer replayed), miss (booked now), in_flight, reused (another body).',
      labelNames: ['result'],
      registers,
    }),
    ledgerBookingSeconds: new Histogram({
      name: 'isogw_ledger_booking_seconds',
      help: 'Time to book a message in the ledger (one Postgres transaction, retries included), in seconds.',
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    }),
    outboxLagSeconds: new Gauge({
      name: 'isogw_outbox_lag_seconds',
      help: 'Age of the oldest outbox row not yet dispatched to webhook deliveries, in seconds (0 when none; NaN when it could not be read).',
      registers,
      ...(sample === undefined
        ? {}
        : {
            async collect(this: Gauge) {
              this.set(await sample().catch(() => Number.NaN));
            },
          }),
    }),
    webhookAttempts: new Counter({
      name: 'isogw_webhook_attempts_total',
      help: 'Webhook delivery attempts by outcome: delivered, retry, gone (410, endpoint disabled), dead, lost_lease, unrecorded.',
      labelNames: ['outcome'],
      registers,
    }),
    webhookDeadLetters: new Counter({
      name: 'isogw_webhook_dead_letters_total',
      help: 'Webhook deliveries dead-lettered after their retry schedule was exhausted.',
      registers,
    }),
    dpopReplayRejections: new Counter({
      name: 'isogw_dpop_replay_rejections_total',
      help: 'Requests refused because their DPoP proof (jti) had been used before.',
      registers,
    }),
  };
  // Known label values start at 0, so rate() sees the first increment and dashboards show every series.
  for (const result of IDEMPOTENCY_RESULTS) metrics.idempotency.inc({ result }, 0);
  for (const outcome of WEBHOOK_ATTEMPT_OUTCOMES) metrics.webhookAttempts.inc({ outcome }, 0);
  return metrics;
}
