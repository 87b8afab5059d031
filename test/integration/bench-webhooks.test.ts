/**
 * `bench:webhooks` end to end in a tiny mode (a few seconds): real bookings in a database of its own, the real
 * `isogw relay` in child processes (one, then two at once), the HTTP floor, a receiver verifying every v1 signature
 * with the published standardwebhooks library and every v1a signature with our Ed25519 check. The record must
 * account for every event: delivered exactly once, in per-payment order, matching the database's own account —
 * and have the shape bench/README.md describes. No assertion on any timing: this machine's numbers are not a
 * test's business.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { WebhooksRecord } from '../../bench/webhooks/report.ts';

const RUN = fileURLToPath(new URL('../../bench/webhooks/run.ts', import.meta.url));
const SERVER_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PAYMENTS = 20;
const RATE_PER_SECOND = 20;
const DURATION_SECONDS = 1;
/** Generous for a loaded 2-core machine; the run itself takes a few seconds. */
const RUN_TIMEOUT_MS = 180_000;

let dir: string;
let record: WebhooksRecord;
let stdout: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'isogw-bench-webhooks-'));
  const out = join(dir, 'webhooks.json');
  const args = [
    RUN,
    ...['--payments', String(PAYMENTS), '--relays', '1,2', '--rates', String(RATE_PER_SECOND), '--duration-seconds', String(DURATION_SECONDS)],
    ...['--notify-samples', '10', '--idle-seconds', '0.3', '--v1a-every', '1', '--drain-timeout-seconds', '60', '--out', out],
  ];
  ({ stdout } = await promisify(execFile)(process.execPath, args, { timeout: RUN_TIMEOUT_MS }));
  record = JSON.parse(await readFile(out, 'utf8')) as WebhooksRecord;
}, RUN_TIMEOUT_MS);

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('bench:webhooks', () => {
  it('writes a record with the machine, the settings and every phase', () => {
    expect(record).toMatchObject({
      bench: 'webhooks',
      node: process.version,
      cpu: { cores: expect.any(Number) },
      settings: { mode: 'custom', payments: PAYMENTS, relays: [1, 2], ratesPerSecond: [RATE_PER_SECOND], durationSeconds: DURATION_SECONDS, verifier: 'library', v1aEvery: 1, eventsPerPayment: 2 },
    });
    expect(record.saturation.map((s) => s.id)).toEqual(['relay-1', 'floor-1', 'relay-2', 'floor-2']);
    expect(record.latency.map((l) => l.id)).toEqual([`relay@${RATE_PER_SECOND}/s`, `floor@${RATE_PER_SECOND}/s`]);
  });

  it('delivers every event exactly once, verified, in per-payment order, in every phase', () => {
    expect(record.problems).toEqual([]);
    expect(record.exact).toBe(true);
    const phases = [...record.saturation, ...record.latency];
    for (const phase of phases) {
      const events = phase.payments * 2;
      expect(phase.events, phase.id).toBe(events);
      expect(phase.checks, phase.id).toEqual({
        expected: events,
        delivered: events,
        lost: 0,
        duplicates: 0,
        unexpected: 0,
        unverified: 0,
        unverifiedReasons: [],
        orderViolations: 0,
        // --v1a-every 1: the Ed25519 signature of every request was checked too
        v1aChecked: events,
        v1aFailed: 0,
      });
    }
    expect(record.saturation.map((s) => s.payments)).toEqual([PAYMENTS, PAYMENTS, PAYMENTS, PAYMENTS]);
    expect(record.latency.map((l) => l.payments)).toEqual([RATE_PER_SECOND * DURATION_SECONDS, RATE_PER_SECOND * DURATION_SECONDS]);
  });

  it("agrees with the database's own account: every outbox row dispatched, every delivery delivered at its first attempt", () => {
    const relayPhases = [...record.saturation, ...record.latency].filter((phase) => phase.kind === 'relay');
    let events = 0;
    for (const phase of relayPhases) {
      events += phase.events;
      expect(phase.database, phase.id).toEqual({ outboxRows: events, undispatched: 0, deliveries: events, delivered: events, retried: 0, attempts: events, failedAttempts: 0 });
    }
  });

  it('measures throughput, per-sequence latency and costs, with relay ÷ floor ratios', () => {
    for (const phase of record.saturation) {
      expect(phase.deliveriesPerSecond, phase.id).toBeGreaterThan(0);
      expect(phase.costs.senders, phase.id).toHaveLength(phase.senders);
    }
    for (const phase of record.latency) {
      expect(phase.latency.bySequence.map((s) => [s.sequence, s.latencyMs.count]), phase.id).toEqual([
        [1, phase.payments],
        [2, phase.payments],
      ]);
      for (const { latencyMs } of phase.latency.bySequence) {
        for (const key of ['p50', 'p90', 'p97_5', 'p99', 'max'] as const) expect(Number.isFinite(latencyMs[key]) && latencyMs[key] >= 0, `${phase.id} ${key}`).toBe(true);
      }
    }
    expect(record.ratios.saturation.map((r) => r.senders)).toEqual([1, 2]);
    expect(record.ratios.latency.map((r) => r.sequence)).toEqual([1, 2]);
    for (const ratio of [...record.ratios.saturation.map((r) => r.relayOverFloor), ...record.ratios.latency.flatMap((r) => [r.relayOverFloor.p50, r.relayOverFloor.p99])]) {
      expect(Number.isFinite(ratio) && ratio > 0).toBe(true);
    }
    expect(record.verifierCost.microseconds.library.p50).toBeGreaterThan(0);
    expect(record.verifierCost.microseconds.hmac.p50).toBeGreaterThan(0);
    expect(record.notify?.samples).toBe(10);
  });

  it('prints the Markdown tables', () => {
    expect(stdout).toContain('| saturation (backlog of events)');
    expect(stdout).toContain('| fixed rate (payments/s)');
    expect(stdout).toContain('Every phase delivered exactly its events');
  });

  it('drops its database at the end', async () => {
    expect(record.database).toMatch(/^bench_webhooks_[0-9a-f]{12}$/);
    const client = new pg.Client({ connectionString: SERVER_URL });
    await client.connect();
    try {
      const { rows } = await client.query('select 1 from pg_database where datname = $1', [record.database]);
      expect(rows).toEqual([]);
    } finally {
      await client.end();
    }
  });
});
