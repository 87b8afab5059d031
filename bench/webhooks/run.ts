/**
 * `npm run bench:webhooks` — how fast the webhook relay turns the outbox into signed deliveries, and how long an
 * event takes from its booking's commit to the partner's receiver, against the HTTP floor (the same bodies POSTed
 * straight to the same receiver) measured in the same run. See bench/README.md ("Webhooks") and phases.ts.
 *
 *   node bench/webhooks/run.ts [--quick] [--payments N] [--relays 1,2] [--rates 100,500] [--duration-seconds S]
 *                              [--verifier library|hmac] [--v1a-every N] [--drain-timeout-seconds S]
 *                              [--idle-seconds S] [--notify-samples N] [--cpu-prof DIR] [--out FILE]
 *
 * Each flag also reads BENCH_WEBHOOKS_<NAME> (e.g. BENCH_WEBHOOKS_PAYMENTS=2000); flags win. DATABASE_URL names the
 * PostgreSQL server (default postgres://postgres@127.0.0.1:5432/postgres): the bench creates its own database there
 * and drops it at the end. Progress goes to stderr, the Markdown tables to stdout, the record to
 * bench/results/webhooks-<timestamp>.json and bench/results/webhooks-latest.json (only to FILE with --out).
 * Exits 1 (after writing the record) when any phase did not deliver exactly its events.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { schemaSetFromDisk } from '../../src/config/xsd-files.ts';
import { WEBHOOK_LIMITS } from '../../src/webhooks/limits.ts';
import { describeMachine, snapshot, stealPercent } from '../parse/machine.ts';
import { ProgressLine } from '../lib/progress.ts';
import { createBenchDatabase, createBenchEndpoint, DEFAULT_SERVER_URL } from './database.ts';
import { probeNotify } from './notify-probe.ts';
import { type BenchContext, deliveredBodies, floorAtRate, floorSaturation, type RateResult, relayAtRate, relaySaturation, type SaturationResult } from './phases.ts';
import { EVENTS_PER_BOOKING } from './producer.ts';
import { startBenchReceiver, type VerifierKind, VERIFIERS } from './receiver.ts';
import { formatAll, problemsOf, ratiosOf, type WebhooksRecord, type WebhooksSettings } from './report.ts';
import { measureVerifierCost, type VerifierCost } from './verifier-cost.ts';

/** The full run (≈ 3–4 minutes on the 2-core machine) and the quick one (< 1 minute). */
const PRESETS = {
  full: { payments: 5000, relays: [1, 2], rates: [100, 500], durationSeconds: 20, idleSeconds: 2, notifySamples: 500 },
  quick: { payments: 500, relays: [1, 2], rates: [100, 500], durationSeconds: 3, idleSeconds: 1, notifySamples: 100 },
} as const;
const DEFAULT_V1A_EVERY = 10;
const DEFAULT_DRAIN_TIMEOUT_SECONDS = 120;
/** Upper bounds that keep a typo from booking a billion payments. */
const PAYMENTS_MAX = 1_000_000;
const RATE_MAX_PER_SECOND = 100_000;
const RELAYS_MAX = 16;

const USAGE = `usage: node bench/webhooks/run.ts [--quick] [--payments N] [--relays 1,2] [--rates 100,500] [--duration-seconds S]
       [--verifier library|hmac] [--v1a-every N] [--drain-timeout-seconds S] [--idle-seconds S] [--notify-samples N]
       [--cpu-prof DIR] [--out FILE]`;

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    payments: { type: 'string' },
    relays: { type: 'string' },
    rates: { type: 'string' },
    'duration-seconds': { type: 'string' },
    verifier: { type: 'string' },
    'v1a-every': { type: 'string' },
    'drain-timeout-seconds': { type: 'string' },
    'idle-seconds': { type: 'string' },
    'notify-samples': { type: 'string' },
    'cpu-prof': { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help === true) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

function usageError(message: string): never {
  process.stderr.write(`bench:webhooks: ${message}\n${USAGE}\n`);
  process.exit(2);
}
const setting = (name: string): string | undefined => (values as Record<string, string | undefined>)[name] ?? process.env[`BENCH_WEBHOOKS_${name.toUpperCase().replaceAll('-', '_')}`];
const number = (name: string, fallback: number, min: number, max: number, integer = true): number => {
  const text = setting(name);
  const value = text === undefined ? fallback : Number(text);
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) usageError(`--${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, not ${text}`);
  return value;
};
const list = (name: string, fallback: readonly number[], min: number, max: number): number[] => {
  const text = setting(name);
  if (text === undefined) return [...fallback];
  if (text.trim() === '') return [];
  const parsed = text.split(',').map((part) => Number(part.trim()));
  if (parsed.some((n) => !Number.isInteger(n) || n < min || n > max)) usageError(`--${name} must be comma-separated integers from ${min} to ${max}, not ${text}`);
  return parsed;
};

const explicit = ['payments', 'relays', 'rates', 'duration-seconds'].some((name) => setting(name) !== undefined);
const preset = values.quick === true ? PRESETS.quick : PRESETS.full;
const verifier = (setting('verifier') ?? 'library') as VerifierKind;
if (!VERIFIERS.includes(verifier)) usageError(`--verifier must be one of ${VERIFIERS.join(', ')}`);
const settings: WebhooksSettings = {
  mode: explicit ? 'custom' : values.quick === true ? 'quick' : 'full',
  payments: number('payments', preset.payments, 1, PAYMENTS_MAX),
  relays: list('relays', preset.relays, 1, RELAYS_MAX),
  ratesPerSecond: list('rates', preset.rates, 1, RATE_MAX_PER_SECOND),
  durationSeconds: number('duration-seconds', preset.durationSeconds, 0.1, 3600, false),
  verifier,
  v1aEvery: number('v1a-every', DEFAULT_V1A_EVERY, 0, 1_000_000),
  drainTimeoutSeconds: number('drain-timeout-seconds', DEFAULT_DRAIN_TIMEOUT_SECONDS, 1, 24 * 3600),
  idleSeconds: number('idle-seconds', preset.idleSeconds, 0, 600, false),
  notifySamples: number('notify-samples', preset.notifySamples, 0, 1_000_000),
  template: 'alpha1',
  eventsPerPayment: EVENTS_PER_BOOKING,
  relayLimits: {
    claimBatchDeliveries: WEBHOOK_LIMITS.claimBatchDeliveries,
    connectionsPerOrigin: WEBHOOK_LIMITS.connectionsPerOrigin,
    dispatchBatchRows: WEBHOOK_LIMITS.dispatchBatchRows,
    pollIntervalMs: WEBHOOK_LIMITS.pollIntervalMs,
  },
  cpuProfileDir: setting('cpu-prof') ?? null,
};
if (settings.relays.length === 0 && settings.ratesPerSecond.length === 0) usageError('nothing to measure: --relays and --rates are both empty');

const progress = new ProgressLine();
progress.say(
  `bench:webhooks (${settings.mode}) — saturation: ${settings.payments} payments (${settings.payments * EVENTS_PER_BOOKING} events) with ${settings.relays.join(' and ') || 'no'} relay(s); ` +
    `fixed rate: ${settings.ratesPerSecond.join(' and ') || 'no'} payments/s for ${settings.durationSeconds} s; receiver verifies with ${settings.verifier}`,
);

const started = new Date();
const startedAt = performance.now();
const machineStart = snapshot();
const schemas = schemaSetFromDisk();
if (settings.cpuProfileDir !== null) mkdirSync(settings.cpuProfileDir, { recursive: true });
const receiver = await startBenchReceiver({ verifier: settings.verifier, v1aEvery: settings.v1aEvery });
const database = await createBenchDatabase(process.env.DATABASE_URL ?? DEFAULT_SERVER_URL);
let record: WebhooksRecord;
try {
  const endpoint = await createBenchEndpoint(database, receiver.url);
  receiver.setKeys(endpoint.secret, endpoint.publicKey);
  progress.say(`database ${database.name} migrated and funded; endpoint ${endpoint.id} → ${receiver.url}`);
  const context: BenchContext = {
    database,
    endpoint,
    receiver,
    schemas,
    progress,
    drainTimeoutMs: settings.drainTimeoutSeconds * 1000,
    idleMs: settings.idleSeconds * 1000,
    cpuProfileDir: settings.cpuProfileDir ?? undefined,
  };

  let notify = null;
  if (settings.notifySamples > 0) {
    progress.say(`NOTIFY wake-up: ${settings.notifySamples} samples …`);
    notify = await probeNotify(database.url, settings.notifySamples);
  }

  // The floor sends the relay's own bodies; the first relay phase provides them.
  let bodies: string[][] | undefined;
  let verifierCost: VerifierCost | undefined;
  const floorBodies = async (): Promise<string[][]> => {
    if (bodies === undefined) {
      bodies = await deliveredBodies(context, settings.payments);
      const longest = bodies[0]!.reduce((a, b) => (b.length > a.length ? b : a));
      verifierCost = measureVerifierCost(endpoint.secret, endpoint.signingKeys, longest);
    }
    return bodies;
  };

  const saturation: SaturationResult[] = [];
  for (const relays of settings.relays) {
    saturation.push(await relaySaturation(context, settings.payments, relays));
    saturation.push(await floorSaturation(context, await floorBodies(), settings.payments, relays));
  }
  const latency: RateResult[] = [];
  for (const rate of settings.ratesPerSecond) {
    const relay = await relayAtRate(context, rate, settings.durationSeconds);
    latency.push(relay, await floorAtRate(context, await floorBodies(), relay));
  }
  if (receiver.outside() > 0) progress.say(`${receiver.outside()} request(s) arrived between phases`);

  const problems = problemsOf([...saturation, ...latency]);
  if (receiver.outside() > 0) problems.push(`${receiver.outside()} request(s) arrived outside any phase`);
  const machineEnd = snapshot();
  record = {
    bench: 'webhooks',
    startedAt: started.toISOString(),
    durationSeconds: (performance.now() - startedAt) / 1000,
    ...describeMachine(),
    loadAverage: { start: machineStart.load, end: machineEnd.load },
    stealPercent: stealPercent(machineStart, machineEnd),
    settings,
    database: database.name,
    verifierCost: verifierCost!,
    notify,
    saturation,
    latency,
    ratios: ratiosOf(saturation, latency),
    exact: problems.length === 0,
    problems,
  };
} finally {
  await receiver.close();
  await database.close();
}

const loads = (load: number[]): string => load.map((l) => l.toFixed(2)).join(' ');
process.stdout.write(`\n${formatAll(record)}\n\n`);
process.stdout.write(
  `${record.node} on ${record.cpu.model} ×${record.cpu.cores}; load average ${loads(record.loadAverage.start)} → ${loads(record.loadAverage.end)}` +
    `${record.stealPercent === null ? '' : `; CPU time stolen by the hypervisor ${record.stealPercent.toFixed(1)} %`}; ${record.durationSeconds.toFixed(0)} s.\n`,
);
const json = `${JSON.stringify(record, null, 2)}\n`;
const outFiles =
  values.out !== undefined
    ? [values.out]
    : (() => {
        const dir = fileURLToPath(new URL('../results/', import.meta.url));
        const stamp = started.toISOString().replace(/\.\d{3}Z$/, 'Z').replaceAll(':', '-');
        return [join(dir, `webhooks-${stamp}.json`), join(dir, 'webhooks-latest.json')];
      })();
for (const file of outFiles) {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, json);
  progress.say(`wrote ${file}`);
}
if (!record.exact) process.exitCode = 1;
