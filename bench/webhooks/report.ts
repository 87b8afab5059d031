/**
 * The record bench:webhooks writes (bench/results/webhooks-*.json) and the Markdown tables it prints: saturation
 * throughput with relay ÷ floor ratios, commit-to-delivery latency per event sequence with relay ÷ floor ratios,
 * what each delivery cost in CPU, the NOTIFY wake-up and the receiver's verification cost.
 */
import type { LatencySummary } from '../lib/histogram.ts';
import { type DeliveryChecks, exact } from './arrivals.ts';
import type { NotifyProbe } from './notify-probe.ts';
import { BOOKINGS_IN_FLIGHT_MAX, type RateResult, type SaturationResult } from './phases.ts';
import type { VerifierKind } from './receiver.ts';
import type { VerifierCost } from './verifier-cost.ts';

export interface WebhooksSettings {
  readonly mode: 'full' | 'quick' | 'custom';
  readonly payments: number;
  readonly relays: readonly number[];
  readonly ratesPerSecond: readonly number[];
  readonly durationSeconds: number;
  readonly verifier: VerifierKind;
  readonly v1aEvery: number;
  readonly drainTimeoutSeconds: number;
  readonly idleSeconds: number;
  readonly notifySamples: number;
  readonly template: 'alpha1';
  readonly eventsPerPayment: number;
  /** The relay's production limits the run used (WEBHOOK_LIMITS). */
  readonly relayLimits: Record<string, number>;
  readonly cpuProfileDir: string | null;
}

export interface SaturationRatio {
  readonly senders: number;
  readonly relayPerSecond: number;
  readonly floorPerSecond: number;
  readonly relayOverFloor: number;
}

export interface LatencyRatio {
  /** The asked booking rate of the relay phase (the floor ran at the rate that phase achieved). */
  readonly askedPerSecond: number;
  readonly sequence: number;
  readonly relayMs: { readonly p50: number; readonly p99: number };
  readonly floorMs: { readonly p50: number; readonly p99: number };
  readonly relayOverFloor: { readonly p50: number; readonly p99: number };
}

export interface WebhooksRecord {
  readonly bench: 'webhooks';
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly node: string;
  readonly v8: string;
  readonly platform: string;
  readonly cpu: { readonly model: string; readonly cores: number };
  readonly loadAverage: { readonly start: number[]; readonly end: number[] };
  readonly stealPercent: number | null;
  readonly settings: WebhooksSettings;
  /** The run's own database (created, migrated and dropped by the run). */
  readonly database: string;
  readonly verifierCost: VerifierCost;
  readonly notify: NotifyProbe | null;
  readonly saturation: readonly SaturationResult[];
  readonly latency: readonly RateResult[];
  readonly ratios: { readonly saturation: readonly SaturationRatio[]; readonly latency: readonly LatencyRatio[] };
  /** Every phase delivered exactly its events: none lost, none twice, none unverified, none out of order. */
  readonly exact: boolean;
  readonly problems: readonly string[];
}

export function ratiosOf(saturation: readonly SaturationResult[], latency: readonly RateResult[]): WebhooksRecord['ratios'] {
  const saturationRatios: SaturationRatio[] = [];
  for (const relay of saturation.filter((s) => s.kind === 'relay')) {
    const floor = saturation.find((s) => s.kind === 'floor' && s.senders === relay.senders);
    if (floor === undefined) continue;
    saturationRatios.push({
      senders: relay.senders,
      relayPerSecond: relay.deliveriesPerSecond,
      floorPerSecond: floor.deliveriesPerSecond,
      relayOverFloor: relay.deliveriesPerSecond / floor.deliveriesPerSecond,
    });
  }
  const latencyRatios: LatencyRatio[] = [];
  for (const relay of latency.filter((l) => l.kind === 'relay')) {
    const floor = latency.find((l) => l.kind === 'floor' && l.askedPerSecond === relay.askedPerSecond);
    if (floor === undefined) continue;
    for (const { sequence, latencyMs } of relay.latency.bySequence) {
      const floorMs = floor.latency.bySequence.find((s) => s.sequence === sequence)?.latencyMs;
      if (floorMs === undefined) continue;
      latencyRatios.push({
        askedPerSecond: relay.askedPerSecond,
        sequence,
        relayMs: { p50: latencyMs.p50, p99: latencyMs.p99 },
        floorMs: { p50: floorMs.p50, p99: floorMs.p99 },
        relayOverFloor: { p50: latencyMs.p50 / floorMs.p50, p99: latencyMs.p99 / floorMs.p99 },
      });
    }
  }
  return { saturation: saturationRatios, latency: latencyRatios };
}

/** What went wrong in any phase, one line each (empty: every phase exact). */
export function problemsOf(phases: readonly { readonly id: string; readonly checks: DeliveryChecks }[]): string[] {
  return phases
    .filter((phase) => !exact(phase.checks))
    .map(({ id, checks }) => {
      const parts = Object.entries({ lost: checks.lost, duplicates: checks.duplicates, unexpected: checks.unexpected, unverified: checks.unverified, 'out of order': checks.orderViolations, 'v1a failed': checks.v1aFailed })
        .filter(([, n]) => n > 0)
        .map(([what, n]) => `${n} ${what}`);
      return `${id}: ${parts.join(', ')}${checks.unverifiedReasons.length > 0 ? ` (${checks.unverifiedReasons.join('; ')})` : ''}`;
    });
}

/** Three significant digits, thousands separated: 1,234 · 56.7 · 0.123. */
export function fmt(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

const ratio = (value: number): string => (Number.isFinite(value) ? `${value >= 10 ? value.toFixed(0) : value.toFixed(2)}×` : '–');
const percent = (share: number | null): string => (share === null ? '–' : `${Math.round(share * 100)} %`);
const check = (checks: DeliveryChecks): string => (exact(checks) ? `${checks.delivered.toLocaleString('en')}/${checks.expected.toLocaleString('en')} ✓` : `✗ ${checks.delivered}/${checks.expected}`);

function table(header: readonly string[], rows: readonly (readonly string[])[], rightFrom = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => (i >= rightFrom ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i >= rightFrom ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

export function formatSaturation(record: WebhooksRecord): string {
  const rows = record.saturation.map((s) => {
    const ratioRow = record.ratios.saturation.find((r) => r.senders === s.senders);
    const senderCores = s.costs.senders.reduce((n, c) => n + (c?.cpuShareOfOneCore ?? Number.NaN), 0);
    return [
      `${s.kind === 'relay' ? 'relay' : 'HTTP floor'} × ${s.senders}`,
      s.events.toLocaleString('en'),
      fmt(s.seconds),
      fmt(s.deliveriesPerSecond),
      s.kind === 'relay' && ratioRow !== undefined ? ratio(ratioRow.relayOverFloor) : '',
      fmt(s.senderCpuMsPerDelivery),
      fmt(s.postgresCpuMsPerDelivery),
      fmt(senderCores),
      fmt(s.costs.benchProcess.cpuShareOfOneCore),
      percent(s.costs.machineBusyShare),
      check(s.checks),
    ];
  });
  return table(
    ['saturation (backlog of events)', 'events', 's', 'deliveries/s', 'relay ÷ floor', 'sender CPU ms/delivery', 'Postgres CPU ms/delivery', 'sender CPU (cores)', 'bench CPU (cores)', 'machine busy', 'delivered exactly'],
    rows,
  );
}

const latencyCells = (l: LatencySummary): string[] => [fmt(l.p50), fmt(l.p90), fmt(l.p97_5), fmt(l.p99), fmt(l.max)];

export function formatLatency(record: WebhooksRecord): string {
  const rows: string[][] = [];
  for (const phase of record.latency) {
    for (const { sequence, latencyMs } of phase.latency.bySequence) {
      const r = record.ratios.latency.find((x) => x.askedPerSecond === phase.askedPerSecond && x.sequence === sequence);
      rows.push([
        phase.kind === 'relay' ? `relay, ${phase.askedPerSecond}/s asked` : `HTTP floor, at the relay's ${fmt(phase.ratePerSecond)}/s`,
        `${sequence} (${sequence === 1 ? 'RCVD' : 'ACSP'})`,
        latencyMs.count.toLocaleString('en'),
        ...latencyCells(latencyMs),
        phase.kind === 'relay' && r !== undefined ? `${ratio(r.relayOverFloor.p50)} / ${ratio(r.relayOverFloor.p99)}` : '',
        fmt(phase.achievedPerSecond),
        fmt(phase.senderCpuMsPerDelivery),
        fmt(phase.postgresCpuMsPerDelivery),
        check(phase.checks),
      ]);
    }
  }
  return table(
    ['fixed rate (payments/s)', 'event sequence', 'events', 'p50 ms', 'p90 ms', 'p97.5 ms', 'p99 ms', 'max ms', 'relay ÷ floor p50 / p99', 'achieved/s', 'sender CPU ms/delivery', 'Postgres CPU ms/delivery', 'delivered exactly'],
    rows,
    2,
  );
}

function producerMsPerBooking(phase: RateResult): number | null {
  const seconds = phase.costs.postgresCpuSeconds?.producer;
  return seconds === undefined ? null : (seconds * 1000) / phase.payments;
}

export function formatBreakdown(record: WebhooksRecord): string {
  const rows: string[][] = [];
  const pair = (l: LatencySummary | undefined): string => (l === undefined ? '' : `${fmt(l.p50)} / ${fmt(l.p99)}`);
  for (const phase of record.latency) {
    for (const stage of phase.breakdown ?? []) {
      const total = phase.latency.bySequence.find((s) => s.sequence === stage.sequence)?.latencyMs;
      rows.push([
        `relay, ${phase.askedPerSecond}/s asked`,
        `${stage.sequence} (${stage.sequence === 1 ? 'RCVD' : 'ACSP'})`,
        pair(stage.commitToClaimMs),
        pair(stage.previousRecordedToClaimMs),
        pair(stage.claimToArrivalMs),
        pair(stage.arrivalToRecordMs),
        pair(total),
      ]);
    }
  }
  return table(['where the latency goes, ms p50 / p99', 'event sequence', 'commit → claim', 'previous event recorded → claim', 'claim → arrival', 'arrival → recorded', 'commit → arrival (total)'], rows, 2);
}

export function formatDetails(record: WebhooksRecord): string {
  const lines: string[] = [];
  const v = record.verifierCost;
  lines.push(
    `Receiver verification (v1, ${v.bodyBytes} B body): standardwebhooks ${fmt(v.microseconds.library.p50)} µs, node:crypto HMAC ${fmt(v.microseconds.hmac.p50)} µs per request (p50 of batch means); ` +
      `this run verified with ${record.settings.verifier === 'library' ? 'standardwebhooks' : 'node:crypto HMAC'}, and checked every ${record.settings.v1aEvery}th v1a (Ed25519) signature too.`,
  );
  if (record.notify !== null) {
    const n = record.notify;
    lines.push(`NOTIFY wake-up (select pg_notify → listener's event, ${n.samples} samples): p50 ${fmt(n.wakeupMs.p50)} ms, p99 ${fmt(n.wakeupMs.p99)} ms; select 1 round trip p50 ${fmt(n.roundTripMs.p50)} ms.`);
  }
  for (const phase of record.latency.filter((l) => l.kind === 'relay')) {
    lines.push(
      `${phase.id}: booking (due → commit) p50 ${fmt(phase.bookingMs?.p50)} ms, p99 ${fmt(phase.bookingMs?.p99)} ms; ${phase.lateStarts} late starts; relay idle CPU before it ${percent(phase.idleCpuShareOfOneCore ?? null)} of a core; ` +
        `Postgres CPU of the relay's backends ${fmt(phase.postgresCpuMsPerDelivery)} ms/delivery, of the producer's ${fmt(producerMsPerBooking(phase))} ms/booking; ` +
        `bench event-loop delay p99 ${fmt(phase.costs.benchLoopDelayMs.p99)} ms.`,
    );
  }
  for (const phase of record.latency.filter((l) => l.kind === 'floor')) {
    lines.push(`${phase.id}: ${phase.lateStarts} late starts; clock alignment error ≤ ${fmt(phase.clockErrorMs)} ms; bench event-loop delay p99 ${fmt(phase.costs.benchLoopDelayMs.p99)} ms.`);
  }
  const prebook = record.saturation.filter((s) => s.prebookPerSecond !== undefined).map((s) => `${s.id} ${fmt(s.prebookPerSecond)}/s`);
  if (prebook.length > 0) lines.push(`Pre-booking the backlogs (bookMessage, ${BOOKINGS_IN_FLIGHT_MAX} in flight): ${prebook.join(', ')}.`);
  const last = [...record.saturation, ...record.latency].filter((p) => p.database !== undefined).pop()?.database;
  if (last !== undefined) {
    lines.push(
      `Database at the end: ${last.outboxRows} outbox rows, ${last.undispatched} undispatched; ${last.deliveries} deliveries, ${last.delivered} delivered, ${last.retried} retried; ${last.attempts} attempts, ${last.failedAttempts} not delivered.`,
    );
  }
  return lines.map((line) => `- ${line}`).join('\n');
}

export function formatAll(record: WebhooksRecord): string {
  const problems = record.problems.length === 0 ? 'Every phase delivered exactly its events (none lost, none twice, every signature verified, per-payment order kept).' : `PROBLEMS:\n${record.problems.map((p) => `  - ${p}`).join('\n')}`;
  const tables = [
    record.saturation.length > 0 ? formatSaturation(record) : '',
    record.latency.length > 0 ? formatLatency(record) : '',
    record.latency.some((l) => (l.breakdown ?? []).length > 0) ? formatBreakdown(record) : '',
  ];
  return [...tables.filter((t) => t !== ''), formatDetails(record), problems].join('\n\n');
}
