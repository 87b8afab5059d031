/**
 * The e2e record as Markdown: the results section of bench/README.md (rewritten between its markers on every
 * default run, so the README's numbers are always the harness's) and what run.ts prints.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';

import type { LatencySummary } from '../lib/histogram.ts';
import type { E2eRecord, LoadSummary } from './bench.ts';
import type { FloorResult } from './database-floor.ts';
import type { PlotFiles } from './plots.ts';
import { TARGETS } from './settings.ts';

export const RESULTS_BEGIN = '<!-- e2e:results:begin (written by bench/e2e/run.ts; do not edit by hand) -->';
export const RESULTS_END = '<!-- e2e:results:end -->';

const ms = (value: number | undefined): string =>
  value === undefined || Number.isNaN(value) ? '–' : value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value >= 1 ? value.toFixed(2) : value.toFixed(3);
const int = (value: number | undefined): string => (value === undefined || Number.isNaN(value) ? '–' : Math.round(value).toLocaleString('en'));
const pct = (value: number | null | undefined): string =>
  value === undefined || value === null || Number.isNaN(value) ? '–' : `${(value * 100).toFixed(Math.abs(value) < 0.1 ? 1 : 0)} %`;
const ratio = (value: number | undefined): string => (value === undefined || !Number.isFinite(value) ? '–' : `${value.toFixed(2)}×`);
const mib = (bytes: number | null | undefined): string => (bytes === undefined || bytes === null || Number.isNaN(bytes) ? '–' : `${(bytes / 2 ** 20).toFixed(0)} MiB`);

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

interface TargetRow {
  readonly what: string;
  readonly measured: string;
  readonly target: string;
  readonly met: boolean | null;
}

export function targetRows(record: E2eRecord): TargetRow[] {
  const p = record.phases;
  const errors = [p.gateway, p.hot, p.fixedRate, p.soak, p.read?.small.gateway, p.read?.large.gateway, p.read?.payment]
    .filter((phase): phase is LoadSummary => phase !== undefined)
    .reduce((sum, phase) => sum + phase.errors, 0);
  const floorErrors = (p.floorSpread?.errors ?? 0) + (p.floorHot?.errors ?? 0);
  const ofFloor = p.gateway !== undefined && p.floorSpread !== undefined ? p.gateway.acceptedPerSecond / p.floorSpread.bookedPerSecond : undefined;
  const hotOfSpread = p.gateway !== undefined && p.hot !== undefined ? p.hot.acceptedPerSecond / p.gateway.acceptedPerSecond : undefined;
  const fixedP99 = p.fixedRate?.latencyMs.p99;
  const rows: TargetRow[] = [
    {
      what: 'accepted pacs.008/s, gateway, spread, saturation',
      measured: int(p.gateway?.acceptedPerSecond),
      target: `≥ ${int(TARGETS.acceptedPerSecondMin)}`,
      met: p.gateway === undefined ? null : p.gateway.acceptedPerSecond >= TARGETS.acceptedPerSecondMin,
    },
    {
      what: `p99 at a fixed ${int(record.fixedRate.rate ?? undefined)}/s${record.fixedRate.rate !== TARGETS.acceptedPerSecondMin ? ' (below the target rate: see "fixed rate")' : ''}`,
      measured: fixedP99 === undefined ? '–' : `${ms(fixedP99)} ms`,
      target: `≤ ${TARGETS.p99MsMax} ms at ${int(TARGETS.acceptedPerSecondMin)}/s`,
      met: fixedP99 === undefined ? null : fixedP99 <= TARGETS.p99MsMax && record.fixedRate.rate === TARGETS.acceptedPerSecondMin,
    },
    { what: 'errors, every gateway phase (non-200, rejected, connection errors, timeouts)', measured: int(errors), target: '0', met: errors === TARGETS.errorsMax },
    { what: 'errors, database floor', measured: int(floorErrors), target: '0', met: p.floorSpread === undefined ? null : floorErrors === 0 },
    { what: 'gateway ÷ database floor, throughput (spread)', measured: pct(ofFloor), target: `≥ ${pct(TARGETS.shareOfDatabaseFloorMin)}`, met: ofFloor === undefined ? null : ofFloor >= TARGETS.shareOfDatabaseFloorMin },
    { what: 'one hot debtor bank ÷ spread, gateway throughput', measured: pct(hotOfSpread), target: `≥ ${pct(TARGETS.hotShareOfSpreadMin)}`, met: hotOfSpread === undefined ? null : hotOfSpread >= TARGETS.hotShareOfSpreadMin },
    {
      what: `balance read p99 through the gateway, ${int(p.read?.large.postings)} postings`,
      measured: p.read === undefined ? '–' : `${ms(p.read.large.gateway.latencyMs.p99)} ms`,
      target: `≤ ${TARGETS.balanceP99MsMax} ms`,
      met: p.read === undefined ? null : p.read.large.gateway.latencyMs.p99 <= TARGETS.balanceP99MsMax,
    },
    {
      what: 'every accepted message booked; ledger consistent',
      measured:
        record.checks === null
          ? '–'
          : `${int(record.checks.bookings.foundMessages)} / ${int(record.checks.bookings.acceptedMessages)} messages, ${int(record.checks.bookings.foundPayments)} / ${int(record.checks.bookings.expectedPayments)} payments; ${record.checks.ledger.balanceMismatches} balance mismatches, ${record.checks.ledger.unbalancedEntries} unbalanced entries`,
      target: 'all; 0',
      met: record.checks === null ? null : record.checks.bookings.ok && record.checks.ledger.ok,
    },
  ];
  return rows;
}

function latencyCells(latency: LatencySummary): string[] {
  return [ms(latency.p50), ms(latency.p97_5), ms(latency.p99), ms(latency.max)];
}

function phaseRows(record: E2eRecord): string[][] {
  const p = record.phases;
  const load = (name: string, phase: LoadSummary | undefined): string[][] =>
    phase === undefined
      ? []
      : [
          [
            name,
            String(phase.connections),
            int(phase.acceptedPerSecond),
            phase.kind === 'intake' ? int(phase.acceptedPaymentsPerSecond) : '–',
            ...latencyCells(phase.latencyMs),
            phase.correctedLatencyMs === null ? '' : ms(phase.correctedLatencyMs.p99),
            int(phase.errors),
            phase.server === null ? '–' : phase.kind === 'intake' ? ms(phase.server.cpuMsPerAcceptedPayment) : `${ms(phase.server.cpuMsPerAccepted)} / request`,
            phase.server === null ? '–' : phase.server.cpuShareOfOneCore.toFixed(2),
            pct(phase.machineBusyShare),
            pct(phase.generator.mainThreadUtilisation),
          ],
        ];
  const floor = (name: string, phase: FloorResult | undefined): string[][] =>
    phase === undefined
      ? []
      : [[name, String(phase.concurrency), int(phase.bookedPerSecond), int(phase.bookedPaymentsPerSecond), ...latencyCells(phase.latencyMs), '', int(phase.errors), '', '', pct(phase.machineBusyShare), '']];
  return [
    ...load('gateway, spread, saturation', p.gateway),
    ...load('gateway, one hot debtor bank, saturation', p.hot),
    ...load(`gateway, spread, fixed ${int(record.fixedRate.rate ?? undefined)}/s`, p.fixedRate),
    ...load('baseline: bare Fastify + mTLS, fixed pacs.002', p.baseline),
    ...floor('database floor, spread (bookMessage only)', p.floorSpread),
    ...floor('database floor, one hot debtor bank', p.floorHot),
    ...load(`soak, fixed ${int(record.fixedRate.rate ?? undefined)}/s, ${p.soak === undefined ? '' : `${Math.round(p.soak.seconds)} s`}`, p.soak),
  ];
}

function ratioRows(record: E2eRecord): string[][] {
  const p = record.phases;
  const rows: string[][] = [];
  const add = (name: string, a: { rate: number; latency: LatencySummary } | undefined, b: { rate: number; latency: LatencySummary } | undefined): void => {
    if (a === undefined || b === undefined) return;
    rows.push([name, pct(a.rate / b.rate), ratio(a.latency.p50 / b.latency.p50), ratio(a.latency.p99 / b.latency.p99)]);
  };
  const load = (phase: LoadSummary | undefined) => (phase === undefined ? undefined : { rate: phase.acceptedPerSecond, latency: phase.latencyMs });
  const floor = (phase: FloorResult | undefined) => (phase === undefined ? undefined : { rate: phase.bookedPerSecond, latency: phase.latencyMs });
  add('gateway ÷ baseline (framework + TLS floor)', load(p.gateway), load(p.baseline));
  add('gateway ÷ database floor (spread)', load(p.gateway), floor(p.floorSpread));
  add('gateway hot ÷ database floor hot', load(p.hot), floor(p.floorHot));
  add('gateway: hot ÷ spread', load(p.hot), load(p.gateway));
  add('database floor: hot ÷ spread', floor(p.floorHot), floor(p.floorSpread));
  return rows;
}

export function formatResults(record: E2eRecord, plots: PlotFiles | undefined, relativeTo: string | undefined): string {
  const p = record.phases;
  const loads = (l: number[]): string => l.map((v) => v.toFixed(2)).join(' ');
  const out: string[] = [];
  out.push(
    `${record.quick ? '**Quick run** (`--quick`: short phases, no soak — indicative only), ' : ''}${record.date.replace('T', ' ').slice(0, 16)} UTC, ` +
      `${record.cpu.model} × ${record.cpu.cores}, ${record.platform}, Node ${record.node}; load average ${loads(record.loadAverage.start)} → ${loads(record.loadAverage.end)}` +
      `${record.stealPercent === null ? '' : `, ${record.stealPercent.toFixed(1)} % of CPU time stolen by the hypervisor`}; ${Math.round(record.durationSeconds)} s in all. ` +
      `Settings: ${String(record.settings.connections)} connections, pipelining ${String(record.settings.pipelining)}, keep-alive, ${String(record.settings.debtorBanks)} debtor banks, ` +
      `${pct(record.settings.tenTxShare as number)} 10-transaction messages, ${pct(record.settings.onwardShare as number)} onward, ${String(record.settings.durationSeconds)} s per phase.`,
  );
  out.push('');
  out.push(table(['target', 'measured', 'target', 'met'], targetRows(record).map((r) => [r.what, r.measured, r.target, r.met === null ? 'not run' : r.met ? 'yes' : '**no**'])));
  out.push('');
  out.push(
    table(
      ['phase', 'conns', 'accepted msg/s', 'payments/s', 'p50 ms', 'p97.5 ms', 'p99 ms', 'max ms', 'p99 CO-corr. ms', 'errors', 'server CPU ms / payment', 'server cores', 'machine busy', 'generator busy'],
      phaseRows(record),
    ),
  );
  out.push('');
  const mode = p.fixedRate?.rateMode ?? p.soak?.rateMode;
  out.push(
    `Fixed rate: ${int(record.fixedRate.rate ?? undefined)}/s, ${record.fixedRate.why}` +
      (mode === 'paced'
        ? '; paced: an open-loop schedule of one request every 1/rate s, the CO-corrected latency counted from each request\'s scheduled time.'
        : mode === 'autocannon'
          ? "; autocannon's overallRate (a burst per connection every second), CO-corrected with HdrHistogram's method."
          : '.'),
  );
  out.push('');
  const ratios = ratioRows(record);
  if (ratios.length > 0) out.push(table(['ratio', 'throughput', 'p50', 'p99'], ratios), '');
  if (p.read !== undefined) {
    const r = p.read;
    out.push(
      table(
        ['read (through the gateway at a fixed rate, and the SQL alone)', 'history', 'requests', 'p50 ms', 'p99 ms', 'errors', 'SQL alone p50 ms', 'SQL alone p99 ms'],
        [
          ['GET /accounts/{id}/balance', `${int(r.small.postings)} postings`, int(r.small.gateway.responses), ms(r.small.gateway.latencyMs.p50), ms(r.small.gateway.latencyMs.p99), int(r.small.gateway.errors), ms(r.small.queryMs.p50), ms(r.small.queryMs.p99)],
          ['GET /accounts/{id}/balance', `${int(r.large.postings)} postings`, int(r.large.gateway.responses), ms(r.large.gateway.latencyMs.p50), ms(r.large.gateway.latencyMs.p99), int(r.large.gateway.errors), ms(r.large.queryMs.p50), ms(r.large.queryMs.p99)],
          ['GET /payments/{uetr}', '', int(r.payment.responses), ms(r.payment.latencyMs.p50), ms(r.payment.latencyMs.p99), int(r.payment.errors), '', ''],
        ],
      ),
      '',
      `p99 with ${int(r.large.postings)} postings ÷ p99 with ${int(r.small.postings)}: ${ratio(r.largeOverSmallP99.gateway)} through the gateway, ${ratio(r.largeOverSmallP99.query)} for the statement alone.`,
      '',
    );
  }
  const g = record.gatewayProcess;
  const soak = p.soak;
  out.push(
    `Gateway process: RSS ${mib(g.rssAtBootBytes)} after boot, ${mib(g.rssAfterWarmupBytes)} after the warm-up` +
      (soak === undefined
        ? '; no soak in this run.'
        : `; soak (${Math.round(soak.seconds)} s at ${int(soak.targetRate ?? undefined)}/s, ${int(soak.accepted)} accepted, ${int(soak.errors)} errors): ${mib(soak.rssStartBytes)} at its start, ${mib(soak.rssEndBytes)} at its end (${soak.rssGrowthBytes >= 0 ? '+' : '−'}${mib(Math.abs(soak.rssGrowthBytes))}), trend over its second half ${(soak.rssSlopeBytesPerMinuteSecondHalf / 2 ** 20).toFixed(2)} MiB/min.`),
  );
  out.push('');
  const gatewayLoads = [p.warmup, p.gateway, p.hot, p.fixedRate, p.soak].filter((x): x is LoadSummary => x !== undefined);
  if (gatewayLoads.length > 0) {
    const fallbacks = gatewayLoads.reduce((s, x) => s + x.generator.fallbacks, 0);
    const served = gatewayLoads.reduce((s, x) => s + x.generator.served, 0);
    const busiest = Math.max(...gatewayLoads.map((x) => x.generator.mainThreadUtilisation));
    const workers = Math.max(...gatewayLoads.flatMap((x) => x.generator.workerUtilisation));
    const b = p.baseline;
    out.push(
      `Load generator, gateway phases: ${int(served)} requests came prepared from the factory worker${record.settings.workers === 1 ? '' : 's'}, ${int(fallbacks)} had to be made on the ` +
        `main thread (queue empty); the main thread's event loop was at most ${pct(busiest)} busy, the busiest worker ${pct(workers)}.` +
        (b === undefined || p.gateway === undefined
          ? ''
          : ` The same pipeline drove the baseline at ${ratio(b.acceptedPerSecond / p.gateway.acceptedPerSecond)} the gateway's rate (main thread ${pct(b.generator.mainThreadUtilisation)} busy, ` +
            `worker ${pct(Math.max(...b.generator.workerUtilisation))}, ${int(b.generator.fallbacks)} fallbacks): the generator is not what limits the gateway.`),
    );
    out.push('');
  }
  if (record.profile !== null) {
    const pr = record.profile;
    out.push(`Gateway CPU profile (whole run, ${(pr.busyMs / 1000).toFixed(1)} s busy): where the self time went.`, '');
    out.push(table(['group', 'self time', 'share of busy'], pr.groups.slice(0, 12).map((g2) => [g2.group, `${(g2.selfMs / 1000).toFixed(2)} s`, pct(g2.shareOfBusy)])));
    out.push('');
    out.push(table(['function', 'where', 'share of busy'], pr.topFunctions.slice(0, 15).map((f) => [f.name, f.where, pct(f.shareOfBusy)])));
    out.push('');
  }
  if (plots !== undefined) {
    const link = (file: string): string => (relativeTo === undefined ? file : relative(relativeTo, file));
    out.push(`![latency distribution](${link(plots.latency)}) ![throughput over time](${link(plots.throughput)}) ![gateway RSS](${link(plots.memory)})`);
  }
  return out.join('\n');
}

/** Replaces the text between the markers in `readme` (appending a section with them when they are missing). */
export function rewriteReadme(readme: string, results: string): void {
  const text = readFileSync(readme, 'utf8');
  const block = `${RESULTS_BEGIN}\n${results}\n${RESULTS_END}`;
  const begin = text.indexOf(RESULTS_BEGIN);
  const end = text.indexOf(RESULTS_END);
  const next =
    begin >= 0 && end > begin
      ? `${text.slice(0, begin)}${block}${text.slice(end + RESULTS_END.length)}`
      : `${text.trimEnd()}\n\n## End to end — latest results\n\n${block}\n`;
  writeFileSync(readme, next);
}
