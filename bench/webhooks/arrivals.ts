/**
 * From what the receiver recorded to what a phase proves and measures: every expected webhook-id delivered exactly
 * once (none lost, none twice, nothing unexpected, every signature verified), each payment's events in sequence
 * order, and — for the fixed-rate phases — the latency of each event from its payment's reference time (the
 * booking's commit for the relay, the time it was due for the HTTP floor), per sequence number, in a
 * fractional-millisecond histogram.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { LatencyHistogram, type LatencySummary } from '../lib/histogram.ts';
import type { ProgressLine } from '../lib/progress.ts';
import type { PhaseRecord } from './receiver.ts';

/** How often a drain looks at the receiver's count. */
const DRAIN_POLL_MS = 50;

/** The webhook-ids of one payment's events, in sequence order. */
export type PaymentIds = readonly string[];

export interface DeliveryChecks {
  readonly expected: number;
  /** Expected ids that arrived, verified and answered 200. */
  readonly delivered: number;
  readonly lost: number;
  /** Verified arrivals of an id that had already arrived in this phase. */
  readonly duplicates: number;
  /** Verified ids nobody expected in this phase. */
  readonly unexpected: number;
  /** Requests the receiver refused (401): bad signature, stale timestamp, … */
  readonly unverified: number;
  readonly unverifiedReasons: readonly string[];
  /** Payments whose event n arrived before event n − 1. */
  readonly orderViolations: number;
  /** Of the sampled v1a (Ed25519) signatures: checked, and failed. */
  readonly v1aChecked: number;
  readonly v1aFailed: number;
}

/** True when the phase delivered exactly what it should have. */
export function exact(checks: DeliveryChecks): boolean {
  return checks.lost === 0 && checks.duplicates === 0 && checks.unexpected === 0 && checks.unverified === 0 && checks.orderViolations === 0 && checks.v1aFailed === 0;
}

export function checkArrivals(record: PhaseRecord, payments: readonly PaymentIds[]): DeliveryChecks {
  let expected = 0;
  let delivered = 0;
  let orderViolations = 0;
  for (const ids of payments) {
    let previous = Number.NEGATIVE_INFINITY;
    let ordered = true;
    for (const id of ids) {
      expected += 1;
      const at = record.firstArrival.get(id);
      if (at === undefined) continue;
      delivered += 1;
      if (at < previous) ordered = false;
      previous = at;
    }
    if (!ordered) orderViolations += 1;
  }
  return {
    expected,
    delivered,
    lost: expected - delivered,
    duplicates: record.duplicates,
    unexpected: record.delivered - delivered,
    unverified: record.unverified,
    unverifiedReasons: [...record.unverifiedReasons],
    orderViolations,
    v1aChecked: record.v1aChecked,
    v1aFailed: record.v1aFailed,
  };
}

export interface SequenceLatency {
  /** Event sequence number: 1 = RCVD, 2 = ACSP. */
  readonly sequence: number;
  readonly latencyMs: LatencySummary;
}

export interface LatencyResult {
  readonly bySequence: readonly SequenceLatency[];
  readonly allMs: LatencySummary;
  /** Arrivals earlier than their reference time (clock alignment error or a commit noticed late), recorded as 0. */
  readonly negative: number;
}

/** Latency of every arrived event from its payment's reference time (performance.now(), same clock as arrivals). */
export function latencies(record: PhaseRecord, payments: readonly PaymentIds[], referenceAt: (payment: number) => number): LatencyResult {
  const bySequence = new Map<number, LatencyHistogram>();
  const all = new LatencyHistogram();
  let negative = 0;
  payments.forEach((ids, payment) => {
    const reference = referenceAt(payment);
    ids.forEach((id, index) => {
      const at = record.firstArrival.get(id);
      if (at === undefined) return;
      let ms = at - reference;
      if (ms < 0) {
        negative += 1;
        ms = 0;
      }
      let histogram = bySequence.get(index + 1);
      if (histogram === undefined) bySequence.set(index + 1, (histogram = new LatencyHistogram()));
      histogram.record(ms);
      all.record(ms);
    });
  });
  return {
    bySequence: [...bySequence].sort(([a], [b]) => a - b).map(([sequence, histogram]) => ({ sequence, latencyMs: histogram.summary() })),
    allMs: all.summary(),
    negative,
  };
}

/**
 * Waits until `expected` distinct ids arrived in the phase, or `timeoutMs` passed (then the checks will say how many
 * were lost). Shows progress: arrivals so far and the rate over the last second.
 */
export async function drain(record: PhaseRecord, expected: number, timeoutMs: number, progress: ProgressLine, label: string): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  let lastCount = 0;
  let lastAt = performance.now();
  let rate = 0;
  while (record.delivered < expected) {
    const now = performance.now();
    if (now > deadline) return false;
    if (now - lastAt >= 1000) {
      rate = ((record.delivered - lastCount) * 1000) / (now - lastAt);
      lastCount = record.delivered;
      lastAt = now;
    }
    progress.update(`${label}: ${record.delivered.toLocaleString('en')}/${expected.toLocaleString('en')} delivered (${Math.round(rate).toLocaleString('en')}/s)`);
    await sleep(DRAIN_POLL_MS);
  }
  return true;
}
