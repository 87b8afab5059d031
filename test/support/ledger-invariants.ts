/**
 * The ledger's invariants as test assertions: what issue 4 means by "nothing may be lost, duplicated or invented".
 * Any test that moved money can end with `await expectLedgerConsistent(pool)`; a reliability test can end with
 * `await expectReconciled(url)`, which runs the operator's `isogw reconcile` itself.
 *
 * The checks are NOT here: they are src/ops/reconcile-checks.ts, the one list `isogw reconcile` runs (money,
 * payments, history, answers — see there). This module turns their findings into test failures. A finding of class
 * `timing` (a payment held for its onward leg, an outbox row not yet dispatched) is in flight, not a violation.
 *
 * Violations are collected, not thrown one by one: the failure message lists every broken invariant with the rows
 * that break it, so a test that fails says precisely what is wrong.
 */
import type pg from 'pg';
import { expect } from 'vitest';

import { runReconcile } from '../../src/cli/reconcile.ts';
import { RECONCILE_CHECKS, reconcile, reconcileIn, type ReconcileReport } from '../../src/ops/reconcile.ts';

/** Rows listed per broken invariant: every one a test could provoke, and still a bound. */
const VIOLATIONS_PER_INVARIANT_MAX = 10_000;

/** One line per offending row: the invariant, then the row as JSON (its columns as the check returned them). */
function violationsOf(report: ReconcileReport): string[] {
  return report.checks.flatMap((check) =>
    check.findings.filter((finding) => finding.class !== 'timing').map((finding) => `${check.invariant}: ${JSON.stringify(finding.row)}`),
  );
}

/**
 * Every broken invariant, one line each with the offending rows as JSON; empty when the ledger is consistent. All
 * checks read one snapshot, so a concurrent writer cannot make two of them disagree.
 */
export async function ledgerViolations(pool: pg.Pool): Promise<string[]> {
  return violationsOf(await reconcile(pool, { findingsPerCheckMax: VIOLATIONS_PER_INVARIANT_MAX }));
}

/**
 * The same checks on a connection the caller holds, inside its transaction if one is open: a test can tamper with
 * the ledger, see what the checks say about it, and roll the tampering back.
 */
export async function ledgerViolationsIn(client: pg.ClientBase): Promise<string[]> {
  return violationsOf(await reconcileIn(client, { findingsPerCheckMax: VIOLATIONS_PER_INVARIANT_MAX }));
}

/** The invariants, by name (for tests asserting which one a given tampering breaks). */
export const LEDGER_INVARIANTS: readonly string[] = RECONCILE_CHECKS.map((check) => check.invariant);

/** Fails with the full list of violations (and the rows behind each) unless every invariant holds. */
export async function expectLedgerConsistent(pool: pg.Pool): Promise<void> {
  expect(await ledgerViolations(pool), 'ledger invariants violated (one line per offending row)').toEqual([]);
}

/**
 * Runs `isogw reconcile --json` against the database at `databaseUrl`, as CI and operators do, and fails unless it
 * exits 0 with no difference but timing; the failure lists the failed checks and their findings.
 */
export async function expectReconciled(databaseUrl: string): Promise<void> {
  const out: string[] = [];
  const err: string[] = [];
  const status = await runReconcile(['--json'], { out: (line) => out.push(line), err: (line) => err.push(line) }, { DATABASE_URL: databaseUrl });
  expect(err, 'isogw reconcile wrote to stderr').toEqual([]);
  const report = JSON.parse(out.join('\n')) as ReconcileReport;
  const failed = report.checks.filter((check) => check.status === 'failed').map((check) => ({ check: check.name, counts: check.counts, findings: check.findings }));
  expect(failed, 'isogw reconcile found differences').toEqual([]);
  expect({ status, ...report.counts, timing: 0 }).toEqual({ status: 0, timing: 0, missing_event: 0, duplicate: 0, discrepancy: 0 });
}
