/**
 * The e2e bench's settings: every knob a flag and an environment variable (`--connections 64` or
 * BENCH_E2E_CONNECTIONS=64), defaults for the full run (`npm run bench`, ~20 minutes with the 10-minute soak) and
 * for `--quick` (under ~2 minutes, no soak). Validated once; a bad value stops the run with the flag's name.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { BENCH_BANKS_MAX } from './pki.ts';

export const PHASE_IDS = ['gateway', 'hot', 'fixed-rate', 'baseline', 'floor', 'read', 'soak'] as const;
export type PhaseId = (typeof PHASE_IDS)[number];

/** Shorter token lifetimes leave too little room between renewal (at half-life) and expiry. */
const TOKEN_TTL_MIN_SECONDS = 6;

/** The targets, checked in the report. */
export const TARGETS = {
  acceptedPerSecondMin: 1_000,
  p99MsMax: 25,
  errorsMax: 0,
  shareOfDatabaseFloorMin: 0.5,
  hotShareOfSpreadMin: 0.6,
  balanceP99MsMax: 1,
} as const;

export interface E2eSettings {
  readonly quick: boolean;
  /** Seconds of each measured load phase (gateway, hot, fixed-rate, baseline). */
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly floorSeconds: number;
  readonly connections: number;
  readonly pipelining: number;
  /** The fixed-rate run, requests/s: a number, or auto (the 1,000/s target if the gateway sustains it, else 80 % of what it sustained). */
  readonly rate: number | 'auto';
  /** How the fixed rate is kept: an open-loop schedule (paced) or autocannon's overallRate (see load.ts). */
  readonly rateMode: 'paced' | 'autocannon';
  readonly tenTxShare: number;
  readonly onwardShare: number;
  readonly debtorBanks: number;
  /** Spread runs: share of the connections that belong to the first bank (0 = all banks alike). */
  readonly hotShare: number;
  readonly creditorBanks: number;
  readonly workers: number;
  /** Access-token lifetime at the authorization server; undefined = its production default (5 minutes). */
  readonly tokenTtlSeconds: number | undefined;
  readonly soakSeconds: number;
  readonly readSeconds: number;
  readonly readRate: number;
  readonly readConnections: number;
  readonly smallPostings: number;
  readonly largePostings: number;
  readonly phases: ReadonlySet<PhaseId>;
  readonly cpuProfile: boolean;
  readonly out: string;
  /** The README whose results section is rewritten; undefined = none. */
  readonly readme: string | undefined;
  readonly pkiDir: string;
  readonly redisUrl: string;
  readonly databaseUrl: string;
}

export const DEFAULT_OUT = fileURLToPath(new URL('../results/e2e.json', import.meta.url));
export const DEFAULT_README = fileURLToPath(new URL('../README.md', import.meta.url));

export const USAGE = `usage: node bench/e2e/run.ts [--quick] [options]     (npm run bench, npm run bench:e2e:quick)

Load phases                                    (each also BENCH_E2E_<NAME>, e.g. BENCH_E2E_CONNECTIONS=64)
  --duration S          seconds per measured load phase             (30; quick 8)
  --warmup S            unrecorded warm-up against the gateway      (10; quick 3)
  --connections N       concurrent keep-alive mTLS connections      (32; quick 16)
  --pipelining N        HTTP/1.1 requests in flight per connection  (1)
  --rate R|auto         the fixed-rate run, requests/s              (auto: 1000 if sustained, else 80 % of saturation)
  --rate-mode M         paced (open-loop schedule, latency from each request's slot) or autocannon
                        (its overallRate: a burst per connection every second)            (paced)
  --banks N             debtor banks (partners with their own certificates and tokens)  (8; quick 4)
  --hot-share F         spread runs: share of connections on the first bank (0 = all alike)      (0)
  --ten-tx-share F      share of 10-transaction messages (15.8 KB; else 1 transaction, 4 KB)  (0.1)
  --onward-share F      share to a non-participant creditor agent (held: ACSP; else on us: ACSC)  (0.2)
  --creditor-banks N    participants that on-us payments credit     (16)
  --workers N           request-factory worker threads              (1)
  --token-ttl S         access-token lifetime at the AS; tokens are renewed at half of it  (the AS default, 300)
Other phases
  --floor-duration S    database floor, spread and hot              (= --duration)
  --soak S              steady load for the RSS check; 0 skips it   (600; quick 0)
  --read-duration S     each read phase                             (10; quick 4)
  --read-rate R         read requests/s                             (200)
  --read-connections N                                              (4)
  --small-postings N / --large-postings N   history behind the two balance reads  (1000 / 1000000)
  --phases LIST         only these: ${PHASE_IDS.join(',')}
  --skip LIST           all but these
Output
  --cpu-prof            profile the gateway process (node --cpu-prof), summarise where its CPU went; the
                        .cpuprofile stays in a temp directory (its path is in the record) for DevTools
  --out FILE            the JSON record (bench/results/e2e.json); plots are written next to it
  --readme FILE|none    rewrite this README's results section (default bench/README.md when --out is the default)
  --pki DIR             where the bench PKI is made or reused (a directory under the system temp dir)
`;

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

export function settingsFrom(args: readonly string[], env: NodeJS.ProcessEnv = process.env): E2eSettings | 'help' {
  const { values } = parseArgs({
    args: [...args],
    options: {
      quick: { type: 'boolean' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      pipelining: { type: 'string' },
      rate: { type: 'string' },
      'rate-mode': { type: 'string' },
      banks: { type: 'string' },
      'hot-share': { type: 'string' },
      'ten-tx-share': { type: 'string' },
      'onward-share': { type: 'string' },
      'creditor-banks': { type: 'string' },
      workers: { type: 'string' },
      'token-ttl': { type: 'string' },
      'floor-duration': { type: 'string' },
      soak: { type: 'string' },
      'read-duration': { type: 'string' },
      'read-rate': { type: 'string' },
      'read-connections': { type: 'string' },
      'small-postings': { type: 'string' },
      'large-postings': { type: 'string' },
      phases: { type: 'string' },
      skip: { type: 'string' },
      'cpu-prof': { type: 'boolean' },
      out: { type: 'string' },
      readme: { type: 'string' },
      pki: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) return 'help';
  const raw = (flag: string): string | undefined => {
    const value = (values as Record<string, string | boolean | undefined>)[flag];
    if (typeof value === 'string') return value;
    return env[`BENCH_E2E_${flag.toUpperCase().replaceAll('-', '_')}`];
  };
  const quick = values.quick === true || env.BENCH_E2E_QUICK === '1' || env.BENCH_E2E_QUICK === 'true';
  const integer = (flag: string, full: number, quickValue: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const text = raw(flag);
    const value = text === undefined ? (quick ? quickValue : full) : Number(text);
    if (!Number.isInteger(value) || value < min || value > max) throw new SettingsError(`--${flag} must be an integer in ${min}..${max}, not ${text}`);
    return value;
  };
  const share = (flag: string, fallback: number): number => {
    const text = raw(flag);
    const value = text === undefined ? fallback : Number(text);
    if (!(value >= 0 && value <= 1)) throw new SettingsError(`--${flag} must be a share between 0 and 1, not ${text}`);
    return value;
  };
  const list = (flag: string): Set<PhaseId> | undefined => {
    const text = raw(flag);
    if (text === undefined) return undefined;
    const ids = text.split(',').map((s) => s.trim()).filter(Boolean);
    for (const id of ids) if (!(PHASE_IDS as readonly string[]).includes(id)) throw new SettingsError(`--${flag}: unknown phase "${id}" (${PHASE_IDS.join(', ')})`);
    return new Set(ids as PhaseId[]);
  };

  const durationSeconds = integer('duration', 30, 8, 1);
  const rateText = raw('rate') ?? 'auto';
  const rate = rateText === 'auto' ? 'auto' : Number(rateText);
  if (rate !== 'auto' && !(Number.isInteger(rate) && rate >= 1)) throw new SettingsError(`--rate must be auto or an integer ≥ 1, not ${rateText}`);
  const rateMode = raw('rate-mode') ?? 'paced';
  if (rateMode !== 'paced' && rateMode !== 'autocannon') throw new SettingsError(`--rate-mode must be paced or autocannon, not ${rateMode}`);
  const only = list('phases');
  const skip = list('skip') ?? new Set<PhaseId>();
  const soakSeconds = integer('soak', 600, 0, 0);
  const phases = new Set(PHASE_IDS.filter((id) => (only === undefined || only.has(id)) && !skip.has(id) && (id !== 'soak' || soakSeconds > 0)));
  const out = raw('out') ?? DEFAULT_OUT;
  const readmeText = raw('readme');
  const debtorBanks = integer('banks', 8, 4, 1, BENCH_BANKS_MAX);
  const creditorBanks = integer('creditor-banks', 16, 16, 1, BENCH_BANKS_MAX);
  return Object.freeze({
    quick,
    durationSeconds,
    warmupSeconds: integer('warmup', 10, 3, 0),
    floorSeconds: integer('floor-duration', durationSeconds, durationSeconds, 1),
    connections: integer('connections', 32, 16, 1, 10_000),
    pipelining: integer('pipelining', 1, 1, 1, 100),
    rate,
    rateMode,
    tenTxShare: share('ten-tx-share', 0.1),
    onwardShare: share('onward-share', 0.2),
    debtorBanks,
    hotShare: share('hot-share', 0),
    creditorBanks,
    workers: integer('workers', 1, 1, 1, 16),
    // Loading oidc-provider here for its default would cost the load generator; the AS applies its own (and its max).
    tokenTtlSeconds: raw('token-ttl') === undefined ? undefined : integer('token-ttl', 0, 0, TOKEN_TTL_MIN_SECONDS, 3600),
    soakSeconds,
    readSeconds: integer('read-duration', 10, 4, 1),
    readRate: integer('read-rate', 200, 200, 1),
    readConnections: integer('read-connections', 4, 4, 1, 1_000),
    smallPostings: integer('small-postings', 1_000, 1_000, 0),
    largePostings: integer('large-postings', 1_000_000, 1_000_000, 0, 100_000_000),
    phases,
    cpuProfile: values['cpu-prof'] === true || env.BENCH_E2E_CPU_PROF === '1',
    out,
    readme: readmeText === 'none' ? undefined : (readmeText ?? (out === DEFAULT_OUT ? DEFAULT_README : undefined)),
    pkiDir: raw('pki') ?? join(tmpdir(), 'isogw-bench-e2e-pki'),
    redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    databaseUrl: env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  });
}

/**
 * The bank of each connection: bank 0 gets `hotShare` of them (at least one when the share is above 0), the rest
 * are dealt round-robin over all banks — so with hotShare 0 every bank has the same number of connections (±1),
 * and with hotShare 1 there is a single, hot, debtor bank.
 */
export function assignConnections(connections: number, banks: number, hotShare: number): number[] {
  const hot = hotShare <= 0 ? 0 : Math.max(1, Math.round(connections * hotShare));
  return Array.from({ length: connections }, (_, i) => (i < hot ? 0 : (i - hot) % banks));
}
