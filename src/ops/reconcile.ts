/**
 * Reconciliation (issue 7 §4): runs every check of reconcile-checks.ts over one snapshot of the database and
 * returns a structured report — per check its status, how many findings of each class, and the first findings
 * themselves — so `isogw reconcile` can print it, exit with whether all is well, and CI can assert it after the
 * reliability tests.
 *
 * "All is well" means no finding except `timing`: a held payment waiting for its onward leg or an outbox row the
 * relay has not dispatched yet is in flight, not wrong; the report still lists them, as a note.
 *
 * Reads only. On a pool it opens its own REPEATABLE READ READ ONLY transaction, so every check sees the same
 * committed state even while the gateway keeps booking; reconcileIn runs on a connection the caller holds, inside
 * the caller's transaction (a test can tamper, reconcile, and roll the tampering back).
 */
import type pg from 'pg';

import { FINDING_CLASSES, type FindingClass, RECONCILE_CHECKS, type ReconcileCheck } from './reconcile-checks.ts';

export { FINDING_CLASSES, type FindingClass, RECONCILE_CHECKS, type ReconcileCheck } from './reconcile-checks.ts';

export const RECONCILE_LIMITS = {
  /** Findings listed per check (all of them are counted): enough to act on, bounded however broken the ledger is. */
  findingsPerCheckMax: 100,
} as const;

export interface ReconcileOptions {
  /** Findings listed per check; the counts are always complete. Default RECONCILE_LIMITS.findingsPerCheckMax. */
  readonly findingsPerCheckMax?: number;
}

export interface ReconcileFinding {
  readonly class: FindingClass;
  /** The offending row as the check's query returned it (bigint columns as decimal text). */
  readonly row: Readonly<Record<string, unknown>>;
}

export type FindingCounts = Readonly<Record<FindingClass, number>>;

export interface CheckReport {
  readonly name: string;
  readonly invariant: string;
  /** ok: no finding; timing: only in-flight findings; failed: at least one finding of another class. */
  readonly status: 'ok' | 'timing' | 'failed';
  /** Every finding, by class. */
  readonly counts: FindingCounts;
  /** The first findings, in the check's order (at most findingsPerCheckMax). */
  readonly findings: readonly ReconcileFinding[];
  /** Whether findings were left out of `findings` (never out of `counts`). */
  readonly truncated: boolean;
}

export interface ReconcileReport {
  /** True when no finding is anything but timing. */
  readonly ok: boolean;
  /** The database's clock at the snapshot every check read (ISO 8601). */
  readonly asOf: string;
  /** How much was checked: rows per table. */
  readonly scope: Readonly<Record<'accounts' | 'journalEntries' | 'postings' | 'messages' | 'payments' | 'statusEvents' | 'outboxRows', number>>;
  /** Every finding of every check, by class. */
  readonly counts: FindingCounts;
  readonly checks: readonly CheckReport[];
}

/** Reconciles the database behind `pool` in one read-only snapshot. */
export async function reconcile(pool: pg.Pool, options: ReconcileOptions = {}): Promise<ReconcileReport> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('begin isolation level repeatable read read only');
    const report = await reconcileIn(client, options);
    await client.query('commit');
    return report;
  } catch (error) {
    await client.query('rollback').catch((rollbackError: Error) => (broken = rollbackError));
    throw error;
  } finally {
    // A connection that cannot even roll back is discarded, not handed to the next caller.
    client.release(broken);
  }
}

/** The same checks on a connection the caller holds, inside its transaction if one is open. */
export async function reconcileIn(client: pg.ClientBase, options: ReconcileOptions = {}): Promise<ReconcileReport> {
  const listed = options.findingsPerCheckMax ?? RECONCILE_LIMITS.findingsPerCheckMax;
  if (!Number.isSafeInteger(listed) || listed < 0) throw new RangeError(`reconcile: findingsPerCheckMax must be a whole number ≥ 0, got ${listed}`);
  const { rows } = await client.query<{ as_of: Date } & Record<string, number>>(
    `select now() as as_of,
            (select count(*)::int from accounts) as accounts, (select count(*)::int from journal_entries) as journal_entries,
            (select count(*)::int from postings) as postings, (select count(*)::int from messages) as messages,
            (select count(*)::int from payments) as payments, (select count(*)::int from payment_events) as status_events,
            (select count(*)::int from outbox) as outbox_rows`,
  );
  const scope = rows[0]!;
  const checks: CheckReport[] = [];
  for (const check of RECONCILE_CHECKS) checks.push(await runCheck(client, check, listed));
  const counts = emptyCounts();
  for (const check of checks) for (const kind of FINDING_CLASSES) counts[kind] += check.counts[kind];
  return {
    ok: checks.every((check) => check.status !== 'failed'),
    asOf: scope.as_of.toISOString(),
    scope: {
      accounts: scope.accounts!,
      journalEntries: scope.journal_entries!,
      postings: scope.postings!,
      messages: scope.messages!,
      payments: scope.payments!,
      statusEvents: scope.status_events!,
      outboxRows: scope.outbox_rows!,
    },
    counts,
    checks,
  };
}

async function runCheck(client: pg.ClientBase, check: ReconcileCheck, listed: number): Promise<CheckReport> {
  // One more than we list tells whether there are more; only then are they counted in a second pass.
  const { rows } = await client.query<Record<string, unknown>>(`select * from (${check.sql}) as finding limit $1`, [listed + 1]);
  const truncated = rows.length > listed;
  const findings = rows.slice(0, listed).map((row) => findingOf(check, row));
  let counts: Record<FindingClass, number>;
  if (truncated) {
    counts = emptyCounts();
    const counted = await client.query<{ class: string; findings: number }>(
      `select class, count(*)::int as findings from (${check.sql}) as finding group by class`,
    );
    for (const row of counted.rows) counts[classOf(check, row.class)] += row.findings;
  } else {
    counts = emptyCounts();
    for (const finding of findings) counts[finding.class] += 1;
  }
  const failed = FINDING_CLASSES.some((kind) => kind !== 'timing' && counts[kind] > 0);
  return {
    name: check.name,
    invariant: check.invariant,
    status: failed ? 'failed' : counts.timing > 0 ? 'timing' : 'ok',
    counts,
    findings,
    truncated,
  };
}

function findingOf(check: ReconcileCheck, row: Record<string, unknown>): ReconcileFinding {
  const { class: kind, ...rest } = row;
  return { class: classOf(check, kind), row: rest };
}

/** A check that classifies a row as something we do not know is a bug in the check, not a clean bill of health. */
function classOf(check: ReconcileCheck, kind: unknown): FindingClass {
  if (typeof kind === 'string' && (FINDING_CLASSES as readonly string[]).includes(kind)) return kind as FindingClass;
  throw new Error(`reconcile: check ${check.name} classified a finding as ${JSON.stringify(kind)}`);
}

function emptyCounts(): Record<FindingClass, number> {
  return { timing: 0, missing_event: 0, duplicate: 0, discrepancy: 0 };
}
