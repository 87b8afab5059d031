/**
 * One load phase: autocannon against a server, every connection a bench bank's own mTLS connection, every request
 * prepared by the request supply. What autocannon would get wrong we do ourselves (BENCHMARKING.md):
 *
 *   1. latency: our own fractional-millisecond histogram, from the 'response' event, for every response (not just
 *      2xx, not whole milliseconds);
 *   3. TLS: one SecureContext per bank (CA, the bank's certificate and key), injected into each client in
 *      setupClient — never raw key material (a context per connection) nor a context in the options (deep-cloned);
 *   4. statuses: counted here, and the first bodies of anything but 200 kept for the report;
 *   5. keep-alive on (autocannon's only mode) and pipelining as configured — both recorded with the result;
 *   6. setupRequest only pops a prepared request (request-supply.ts);
 *   7. saturation (closed loop) or a fixed overall rate, and for the latter a second histogram corrected for
 *      coordinated omission.
 *
 * A connection carries one client certificate, so it belongs to one bank: autocannon runs once per bank, all
 * instances at the same time, each with that bank's connections; the results are merged.
 */
import { performance } from 'node:perf_hooks';
import type { SecureContext } from 'node:tls';

import autocannon, { type AutocannonClient } from 'autocannon';

import { LatencyHistogram, type LatencySummary } from '../lib/histogram.ts';
import { machineBusyShare, type ProcessSampler, type ProcessWindow, readMachineCpu } from '../lib/process-sampler.ts';
import type { ProgressLine } from '../lib/progress.ts';
import { transactionsOfMsgId } from './messages.ts';
import type { RequestSupply } from './request-supply.ts';

/** A request taking longer than this is abandoned by autocannon (and counted as an error). */
export const REQUEST_TIMEOUT_SECONDS = 10;
/** Requests prepared per bank before a phase starts, so its first second does not wait for the workers. */
const PREFILL_REQUESTS_PER_BANK = 256;
/** Bodies of unexpected answers kept for the report. */
const ERROR_SAMPLES_MAX = 5;
const ERROR_SAMPLE_CHARS_MAX = 600;

export interface LoadPlan {
  readonly id: string;
  readonly label: string;
  readonly port: number;
  /** Bank of each connection; its length is the number of connections. */
  readonly assignment: readonly number[];
  readonly pipelining: number;
  readonly durationSeconds: number;
  /** Requests per second over all connections; undefined = saturation. */
  readonly overallRate?: number | undefined;
  /**
   * How a fixed rate is kept. `paced` (pipelining 1): an open-loop schedule, one slot every 1/rate s for the whole
   * phase; a connection sends its next request at the next free slot (at once when the schedule is behind), and the
   * latency is also measured from the slot — coordinated omission corrected at the source. `autocannon`: its own
   * `overallRate` (each connection's share per one-second window, sent back to back: a burst every second).
   */
  readonly rateMode?: 'paced' | 'autocannon';
  /**
   * How to read a 200: `intake`, the gateway's pacs.002 (nothing rejected = accepted; its OrgnlMsgId says how many
   * payments); `baseline`, a fixed answer (every 200 counts, payments are not counted); `read`, any 200 counts.
   */
  readonly kind: 'intake' | 'baseline' | 'read';
}

export interface LoadEnvironment {
  readonly supply: RequestSupply;
  readonly contextOf: (bank: number) => SecureContext;
  /** Samples the server process; a window of it is reported. */
  readonly sampler?: ProcessSampler | undefined;
  readonly progress: ProgressLine;
}

export interface LoadResult {
  readonly id: string;
  readonly label: string;
  readonly kind: LoadPlan['kind'];
  readonly connections: number;
  readonly pipelining: number;
  readonly keepAlive: true;
  readonly mode: 'saturation' | 'fixed-rate';
  /** Fixed-rate runs: how the rate was kept (see LoadPlan.rateMode). */
  readonly rateMode: 'paced' | 'autocannon' | null;
  /** Fixed-rate runs: the rate asked of autocannon, the banks' shares summed (rounding can add a few per second). */
  readonly targetRate: number | null;
  readonly banks: Record<string, number>;
  /** Epoch milliseconds when the phase began. */
  readonly startedAt: number;
  readonly seconds: number;
  readonly responses: number;
  readonly statuses: Record<string, number>;
  /** Connection errors and timeouts (autocannon's), plus non-200 answers. */
  readonly errors: number;
  readonly timeouts: number;
  readonly non200: number;
  /** Intake: 200 answers whose pacs.002 rejects nothing. Reads: 200 answers. */
  readonly accepted: number;
  readonly acceptedPerSecond: number;
  /** Intake only (0 otherwise): transactions in the accepted messages, and answers that were 200 but rejected some (PART). */
  readonly acceptedPayments: number;
  readonly acceptedPaymentsPerSecond: number;
  readonly partiallyRejected: number;
  readonly latencyMs: LatencySummary;
  /**
   * Fixed-rate runs, corrected for coordinated omission: paced, each response's latency from its scheduled slot;
   * autocannon, the samples with HdrHistogram's correction against each connection's average interval.
   */
  readonly correctedLatencyMs: LatencySummary | null;
  /** For the plot: share of responses per log-spaced latency bin. */
  readonly latencyDistribution: { readonly ms: number; readonly share: number }[];
  /** Accepted answers in each whole second of the phase. */
  readonly acceptedEachSecond: number[];
  readonly generator: {
    /** Event-loop utilisation of the thread running autocannon (0..1). */
    readonly mainThreadUtilisation: number;
    readonly workerUtilisation: number[];
    readonly served: number;
    readonly fallbacks: number;
  };
  readonly server: (ProcessWindow & { readonly cpuMsPerAccepted: number; readonly cpuMsPerAcceptedPayment: number }) | null;
  readonly machineBusyShare: number | null;
  readonly errorSamples: { readonly status: number | string; readonly body: string }[];
  /** Intake: the MsgId of every accepted message, for the database check (not written to the record). */
  readonly acceptedMsgIds: string[];
}

export async function runLoad(plan: LoadPlan, env: LoadEnvironment): Promise<LoadResult> {
  const byBank = new Map<number, number>();
  for (const bank of plan.assignment) byBank.set(bank, (byBank.get(bank) ?? 0) + 1);
  const connections = plan.assignment.length;
  const histogram = new LatencyHistogram();
  const corrected = plan.overallRate === undefined ? null : new LatencyHistogram();
  const statuses: Record<string, number> = {};
  const acceptedEachSecond: number[] = [];
  const acceptedMsgIds: string[] = [];
  const errorSamples: LoadResult['errorSamples'][number][] = [];
  let responses = 0;
  let accepted = 0;
  let acceptedPayments = 0;
  let partiallyRejected = 0;
  let connectionErrors = 0;

  await env.supply.prefill([...byBank.keys()], PREFILL_REQUESTS_PER_BANK);
  const supplyBefore = env.supply.counters();
  const workersBefore = env.supply.workerUtilisation();
  const eluBefore = performance.eventLoopUtilization();
  const machineBefore = readMachineCpu();
  env.sampler?.sample();
  const started = Date.now();
  const startedHr = performance.now();

  const rateMode = plan.overallRate === undefined ? null : plan.pipelining === 1 ? (plan.rateMode ?? 'paced') : 'autocannon';
  const pacer = rateMode === 'paced' ? new Pacer(plan.overallRate!, startedHr) : undefined;
  // autocannon's overallRate: each bank's share; it needs at least one request per second per connection.
  const rateOf = (count: number): number | undefined =>
    rateMode !== 'autocannon' ? undefined : Math.max(count, Math.round((plan.overallRate! * count) / connections));
  const instances = [...byBank.entries()].map(([bank, count]) => {
    const context = env.contextOf(bank);
    const rate = rateOf(count);
    // Per client: one request every `interval` ms on average, the schedule coordinated omission is measured against.
    const intervalMs = rate === undefined ? 0 : (1000 * count) / rate;
    const instance = autocannon({
      url: `https://127.0.0.1:${plan.port}`,
      servername: 'localhost',
      connections: count,
      pipelining: plan.pipelining,
      duration: plan.durationSeconds,
      timeout: REQUEST_TIMEOUT_SECONDS,
      ...(rate === undefined ? {} : { overallRate: rate }),
      setupClient: (client) => {
        client.opts.tlsOptions = { secureContext: context };
        if (pacer !== undefined) pacer.attach(client);
      },
      requests: [
        {
          setupRequest: (request) => {
            const next = env.supply.next(bank);
            return { ...request, method: next.method, path: next.path, headers: next.headers, ...(next.body === undefined ? {} : { body: next.body }) };
          },
          onResponse: (status, body) => {
            if (status === 200) {
              if (plan.kind !== 'intake') {
                accepted += 1;
                bump(acceptedEachSecond, started);
                return;
              }
              const msgId = between(body, '<OrgnlMsgId>', '</OrgnlMsgId>');
              // A 200 may still reject some transactions (group status PART): booked, but not all accepted.
              if (body.includes('>RJCT<')) {
                partiallyRejected += 1;
                sample(errorSamples, 200, body);
                return;
              }
              accepted += 1;
              bump(acceptedEachSecond, started);
              if (msgId !== undefined) {
                acceptedMsgIds.push(msgId);
                acceptedPayments += transactionsOfMsgId(msgId) ?? 0;
              }
            } else {
              sample(errorSamples, status, body);
            }
          },
        },
      ],
    });
    instance.on('response', (client, statusCode, _bytes, ms) => {
      responses += 1;
      statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
      histogram.record(ms);
      if (pacer !== undefined) corrected?.record(pacer.sinceSlot(client, ms));
      else corrected?.recordCorrected(ms, intervalMs);
    });
    instance.on('reqError', (error) => {
      connectionErrors += 1;
      sample(errorSamples, 'error', error.message);
    });
    return { bank, instance };
  });

  const ticker = setInterval(() => {
    const elapsed = (Date.now() - started) / 1000;
    const rate = accepted / Math.max(elapsed, 0.001);
    const bad = responses - accepted + connectionErrors;
    env.progress.update(`${plan.label}: ${elapsed.toFixed(0)}/${plan.durationSeconds} s, ${rate.toFixed(0)} accepted/s, ${bad} not accepted`);
  }, 1000);
  let results;
  try {
    results = await Promise.all(instances.map(({ instance }) => instance));
  } finally {
    clearInterval(ticker);
  }
  const seconds = (performance.now() - startedHr) / 1000;
  env.sampler?.sample();
  const ended = Date.now();
  const elu = performance.eventLoopUtilization(eluBefore);
  const workersAfter = env.supply.workerUtilisation();
  const supplyAfter = env.supply.counters();
  const window = env.sampler?.window(started, ended) ?? null;
  const timeouts = results.reduce((sum, r) => sum + r.timeouts, 0);
  const errors = results.reduce((sum, r) => sum + r.errors, 0);
  const non200 = responses - (statuses['200'] ?? 0);

  return {
    id: plan.id,
    label: plan.label,
    kind: plan.kind,
    connections,
    pipelining: plan.pipelining,
    keepAlive: true,
    mode: plan.overallRate === undefined ? 'saturation' : 'fixed-rate',
    rateMode,
    targetRate: rateMode === null ? null : rateMode === 'paced' ? plan.overallRate! : [...byBank.values()].reduce((sum, count) => sum + (rateOf(count) ?? 0), 0),
    banks: Object.fromEntries([...byBank.entries()].map(([bank, count]) => [String(bank), count])),
    startedAt: started,
    seconds,
    responses,
    statuses,
    errors: errors + non200 + partiallyRejected,
    timeouts,
    non200,
    accepted,
    acceptedPerSecond: accepted / seconds,
    acceptedPayments,
    acceptedPaymentsPerSecond: acceptedPayments / seconds,
    partiallyRejected,
    latencyMs: histogram.summary(),
    correctedLatencyMs: corrected?.summary() ?? null,
    latencyDistribution: histogram.distribution(),
    // Whole seconds only: the last, partial one would read as a drop in throughput.
    acceptedEachSecond: Array.from(acceptedEachSecond, (n) => n ?? 0).slice(0, Math.floor(seconds)),
    generator: {
      mainThreadUtilisation: elu.utilization,
      workerUtilisation: workersAfter.map((after, i) => {
        const before = workersBefore[i];
        const active = after.active - (before?.active ?? 0);
        const idle = after.idle - (before?.idle ?? 0);
        return active + idle > 0 ? active / (active + idle) : 0;
      }),
      served: supplyAfter.served - supplyBefore.served,
      fallbacks: supplyAfter.fallbacks - supplyBefore.fallbacks,
    },
    server:
      window === null
        ? null
        : {
            ...window,
            cpuMsPerAccepted: accepted > 0 ? (window.cpuSeconds * 1000) / accepted : Number.NaN,
            cpuMsPerAcceptedPayment: acceptedPayments > 0 ? (window.cpuSeconds * 1000) / acceptedPayments : Number.NaN,
          },
    machineBusyShare: machineBusyShare(machineBefore, readMachineCpu()),
    errorSamples,
    acceptedMsgIds,
  };
}

/**
 * An open-loop arrival schedule shared by every connection of a phase: slot k is at start + k / rate. A connection
 * that is ready takes the next slot and sends then (at once if the slot has passed: the schedule is behind, and
 * the wait counts as latency). Works by wrapping autocannon's per-client send (`_doRequest`, autocannon 9): with
 * pipelining 1 each client has one request in flight, so its current slot is a single number.
 */
class Pacer {
  private readonly intervalMs: number;
  private readonly startMs: number;
  private next = 0;
  private readonly slots = new WeakMap<object, number>();

  constructor(ratePerSecond: number, startMs: number) {
    this.intervalMs = 1000 / ratePerSecond;
    this.startMs = startMs;
  }

  attach(client: AutocannonClient): void {
    const target = client as unknown as { _doRequest: () => void; destroyed: boolean };
    const send = target._doRequest.bind(target);
    target._doRequest = () => {
      const slot = this.startMs + this.next++ * this.intervalMs;
      const wait = slot - performance.now();
      const go = (): void => {
        if (target.destroyed) return;
        this.slots.set(client, slot);
        send();
      };
      if (wait > 0) setTimeout(go, wait);
      else go();
    };
  }

  /** Milliseconds from the response's scheduled slot to now (the write→response time when the slot is unknown). */
  sinceSlot(client: AutocannonClient, writeToResponseMs: number): number {
    const slot = this.slots.get(client);
    return slot === undefined ? writeToResponseMs : Math.max(writeToResponseMs, performance.now() - slot);
  }
}

function between(text: string, open: string, close: string): string | undefined {
  const start = text.indexOf(open);
  if (start < 0) return undefined;
  const end = text.indexOf(close, start + open.length);
  return end < 0 ? undefined : text.slice(start + open.length, end);
}

function bump(perSecond: number[], started: number): void {
  const second = Math.floor((Date.now() - started) / 1000);
  perSecond[second] = (perSecond[second] ?? 0) + 1;
}

function sample(samples: { status: number | string; body: string }[], status: number | string, body: string): void {
  if (samples.length < ERROR_SAMPLES_MAX) samples.push({ status, body: body.slice(0, ERROR_SAMPLE_CHARS_MAX) });
}
