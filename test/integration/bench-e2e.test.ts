/**
 * `bench:e2e` end to end in a tiny mode (a couple of connections, a second or two per phase, every phase including
 * a short soak, tokens that expire within the run so their renewal is exercised): the real gateway, authorization
 * server, baseline, Postgres and Redis start, and the record it writes adds up — every response counted once, no
 * errors, every accepted message and payment found in the database, the ledger consistent, the plots written.
 * No assertion on any timing or rate: this machine's numbers are not a test's business.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { E2eRecord, LoadSummary } from '../../bench/e2e/bench.ts';

const RUN = fileURLToPath(new URL('../../bench/e2e/run.ts', import.meta.url));
/** Set-up (PKI, database, three servers) plus ten short phases. */
const RUN_TIMEOUT_MS = 240_000;
const CONNECTIONS = 2;
const SMALL_POSTINGS = 100;
const LARGE_POSTINGS = 2_000;

let dir: string;
let record: E2eRecord;
let stdout: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'isogw-bench-e2e-test-'));
  const args = [
    RUN,
    '--quick',
    ...['--duration', '2', '--warmup', '1', '--soak', '2', '--floor-duration', '1'],
    ...['--connections', String(CONNECTIONS), '--banks', '2', '--creditor-banks', '2'],
    ...['--read-duration', '1', '--read-rate', '50', '--read-connections', '1'],
    ...['--small-postings', String(SMALL_POSTINGS), '--large-postings', String(LARGE_POSTINGS)],
    // Tokens renewed every 3 s: the phases outlive several of them.
    ...['--token-ttl', '6'],
    ...['--out', join(dir, 'e2e.json'), '--readme', 'none', '--pki', join(dir, 'pki')],
  ];
  ({ stdout } = await promisify(execFile)(process.execPath, args, { timeout: RUN_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }));
  record = JSON.parse(await readFile(join(dir, 'e2e.json'), 'utf8')) as E2eRecord;
}, RUN_TIMEOUT_MS + 10_000);

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const gatewayPhases = (): [string, LoadSummary][] => {
  const p = record.phases;
  return [
    ['warmup', p.warmup!],
    ['gateway', p.gateway!],
    ['hot', p.hot!],
    ['fixedRate', p.fixedRate!],
    ['soak', p.soak!],
  ];
};

describe('bench:e2e (tiny run)', () => {
  it('runs every phase with the settings it was given and records the machine', () => {
    expect(record).toMatchObject({ bench: 'e2e', quick: true, node: process.version, cpu: { cores: expect.any(Number) } });
    expect(record.settings).toMatchObject({ connections: CONNECTIONS, pipelining: 1, debtorBanks: 2, phases: ['gateway', 'hot', 'fixed-rate', 'baseline', 'floor', 'read', 'soak'] });
    for (const [name, phase] of gatewayPhases()) expect(phase, name).toBeDefined();
    expect(record.phases.baseline).toBeDefined();
    expect(record.phases.floorSpread).toBeDefined();
    expect(record.phases.floorHot).toBeDefined();
    expect(record.phases.read).toBeDefined();
  });

  it('answers every gateway request 200 with nothing rejected, and counts each response once', () => {
    for (const [name, phase] of gatewayPhases()) {
      expect(phase.errors, name).toBe(0);
      expect(phase.timeouts, name).toBe(0);
      expect(phase.partiallyRejected, name).toBe(0);
      expect(phase.statuses, name).toEqual({ 200: phase.responses });
      expect(phase.accepted, name).toBe(phase.responses);
      expect(phase.accepted, name).toBeGreaterThan(0);
      expect(phase.latencyMs.count, name).toBe(phase.responses);
      // Every message has 1 or 10 transactions.
      expect(phase.acceptedPayments, name).toBeGreaterThanOrEqual(phase.accepted);
      expect(phase.acceptedPayments, name).toBeLessThanOrEqual(phase.accepted * 10);
      expect(phase.acceptedEachSecond.reduce((a, b) => a + b, 0), name).toBeLessThanOrEqual(phase.accepted);
      // Each response had a request the supply handed out (a few more may have been in flight at the end).
      expect(phase.generator.served + phase.generator.fallbacks, name).toBeGreaterThanOrEqual(phase.responses);
      expect(phase.connections, name).toBe(CONNECTIONS);
      expect(phase.keepAlive, name).toBe(true);
    }
    expect(record.phases.hot!.banks).toEqual({ 0: CONNECTIONS });
    expect(record.phases.gateway!.banks).toEqual({ 0: 1, 1: 1 });
    expect(record.phases.fixedRate).toMatchObject({ mode: 'fixed-rate', rateMode: 'paced', targetRate: record.fixedRate.rate });
    expect(record.phases.fixedRate!.correctedLatencyMs!.count).toBe(record.phases.fixedRate!.responses);
  });

  it('finds every accepted message and payment in the database, and the ledger consistent', () => {
    const phases = gatewayPhases().map(([, phase]) => phase);
    const accepted = phases.reduce((sum, phase) => sum + phase.accepted, 0);
    const payments = phases.reduce((sum, phase) => sum + phase.acceptedPayments, 0);
    const { bookings, ledger } = record.checks!;
    expect(bookings).toMatchObject({ acceptedMessages: accepted, foundMessages: accepted, expectedPayments: payments, foundPayments: payments, ok: true });
    expect((bookings.paymentStatuses.ACSC ?? 0) + (bookings.paymentStatuses.ACSP ?? 0)).toBe(payments);
    expect(bookings.messagesInDatabase).toBeGreaterThanOrEqual(accepted);
    expect(ledger).toMatchObject({ balanceMismatches: 0, unbalancedEntries: 0, ok: true });
    expect(ledger.postings).toBeGreaterThanOrEqual(SMALL_POSTINGS + LARGE_POSTINGS);
  });

  it('measures the floors: the baseline answers everything, the database floor books without errors', () => {
    const { baseline, floorSpread, floorHot } = record.phases;
    expect(baseline).toMatchObject({ kind: 'baseline', errors: 0, acceptedPayments: 0 });
    expect(baseline!.accepted).toBe(baseline!.responses);
    expect(baseline!.accepted).toBeGreaterThan(0);
    for (const floor of [floorSpread!, floorHot!]) {
      expect(floor.errors).toBe(0);
      expect(floor.booked).toBeGreaterThan(0);
      expect(floor.bookedPayments).toBeGreaterThanOrEqual(floor.booked);
      expect(floor.concurrency).toBe(CONNECTIONS);
    }
    expect(floorHot!.banks).toEqual({ 0: CONNECTIONS });
  });

  it('reads balances over the seeded histories and payments by UETR, without errors', () => {
    const read = record.phases.read!;
    expect(read.small.postings).toBe(SMALL_POSTINGS);
    expect(read.large.postings).toBe(LARGE_POSTINGS);
    for (const phase of [read.small.gateway, read.large.gateway, read.payment]) {
      expect(phase.errors).toBe(0);
      expect(phase.statuses).toEqual({ 200: phase.responses });
      expect(phase.responses).toBeGreaterThan(0);
    }
    expect(read.small.queryMs.count).toBeGreaterThan(0);
  });

  it('samples the gateway process and reports the soak', () => {
    const soak = record.phases.soak!;
    expect(soak.rssStartBytes).toBeGreaterThan(0);
    expect(soak.rssEndBytes).toBeGreaterThan(0);
    expect(record.gatewayProcess.series.length).toBeGreaterThan(0);
    expect(record.phases.gateway!.server).not.toBeNull();
    expect(record.phases.gateway!.server!.cpuSeconds).toBeGreaterThan(0);
  });

  it('writes the plots and prints the results tables', async () => {
    for (const name of ['e2e-latency.svg', 'e2e-throughput.svg', 'e2e-gateway-rss.svg']) {
      expect(await readFile(join(dir, name), 'utf8')).toMatch(/^<svg [^>]*>[\s\S]*<\/svg>\n$/);
    }
    expect(stdout).toContain('| target');
    expect(stdout).toContain('gateway ÷ baseline (framework + TLS floor)');
    expect(stdout).toContain('GET /accounts/{id}/balance');
  });
});
