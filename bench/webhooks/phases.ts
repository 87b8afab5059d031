/**
 * The bench's phases, each measured the same way (receiver phase record, costs window, exactness checks):
 *
 *   relay saturation   N payments booked with no relay running (a backlog of 2N events), then R relays started:
 *                      time from the first relay running to the last event arriving → deliveries/s.
 *   floor saturation   the same number of events, the same bodies, from R floor senders (floor-sender.ts).
 *   relay latency      one relay running and idle; payments booked at a fixed rate for D seconds; each event's
 *                      latency from its booking's commit.
 *   floor latency      the same rate and duration from one floor sender; latency from the time each payment was due.
 *
 * The relay phases end with the database's own account (outbox rows all dispatched, deliveries all delivered, one
 * attempt each), which must agree with the receiver's.
 */
import { WEBHOOK_LIMITS } from '../../src/webhooks/limits.ts';
import type { SchemaSet } from '../../src/iso20022/index.ts';
import { LatencyHistogram, type LatencySummary } from '../lib/histogram.ts';
import type { ProcessSampler } from '../lib/process-sampler.ts';
import type { ProgressLine } from '../lib/progress.ts';
import { latencyBreakdown, type SequenceBreakdown } from './breakdown.ts';
import { checkArrivals, type DeliveryChecks, drain, latencies, type LatencyResult, type PaymentIds } from './arrivals.ts';
import { type PhaseCosts, startCosts } from './costs.ts';
import { BENCH_CLIENT_ID, type BenchDatabase, type BenchEndpoint } from './database.ts';
import { startFloorSender, type FloorRun } from './floor.ts';
import { type FloorJob, floorWebhookId } from './floor-protocol.ts';
import { bookAll, bookAtRate, type Booking, EVENTS_PER_BOOKING, prepareMessages } from './producer.ts';
import type { BenchReceiver } from './receiver.ts';
import { type RelayChild, startRelay } from './relays.ts';

/**
 * Bookings in flight, pre-booking a backlog and at most in the fixed-rate phases (open loop until this many wait on
 * the database). Every alpha1 booking locks the same two rows (bank-alpha's settlement account and the EUR suspense
 * account), so bookings serialise on them: measured here, 1–4 in flight book ~450/s, 8 ~250/s and 16 ~140/s (the
 * lock queue costs more than it overlaps). 4 keeps the producer near its best.
 */
export const BOOKINGS_IN_FLIGHT_MAX = 4;

export interface BenchContext {
  readonly database: BenchDatabase;
  readonly endpoint: BenchEndpoint;
  readonly receiver: BenchReceiver;
  readonly schemas: SchemaSet;
  readonly progress: ProgressLine;
  /** A phase that has not delivered everything within this is ended and its missing events counted as lost. */
  readonly drainTimeoutMs: number;
  /** Idle time with the relay running before a fixed-rate phase (its idle CPU is measured there). */
  readonly idleMs: number;
  readonly cpuProfileDir: string | undefined;
}

/** The database's account of the webhooks so far (cumulative over the run). */
export interface DatabaseAccount {
  readonly outboxRows: number;
  readonly undispatched: number;
  readonly deliveries: number;
  readonly delivered: number;
  /** Deliveries that needed more than one attempt. */
  readonly retried: number;
  readonly attempts: number;
  readonly failedAttempts: number;
}

export interface SaturationResult {
  readonly id: string;
  readonly kind: 'relay' | 'floor';
  /** Relays or floor senders running at once. */
  readonly senders: number;
  readonly payments: number;
  readonly events: number;
  /** From the first sender starting (relay: saying it runs; floor: starting to send) to the last arrival. */
  readonly seconds: number;
  readonly deliveriesPerSecond: number;
  /** Pre-booking the backlog (relay only): bookings/s with BOOKINGS_IN_FLIGHT_MAX in flight. */
  readonly prebookPerSecond?: number;
  readonly checks: DeliveryChecks;
  readonly database?: DatabaseAccount;
  readonly costs: PhaseCosts;
  readonly senderCpuMsPerDelivery: number | null;
  readonly postgresCpuMsPerDelivery: number | null;
  readonly benchCpuMsPerDelivery: number;
  readonly clockErrorMs?: number;
}

export interface RateResult {
  readonly id: string;
  readonly kind: 'relay' | 'floor';
  /** The payments per second the relay phase of this pair was asked to book (events per second are twice that). */
  readonly askedPerSecond: number;
  /**
   * The schedule this phase ran: the relay's is the asked rate; the floor's is the rate the relay phase achieved
   * (capped at the asked one), with as many payments, so that both compare at the same real load.
   */
  readonly ratePerSecond: number;
  readonly payments: number;
  readonly events: number;
  /** Payments per second achieved (first due time to last commit / last send). */
  readonly achievedPerSecond: number;
  /** Payments started more than one interval late (the database or the sender's connections could not keep up). */
  readonly lateStarts: number;
  /** Relay only: from due time to commit, ms. */
  readonly bookingMs?: LatencySummary;
  readonly latency: LatencyResult;
  /** Relay only: the latency split at the claim, the arrival and the recorded end of each attempt (breakdown.ts). */
  readonly breakdown?: readonly SequenceBreakdown[];
  readonly checks: DeliveryChecks;
  readonly database?: DatabaseAccount;
  readonly costs: PhaseCosts;
  /** Relay only: its CPU share of one core while idle (running, nothing to do) just before the phase. */
  readonly idleCpuShareOfOneCore?: number | null;
  readonly senderCpuMsPerDelivery: number | null;
  readonly postgresCpuMsPerDelivery: number | null;
  readonly clockErrorMs?: number;
}

const idsOf = (bookings: readonly Booking[]): PaymentIds[] =>
  bookings.map((b) => Array.from({ length: EVENTS_PER_BOOKING }, (_, i) => `evt_${b.uetrHex}_${i + 1}`));

const perDelivery = (seconds: number | null | undefined, deliveries: number): number | null =>
  seconds === null || seconds === undefined || deliveries === 0 ? null : (seconds * 1000) / deliveries;

function sendersCpu(costs: PhaseCosts): number | null {
  if (costs.senders.some((s) => s === null)) return null;
  return costs.senders.reduce((sum, s) => sum + s!.cpuSeconds, 0);
}

async function startRelays(context: BenchContext, count: number, prefix: string): Promise<RelayChild[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) => startRelay({ id: `${prefix}-${i + 1}`, databaseUrl: context.database.url, cpuProfileDir: context.cpuProfileDir })),
  );
}

async function stopRelays(relays: readonly RelayChild[]): Promise<void> {
  const codes = await Promise.all(relays.map((relay) => relay.stop()));
  codes.forEach((code, i) => {
    if (code !== 0) throw new Error(`relay ${relays[i]!.id} exited with code ${code}:\n${relays[i]!.output()}`);
  });
}

export async function databaseAccount(context: BenchContext): Promise<DatabaseAccount> {
  const { rows } = await context.database.owner.query<Record<keyof DatabaseAccount, string>>(`
    select (select count(*) from outbox) as "outboxRows",
           (select count(*) from outbox where dispatched_at is null) as undispatched,
           (select count(*) from webhook_deliveries) as deliveries,
           (select count(*) from webhook_deliveries where state = 'delivered') as delivered,
           (select count(*) from webhook_deliveries where attempts > 1) as retried,
           (select count(*) from webhook_attempts) as attempts,
           (select count(*) from webhook_attempts where outcome <> 'delivered') as "failedAttempts"`);
  const row = rows[0]!;
  return Object.fromEntries(Object.entries(row).map(([key, value]) => [key, Number(value)])) as unknown as DatabaseAccount;
}

export async function relaySaturation(context: BenchContext, payments: number, relayCount: number): Promise<SaturationResult> {
  const id = `relay-${relayCount}`;
  const { progress } = context;
  progress.say(`${id} saturation: checking ${payments} messages, booking them with no relay running …`);
  const messages = prepareMessages(payments, context.schemas);
  const prebookStarted = performance.now();
  const bookings = await bookAll(context.database.app, BENCH_CLIENT_ID, messages, BOOKINGS_IN_FLIGHT_MAX, (done) => progress.update(`booked ${done}/${payments}`));
  const prebookPerSecond = (bookings.length * 1000) / (performance.now() - prebookStarted);
  const ids = idsOf(bookings);
  const events = payments * EVENTS_PER_BOOKING;

  let relays: RelayChild[] = [];
  const record = context.receiver.begin(id);
  const costs = await startCosts(context.database.owner, context.database.name, () => relays.map((r) => r.sampler));
  relays = await startRelays(context, relayCount, id);
  progress.say(`${id} saturation: ${relayCount} relay(s) running (pid ${relays.map((r) => r.pid).join(', ')}), delivering ${events} events …`);
  await drain(record, events, context.drainTimeoutMs, progress, id);
  const spent = await costs.finish();
  context.receiver.end();
  await stopRelays(relays);

  const startedAt = Math.min(...relays.map((r) => r.readyAt), record.firstAt);
  const seconds = (record.lastAt - startedAt) / 1000;
  const checks = checkArrivals(record, ids);
  progress.say(`${id} saturation: ${checks.delivered}/${events} in ${seconds.toFixed(2)} s = ${Math.round(checks.delivered / seconds)} deliveries/s`);
  return {
    id,
    kind: 'relay',
    senders: relayCount,
    payments,
    events,
    seconds,
    deliveriesPerSecond: checks.delivered / seconds,
    prebookPerSecond,
    checks,
    database: await databaseAccount(context),
    costs: spent,
    senderCpuMsPerDelivery: perDelivery(sendersCpu(spent), checks.delivered),
    postgresCpuMsPerDelivery: perDelivery(spent.postgresCpuSeconds?.relay, checks.delivered),
    benchCpuMsPerDelivery: (spent.benchProcess.cpuSeconds * 1000) / Math.max(1, checks.delivered),
  };
}

let nextIdTag = 1;

function floorJob(context: BenchContext, bodies: readonly (readonly string[])[], payments: number, mode: FloorJob['mode'], ratePerSecond?: number): FloorJob {
  return {
    url: context.receiver.url,
    connections: WEBHOOK_LIMITS.connectionsPerOrigin,
    concurrency: WEBHOOK_LIMITS.claimBatchDeliveries,
    mode,
    ...(ratePerSecond === undefined ? {} : { ratePerSecond }),
    payments,
    bodies,
    keys: context.endpoint.signingKeys.map((key) => ({
      scheme: key.scheme,
      secret: Buffer.from(key.secret).toString('base64'),
      ...(key.publicKey === undefined ? {} : { publicKey: Buffer.from(key.publicKey).toString('base64') }),
    })),
    idTag: nextIdTag++,
  };
}

const floorIds = (job: FloorJob): PaymentIds[] =>
  Array.from({ length: job.payments }, (_, k) => Array.from({ length: job.bodies[k % job.bodies.length]!.length }, (_, i) => floorWebhookId(job.idTag, k, i + 1)));

function floorProblems(runs: readonly FloorRun[]): string | undefined {
  const bad = runs.flatMap((run) => Object.entries(run.statuses).filter(([status]) => !status.startsWith('2')).map(([status, n]) => `${n}× ${status}`));
  return bad.length === 0 ? undefined : `${bad.join(', ')}${runs.find((r) => r.firstError !== undefined)?.firstError ?? ''}`;
}

export async function floorSaturation(context: BenchContext, bodies: readonly (readonly string[])[], payments: number, senderCount: number): Promise<SaturationResult> {
  const id = `floor-${senderCount}`;
  const { progress } = context;
  progress.say(`${id} saturation: ${senderCount} sender(s) pre-signing ${payments} payments' events …`);
  // The payments split between the senders, as a backlog splits between relays.
  const jobs = Array.from({ length: senderCount }, (_, i) => floorJob(context, bodies, Math.floor(payments / senderCount) + (i < payments % senderCount ? 1 : 0), 'saturation'));
  const senders = jobs.map((job) => startFloorSender(job));
  await Promise.all(senders.map((s) => s.ready));
  const ids = jobs.flatMap(floorIds);
  const events = ids.reduce((n, p) => n + p.length, 0);

  const record = context.receiver.begin(id);
  const samplers: ProcessSampler[] = [];
  const costs = await startCosts(context.database.owner, context.database.name, () => samplers);
  progress.say(`${id} saturation: sending ${events} events …`);
  const runs = senders.map((sender) => sender.run());
  const drained = drain(record, events, context.drainTimeoutMs, progress, id);
  const finished = await Promise.all(runs);
  samplers.push(...finished.map((run) => run.sampler));
  await drained;
  const spent = await costs.finish();
  context.receiver.end();

  const problems = floorProblems(finished);
  if (problems !== undefined) progress.say(`${id}: the receiver answered ${problems}`);
  const startedAt = Math.min(...finished.map((run) => run.startedAt));
  const seconds = (record.lastAt - startedAt) / 1000;
  const checks = checkArrivals(record, ids);
  progress.say(`${id} saturation: ${checks.delivered}/${events} in ${seconds.toFixed(2)} s = ${Math.round(checks.delivered / seconds)} deliveries/s`);
  return {
    id,
    kind: 'floor',
    senders: senderCount,
    payments,
    events,
    seconds,
    deliveriesPerSecond: checks.delivered / seconds,
    checks,
    costs: spent,
    senderCpuMsPerDelivery: perDelivery(sendersCpu(spent), checks.delivered),
    postgresCpuMsPerDelivery: null,
    benchCpuMsPerDelivery: (spent.benchProcess.cpuSeconds * 1000) / Math.max(1, checks.delivered),
    clockErrorMs: Math.max(...finished.map((run) => run.clockErrorMs)),
  };
}

export async function relayAtRate(context: BenchContext, ratePerSecond: number, durationSeconds: number): Promise<RateResult> {
  const id = `relay@${ratePerSecond}/s`;
  const { progress } = context;
  const payments = Math.max(1, Math.round(ratePerSecond * durationSeconds));
  progress.say(`${id}: checking ${payments} messages; starting one relay …`);
  const messages = prepareMessages(payments, context.schemas);
  const [relay] = await startRelays(context, 1, `relay-rate-${ratePerSecond}`);
  const idleFrom = Date.now();
  await new Promise((resolve) => setTimeout(resolve, context.idleMs));
  relay!.sampler.sample();
  const idle = relay!.sampler.window(idleFrom, Date.now());

  const record = context.receiver.begin(id);
  const costs = await startCosts(context.database.owner, context.database.name, () => [relay!.sampler]);
  progress.say(`${id}: booking ${payments} payments at ${ratePerSecond}/s for ${durationSeconds} s …`);
  const booked = await bookAtRate(context.database.app, BENCH_CLIENT_ID, messages, ratePerSecond, BOOKINGS_IN_FLIGHT_MAX, (done) =>
    progress.update(`${id}: booked ${done}/${payments}, delivered ${record.delivered}`),
  );
  const events = payments * EVENTS_PER_BOOKING;
  await drain(record, events, context.drainTimeoutMs, progress, id);
  const spent = await costs.finish();
  context.receiver.end();
  await stopRelays([relay!]);

  const bookings = booked.bookings;
  const ids = idsOf(bookings);
  const bookingMs = new LatencyHistogram();
  for (const b of bookings) bookingMs.record(Math.max(0, b.committedAt - b.scheduledAt));
  const latency = latencies(record, ids, (payment) => bookings[payment]!.committedAt);
  const checks = checkArrivals(record, ids);
  progress.say(`${id}: ${checks.delivered}/${events} delivered; p50 ${latency.bySequence.map((s) => `seq ${s.sequence} ${s.latencyMs.p50.toFixed(1)} ms`).join(', ')}`);
  return {
    id,
    kind: 'relay',
    askedPerSecond: ratePerSecond,
    ratePerSecond,
    payments,
    events,
    achievedPerSecond: (bookings.length * 1000) / (booked.finishedAt - booked.startedAt),
    lateStarts: booked.lateStarts,
    bookingMs: bookingMs.summary(),
    latency,
    breakdown: await latencyBreakdown(context.database.owner, bookings, record),
    checks,
    database: await databaseAccount(context),
    costs: spent,
    idleCpuShareOfOneCore: idle?.cpuShareOfOneCore ?? null,
    senderCpuMsPerDelivery: perDelivery(sendersCpu(spent), checks.delivered),
    postgresCpuMsPerDelivery: perDelivery(spent.postgresCpuSeconds?.relay, checks.delivered),
  };
}

/** The HTTP floor at the rate its relay phase achieved (`relay`), with as many payments. */
export async function floorAtRate(context: BenchContext, bodies: readonly (readonly string[])[], relay: RateResult): Promise<RateResult> {
  const id = `floor@${relay.askedPerSecond}/s`;
  const { progress } = context;
  const payments = relay.payments;
  const ratePerSecond = Math.min(relay.askedPerSecond, relay.achievedPerSecond);
  const durationSeconds = payments / ratePerSecond;
  progress.say(`${id}: pre-signing ${payments} payments' events (the relay phase achieved ${ratePerSecond.toFixed(1)}/s: the floor runs at that rate) …`);
  const job = floorJob(context, bodies, payments, 'rate', ratePerSecond);
  const sender = startFloorSender(job);
  await sender.ready;
  const ids = floorIds(job);
  const events = ids.reduce((n, p) => n + p.length, 0);

  const record = context.receiver.begin(id);
  const samplers: ProcessSampler[] = [];
  const costs = await startCosts(context.database.owner, context.database.name, () => samplers);
  progress.say(`${id}: sending ${payments} payments at ${ratePerSecond.toFixed(1)}/s for ${durationSeconds.toFixed(1)} s …`);
  const running = sender.run();
  const drained = drain(record, events, context.drainTimeoutMs + durationSeconds * 1000, progress, id);
  const run = await running;
  samplers.push(run.sampler);
  await drained;
  const spent = await costs.finish();
  context.receiver.end();

  const problems = floorProblems([run]);
  if (problems !== undefined) progress.say(`${id}: the receiver answered ${problems}`);
  const intervalMs = 1000 / ratePerSecond;
  const latency = latencies(record, ids, (payment) => run.startedAt + payment * intervalMs);
  const checks = checkArrivals(record, ids);
  progress.say(`${id}: ${checks.delivered}/${events} delivered; p50 ${latency.bySequence.map((s) => `seq ${s.sequence} ${s.latencyMs.p50.toFixed(2)} ms`).join(', ')}`);
  return {
    id,
    kind: 'floor',
    askedPerSecond: relay.askedPerSecond,
    ratePerSecond,
    payments,
    events,
    achievedPerSecond: (payments * 1000) / (run.finishedAt - run.startedAt),
    lateStarts: run.lateStarts,
    latency,
    checks,
    costs: spent,
    senderCpuMsPerDelivery: perDelivery(sendersCpu(spent), checks.delivered),
    postgresCpuMsPerDelivery: null,
    clockErrorMs: run.clockErrorMs,
  };
}

/** Real delivery bodies (what the relay sent), per payment in sequence order: the HTTP floor sends these bytes. */
export async function deliveredBodies(context: BenchContext, paymentsMax: number): Promise<string[][]> {
  const { rows } = await context.database.owner.query<{ payment_id: string; body: string }>(
    `select payment_id, body from webhook_deliveries where endpoint_id = $1 and state = 'delivered' order by payment_id, sequence limit $2`,
    [context.endpoint.id, paymentsMax * EVENTS_PER_BOOKING],
  );
  const byPayment = new Map<string, string[]>();
  for (const row of rows) {
    let list = byPayment.get(row.payment_id);
    if (list === undefined) byPayment.set(row.payment_id, (list = []));
    list.push(row.body);
  }
  // A payment cut by the limit would send fewer events than the relay's: only whole payments.
  const whole = [...byPayment.values()].filter((bodies) => bodies.length === EVENTS_PER_BOOKING);
  if (whole.length === 0) throw new Error('bench:webhooks: no delivered bodies to give the HTTP floor');
  return whole;
}
