/**
 * `isogw reconcile` — does the database add up? Every check of src/ops/reconcile-checks.ts over one snapshot of the
 * database named by DATABASE_URL (required, like `isogw ledger`): currencies sum to zero, balances equal their
 * postings, every accepted payment has exactly its entries, every status change its event and outbox row. Any
 * difference is classified — timing (in flight, not wrong), missing_event, duplicate, discrepancy — and the exit
 * status says whether all is well, so CI and a cron job can act on it. Reads only.
 */
import { parseArgs } from 'node:util';


import { type CheckReport, type FindingCounts, reconcile, type ReconcileReport } from '../ops/reconcile.ts';
import { EXIT, type CliIo, UsageError } from './io.ts';
import { operatorDatabasePool } from './operator-database.ts';

export const RECONCILE_USAGE = `usage: DATABASE_URL=postgres://user@host:5432/db isogw reconcile [--json]

Checks, in one snapshot of the database: every currency sums to zero; every account balance is the sum of its
postings; every journal entry balances; every accepted payment has exactly one booking entry (on-us: transfer;
onward: hold, then hold_post when settled or hold_void when released) and a rejected one none; every status change
has its event and its outbox row; every payment row says what its latest event says.
Each difference is classified:
  timing         in flight, not wrong: a payment held for its onward leg, an outbox row not yet dispatched
  missing_event  a status change without its event or outbox row
  duplicate      something recorded twice (an entry for one payment, an outbox row for one event)
  discrepancy    the numbers disagree (balances and postings, money moved and statuses)
--json prints the whole report as one JSON document instead of the summary.
Exit status: 0 all is well (timing findings alone are a note), 1 a difference other than timing, 2 usage error,
3 the database failed.`;

export async function runReconcile(args: string[], io: CliIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const values = options(args);
  if (values.help) {
    io.out(RECONCILE_USAGE);
    return EXIT.ok;
  }
  const pool = operatorDatabasePool(env);
  let report: ReconcileReport;
  try {
    report = await reconcile(pool);
  } catch (error) {
    io.err(`isogw reconcile: the database failed, nothing was checked: ${(error as Error).message}`);
    return EXIT.failure;
  } finally {
    await pool.end();
  }
  if (values.json) io.out(JSON.stringify(report));
  else for (const line of describeReport(report)) io.out(line);
  return report.ok ? EXIT.ok : EXIT.rejected;
}

function options(args: string[]) {
  try {
    const { values } = parseArgs({ args, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: false });
    return values;
  } catch (error) {
    // parseArgs explains over several lines; a usage error is one
    throw new UsageError((error as Error).message.replaceAll('\n', ' '), { cause: error });
  }
}

/** The report as readable lines: what was checked, one line per check, the findings of failed checks, the verdict. */
export function describeReport(report: ReconcileReport): string[] {
  const { scope } = report;
  const lines = [
    `reconciled the database as of ${report.asOf}: ${scope.accounts} accounts, ${scope.journalEntries} journal entries, ${scope.postings} postings, ` +
      `${scope.messages} messages, ${scope.payments} payments, ${scope.statusEvents} status events, ${scope.outboxRows} outbox rows`,
  ];
  const width = Math.max(...report.checks.map((check) => check.name.length));
  for (const check of report.checks) {
    lines.push(`${STATUS_LABEL[check.status]}  ${check.name.padEnd(width)}  ${check.invariant}${check.status === 'ok' ? '' : `: ${countsText(check.counts)}`}`);
    // in-flight findings are counted, not listed (--json lists them); the others are what an operator acts on
    if (check.status === 'failed') lines.push(...findingLines(check));
  }
  const wrong = report.counts.missing_event + report.counts.duplicate + report.counts.discrepancy;
  if (report.counts.timing > 0) {
    lines.push(`note: ${plural(report.counts.timing, 'finding')} in flight (timing): held payments waiting for their onward leg, outbox rows not yet dispatched; not wrong`);
  }
  lines.push(report.ok ? 'all is well' : `NOT RECONCILED: ${plural(wrong, 'difference')} (${countsText({ ...report.counts, timing: 0 })})`);
  return lines;
}

const STATUS_LABEL: Readonly<Record<CheckReport['status'], string>> = { ok: 'ok    ', timing: 'timing', failed: 'FAILED' };

function findingLines(check: CheckReport): string[] {
  const lines = check.findings.filter((finding) => finding.class !== 'timing').map((finding) => `    ${finding.class} ${JSON.stringify(finding.row)}`);
  if (check.truncated) lines.push(`    … (${check.findings.length} listed; --json for the report)`);
  return lines;
}

function countsText(counts: FindingCounts): string {
  return (Object.entries(counts) as [string, number][])
    .filter(([, count]) => count > 0)
    .map(([kind, count]) => `${count} ${kind}`)
    .join(', ');
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
