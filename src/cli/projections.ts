/**
 * `isogw projections rebuild` — rebuilds the read models (payment statuses, account balances) from the immutable
 * history (status events, postings) of the database named by DATABASE_URL, compares them with the live ones and
 * says whether they match. Writes nothing: the rebuild lives in temporary tables of a transaction that is rolled
 * back (src/ops/projections.ts says why there is no --apply).
 */
import { parseArgs } from 'node:util';


import { type ProjectionRebuildReport, rebuildProjections } from '../ops/projections.ts';
import { EXIT, type CliIo, UsageError } from './io.ts';
import { operatorDatabasePool } from './operator-database.ts';

export const PROJECTIONS_USAGE = `usage: DATABASE_URL=postgres://user@host:5432/db isogw projections rebuild [--json]

Rebuilds, in one snapshot and without writing anything, every payment's status, reason and sequence from its
status events, and every account's balance from its postings, and compares them with the live tables.
--json prints the whole report as one JSON document instead of the summary.
Exit status: 0 the rebuilt projections match the live ones, 1 they differ, 2 usage error, 3 the database failed.`;

export async function runProjections(args: string[], io: CliIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [subcommand, ...rest] = args;
  if (subcommand === undefined || subcommand === '--help' || subcommand === '-h' || subcommand === 'help') {
    io.out(PROJECTIONS_USAGE);
    return subcommand === undefined ? EXIT.usage : EXIT.ok;
  }
  if (subcommand !== 'rebuild') throw new UsageError(`unknown projections subcommand "${subcommand}" (rebuild)`);
  const values = options(rest);
  if (values.help) {
    io.out(PROJECTIONS_USAGE);
    return EXIT.ok;
  }
  const pool = operatorDatabasePool(env);
  let report: ProjectionRebuildReport;
  try {
    report = await rebuildProjections(pool);
  } catch (error) {
    io.err(`isogw projections rebuild: the database failed, nothing was compared: ${(error as Error).message}`);
    return EXIT.failure;
  } finally {
    await pool.end();
  }
  if (values.json) io.out(JSON.stringify(report));
  else for (const line of describeRebuild(report)) io.out(line);
  return report.matches ? EXIT.ok : EXIT.rejected;
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

/** One line per projection, then each difference as live → rebuilt. */
export function describeRebuild(report: ProjectionRebuildReport): string[] {
  const lines = [`rebuilt the projections as of ${report.asOf}`];
  for (const projection of report.projections) {
    lines.push(
      `${projection.differing === 0 ? 'match ' : 'DIFFER'}  ${projection.name} from ${projection.rebuiltFrom}: ${projection.compared} rows compared, ${projection.differing} differ`,
    );
    for (const difference of projection.differences) {
      lines.push(`    ${JSON.stringify(difference.key)} live ${JSON.stringify(difference.live)} → rebuilt ${JSON.stringify(difference.rebuilt)}`);
    }
    if (projection.differences.length < projection.differing) lines.push(`    … (${projection.differences.length} listed)`);
  }
  lines.push(report.matches ? 'the live projections match the history' : 'the live projections DIFFER from the history');
  return lines;
}
