/**
 * The end-to-end bench (run.ts is its command line): set up the real thing, drive it, measure its floors in the
 * same run, check what it booked, and return one record.
 *
 *   set-up    bench PKI (N debtor banks + a reader) · fresh database, migrated, banks funded · authorization
 *             server, gateway (production configuration from ISOGW_* variables) and, later, the Fastify baseline,
 *             each in its own child process · request-factory workers with a real token per bank
 *   phases    warm-up · gateway spread (saturation) · gateway hot (one debtor bank, saturation) · gateway spread at
 *             a fixed rate · baseline spread (saturation, the same request pipeline) · database floor spread and
 *             hot · read side (balance with 1 k and 1 M postings, payment by UETR) · soak (fixed rate, RSS)
 *   checks    every accepted message is in the database with all its payments ACSC or ACSP · every account's
 *             balance equals the sum of its postings, every entry balances
 *
 * The set-up is stack.ts; the gateway process is sampled from /proc once a second for its CPU and RSS throughout.
 */
import { describeMachine, snapshot, stealPercent } from '../parse/machine.ts';
import { ProcessSampler } from '../lib/process-sampler.ts';
import type { ProgressLine } from '../lib/progress.ts';
import { type ChildReady, startChild } from './children.ts';
import { type FloorResult, runDatabaseFloor } from './database-floor.ts';
import { type BookingCheck, checkBookings, type LedgerConsistency, ledgerConsistency, sampleUetrs } from './ledger.ts';
import { type LoadPlan, type LoadResult, runLoad } from './load.ts';
import { transactionsOfMsgId } from './messages.ts';
import { type ProfileSummary, summariseProfileDirectory } from './profile.ts';
import { type ReadSideResult, runReadSide } from './read-side.ts';
import { assignConnections, type E2eSettings, type PhaseId, TARGETS } from './settings.ts';
import { type BenchStack, SAMPLE_INTERVAL_MS, startBenchStack } from './stack.ts';

/** Below the target, the auto fixed rate is this share of the measured saturation throughput. */
const AUTO_RATE_SHARE = 0.8;
/** The RSS series in the record keeps one sample per this many milliseconds. */
const SERIES_STEP_MS = 5_000;
/** Payments read back by GET /payments/{uetr}. */
const PAYMENT_READ_UETRS = 500;
/** Sequential balance statements per account for the query-alone figures. */
const BALANCE_QUERIES = 2_000;

export type LoadSummary = Omit<LoadResult, 'acceptedMsgIds'>;

export interface SoakResult extends LoadSummary {
  /** Gateway RSS at the start of the soak and at its end, and its trend over the second half (bytes per minute). */
  readonly rssStartBytes: number;
  readonly rssEndBytes: number;
  readonly rssGrowthBytes: number;
  readonly rssSlopeBytesPerMinuteSecondHalf: number;
}

export interface E2eRecord {
  readonly bench: 'e2e';
  readonly date: string;
  readonly quick: boolean;
  readonly node: string;
  readonly v8: string;
  readonly platform: string;
  readonly cpu: { readonly model: string; readonly cores: number };
  readonly loadAverage: { readonly start: number[]; readonly end: number[] };
  readonly stealPercent: number | null;
  readonly durationSeconds: number;
  readonly settings: Record<string, unknown>;
  readonly fixedRate: { readonly rate: number | null; readonly why: string };
  readonly phases: {
    readonly warmup?: LoadSummary;
    readonly gateway?: LoadSummary;
    readonly hot?: LoadSummary;
    readonly fixedRate?: LoadSummary;
    readonly baseline?: LoadSummary;
    readonly floorSpread?: FloorResult;
    readonly floorHot?: FloorResult;
    readonly read?: ReadSideResult;
    readonly soak?: SoakResult;
  };
  readonly gatewayProcess: {
    readonly pid: number;
    /** Epoch milliseconds of the first sample, just after the gateway listened: time zero of `series`. */
    readonly startedAt: number;
    /** RSS after boot (idle) and after the warm-up. */
    readonly rssAtBootBytes: number | null;
    readonly rssAfterWarmupBytes: number | null;
    /** [seconds since the gateway started, RSS bytes, CPU seconds so far] every few seconds, for the plot. */
    readonly series: [number, number, number][];
  };
  readonly checks: { readonly bookings: BookingCheck; readonly ledger: LedgerConsistency } | null;
  readonly profile: ProfileSummary | null;
}

const strip = (result: LoadResult): LoadSummary => {
  const { acceptedMsgIds: _ids, ...rest } = result;
  return rest;
};

export async function runE2eBench(settings: E2eSettings, progress: ProgressLine): Promise<E2eRecord> {
  const started = Date.now();
  const machine = describeMachine();
  const atStart = snapshot();
  progress.say(`set-up: bench PKI with ${settings.debtorBanks} debtor banks, a fresh database, authorization server, gateway …`);
  const stack = await startBenchStack(settings, progress);
  let run: PhasesOutcome;
  try {
    run = await runPhases(settings, stack, progress);
  } finally {
    await stack.close();
  }
  const atEnd = snapshot();
  const samples = stack.sampler.samples;
  const bootAt = samples[0]?.at ?? started;
  let kept = Number.NEGATIVE_INFINITY;
  const series = samples
    .filter((s) => (s.at - kept >= SERIES_STEP_MS ? ((kept = s.at), true) : false))
    .map((s): [number, number, number] => [Math.round((s.at - bootAt) / 100) / 10, s.rssBytes, Math.round(s.cpuSeconds * 100) / 100]);
  return {
    bench: 'e2e',
    date: new Date(started).toISOString(),
    quick: settings.quick,
    ...machine,
    loadAverage: { start: atStart.load, end: atEnd.load },
    stealPercent: stealPercent(atStart, atEnd),
    durationSeconds: (Date.now() - started) / 1000,
    settings: {
      ...recordedSettings(settings),
      keepAlive: 'on (autocannon keeps every connection open; no handshakes inside the measured phases)',
      tls: 'TLS 1.3, a client certificate per bank, one shared SecureContext per bank',
      gateway: 'child process: gatewayConfigFromEnv (ISOGW_* variables) + startGateway, Redis under its own key prefix',
      tokens: `client_credentials + private_key_jwt at the real AS, DPoP-bound, ${settings.tokenTtlSeconds === undefined ? "the AS's default lifetime (300 s)" : `${settings.tokenTtlSeconds} s lifetime`}, renewed at half-life by the workers`,
      proofs: 'a fresh ES256 DPoP proof per request (node:crypto), made ahead in worker threads with the body and Idempotency-Key',
    },
    fixedRate: run.fixedRate,
    phases: run.phases,
    gatewayProcess: { pid: stack.gateway.pid, startedAt: bootAt, rssAtBootBytes: samples[0]?.rssBytes ?? null, rssAfterWarmupBytes: run.rssAfterWarmup, series },
    checks: run.checks,
    profile: run.profile,
  };
}

interface PhasesOutcome {
  readonly phases: E2eRecord['phases'];
  readonly fixedRate: E2eRecord['fixedRate'];
  readonly rssAfterWarmup: number | null;
  readonly checks: E2eRecord['checks'];
  readonly profile: ProfileSummary | null;
}

async function runPhases(settings: E2eSettings, stack: BenchStack, progress: ProgressLine): Promise<PhasesOutcome> {
  const { env, gatewayPort, sampler, pki, database, answer } = stack;
  const has = (phase: PhaseId): boolean => settings.phases.has(phase);
  const phases: { -readonly [K in keyof E2eRecord['phases']]: E2eRecord['phases'][K] } = {};
  const acceptedMsgIds: string[] = [];
  const spread = assignConnections(settings.connections, settings.debtorBanks, settings.hotShare);
  const hot = assignConnections(settings.connections, settings.debtorBanks, 1);
  const intake = (id: string, label: string, assignment: readonly number[], seconds: number, rate?: number): LoadPlan => ({
    id,
    label,
    port: gatewayPort,
    assignment,
    pipelining: settings.pipelining,
    durationSeconds: seconds,
    overallRate: rate,
    rateMode: settings.rateMode,
    kind: 'intake',
  });
  const measure = async (plan: LoadPlan): Promise<LoadResult> => {
    progress.say(`${plan.label} — ${plan.assignment.length} connections, ${plan.durationSeconds} s${plan.overallRate === undefined ? '' : `, ${plan.overallRate}/s`}`);
    const result = await runLoad(plan, env);
    // A loop, not push(...ids): a 10-minute soak accepts ~180 k messages, past the engine's argument limit.
    if (plan.kind === 'intake') for (const id of result.acceptedMsgIds) acceptedMsgIds.push(id);
    progress.say(
      `  ${result.acceptedPerSecond.toFixed(0)} accepted/s, p50 ${result.latencyMs.p50.toFixed(2)} ms, p99 ${result.latencyMs.p99.toFixed(2)} ms, ` +
        `${result.errors} errors, generator thread busy ${(result.generator.mainThreadUtilisation * 100).toFixed(0)} %`,
    );
    return result;
  };

  if (settings.warmupSeconds > 0) phases.warmup = strip(await measure(intake('warmup', 'warm-up (gateway, not counted)', spread, settings.warmupSeconds)));
  const rssAfterWarmup = sampler.sample()?.rssBytes ?? null;
  if (has('gateway')) phases.gateway = strip(await measure(intake('gateway', 'gateway, spread, saturation', spread, settings.durationSeconds)));
  if (has('hot')) phases.hot = strip(await measure(intake('hot', 'gateway, one hot debtor bank, saturation', hot, settings.durationSeconds)));

  const fixedRate = chooseFixedRate(settings, phases.gateway?.acceptedPerSecond);
  const rate = fixedRate.rate ?? TARGETS.acceptedPerSecondMin;
  if (has('fixed-rate')) phases.fixedRate = strip(await measure(intake('fixed-rate', `gateway, spread, fixed rate ${rate}/s`, spread, settings.durationSeconds, rate)));

  if (has('baseline')) {
    const baseline = await startChild<Extract<ChildReady, { role: 'baseline' }>>('baseline', { ...stack.childSettings, baselineAnswer: answer });
    const baselineSampler = new ProcessSampler(baseline.pid, SAMPLE_INTERVAL_MS).start();
    try {
      const plan: LoadPlan = { ...intake('baseline', 'baseline (bare Fastify + mTLS, fixed pacs.002), spread, saturation', spread, settings.durationSeconds), port: baseline.ready.port, kind: 'baseline' };
      progress.say(`${plan.label} — ${spread.length} connections, ${settings.durationSeconds} s`);
      const result = await runLoad(plan, { ...env, sampler: baselineSampler });
      progress.say(`  ${result.acceptedPerSecond.toFixed(0)} answered/s, p99 ${result.latencyMs.p99.toFixed(2)} ms, generator thread busy ${(result.generator.mainThreadUtilisation * 100).toFixed(0)} %`);
      phases.baseline = strip(result);
    } finally {
      baselineSampler.stop();
      await baseline.close();
    }
  }

  if (has('floor')) {
    for (const [key, assignment, label] of [
      ['floorSpread', spread, 'database floor, spread'],
      ['floorHot', hot, 'database floor, one hot debtor bank'],
    ] as const) {
      progress.say(`${label} — bookMessage straight at Postgres, ${assignment.length} concurrent, ${settings.floorSeconds} s`);
      const result = await runDatabaseFloor(
        {
          id: key,
          label,
          databaseUrl: database.url,
          assignment,
          bankBics: pki.debtors.map((bank) => bank.bic),
          creditorBics: pki.creditorBics,
          tenTxShare: settings.tenTxShare,
          onwardShare: settings.onwardShare,
          durationSeconds: settings.floorSeconds,
          answer,
        },
        progress,
      );
      progress.say(`  ${result.bookedPerSecond.toFixed(0)} booked/s, p99 ${result.latencyMs.p99.toFixed(2)} ms, ${result.errors} errors`);
      phases[key] = result;
    }
  }

  if (has('read')) {
    progress.say(`read side — balance with ${settings.smallPostings.toLocaleString('en')} and ${settings.largePostings.toLocaleString('en')} postings, payment by UETR; ${settings.readRate}/s each`);
    const payer = pki.debtors[0]!;
    phases.read = await runReadSide(
      {
        port: gatewayPort,
        database,
        readerBank: pki.reader.index,
        accounts: { small: stack.readerAccounts[pki.reader.smallBic]!, large: stack.readerAccounts[pki.reader.largeBic]! },
        postings: { small: settings.smallPostings, large: settings.largePostings },
        paymentReader: { bank: payer.index, uetrs: await sampleUetrs(database, payer.bic, PAYMENT_READ_UETRS) },
        connections: settings.readConnections,
        rate: settings.readRate,
        seconds: settings.readSeconds,
        queries: BALANCE_QUERIES,
      },
      env,
    );
    const { small, large, payment } = phases.read;
    progress.say(
      `  balance p99 ${small.gateway.latencyMs.p99.toFixed(2)} ms (${small.postings} postings) / ${large.gateway.latencyMs.p99.toFixed(2)} ms (${large.postings}); ` +
        `statement alone ${small.queryMs.p99.toFixed(3)} / ${large.queryMs.p99.toFixed(3)} ms; payment p99 ${payment.latencyMs.p99.toFixed(2)} ms`,
    );
  }

  if (has('soak')) {
    const before = sampler.sample();
    const result = await measure(intake('soak', `soak, gateway, spread, fixed rate ${rate}/s`, spread, settings.soakSeconds, rate));
    const after = sampler.sample();
    const half = (before?.at ?? 0) + ((after?.at ?? 0) - (before?.at ?? 0)) / 2;
    const secondHalf = sampler.samples.filter((s) => s.at >= half && s.at <= (after?.at ?? 0));
    phases.soak = {
      ...strip(result),
      rssStartBytes: before?.rssBytes ?? Number.NaN,
      rssEndBytes: after?.rssBytes ?? Number.NaN,
      rssGrowthBytes: (after?.rssBytes ?? Number.NaN) - (before?.rssBytes ?? Number.NaN),
      rssSlopeBytesPerMinuteSecondHalf: slope(secondHalf.map((s) => [s.at / 60_000, s.rssBytes])),
    };
  }

  progress.say('checks: every accepted message in the database, ledger consistent …');
  const expectedPayments = acceptedMsgIds.reduce((sum, id) => sum + (transactionsOfMsgId(id) ?? 0), 0);
  const checks = { bookings: await checkBookings(database, acceptedMsgIds, expectedPayments), ledger: await ledgerConsistency(database) };
  sampler.stop();
  await stack.closeGateway();
  const profile = stack.profileDir === undefined ? null : summariseProfileDirectory(stack.profileDir);
  return { phases, fixedRate, rssAfterWarmup, checks, profile };
}

/** `--rate`, or auto: the 1,000/s target when the spread run sustained it, else 80 % of what it sustained. */
function chooseFixedRate(settings: E2eSettings, sustained: number | undefined): E2eRecord['fixedRate'] {
  const target = TARGETS.acceptedPerSecondMin;
  if (settings.rate !== 'auto') return { rate: settings.rate, why: 'set by --rate' };
  if (sustained === undefined) return { rate: target, why: 'the target (no saturation run to size it)' };
  if (sustained >= target) return { rate: target, why: `the ${target}/s target (the gateway sustained ${sustained.toFixed(0)}/s)` };
  return { rate: Math.max(1, Math.floor(sustained * AUTO_RATE_SHARE)), why: `${AUTO_RATE_SHARE * 100} % of the ${sustained.toFixed(0)}/s the gateway sustained (below the ${target}/s target)` };
}

/** The settings as the record keeps them: without this machine's paths. */
function recordedSettings(settings: E2eSettings): Record<string, unknown> {
  const { out: _out, readme: _readme, pkiDir: _pki, phases, ...rest } = settings;
  return { ...rest, phases: [...phases] };
}

/** Least-squares slope of (x, y) points. */
function slope(points: [number, number][]): number {
  if (points.length < 2) return Number.NaN;
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  return sxx === 0 ? Number.NaN : sxy / sxx;
}
