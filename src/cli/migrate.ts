/**
 * `isogw migrate` — applies the numbered migrations in `migrations/` to the database named by DATABASE_URL, and
 * prints what it applied. Safe to run from several places at once (the migrator takes an advisory lock) and again
 * and again (applied files are skipped; an edited applied file is an error: add a new file instead).
 */

import { migrate, MigrationError } from '../db/migrate.ts';
import { EXIT, type CliIo, UsageError } from './io.ts';
import { operatorDatabasePool } from './operator-database.ts';

export const MIGRATE_USAGE = `usage: DATABASE_URL=postgres://user@host:5432/db isogw migrate

Applies the forward-only migrations in migrations/ that the database has not seen yet.
Exit status: 0 done, 2 usage error, 3 a migration failed (nothing of it was applied).`;

export async function runMigrate(args: string[], io: CliIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.out(MIGRATE_USAGE);
    return EXIT.ok;
  }
  if (args.length > 0) throw new UsageError(`migrate takes no arguments (got "${args.join(' ')}")`);
  const pool = operatorDatabasePool(env);
  try {
    const report = await migrate(pool);
    for (const name of report.alreadyApplied) io.out(`already  ${name}`);
    for (const name of report.applied) io.out(`applied  ${name}`);
    return EXIT.ok;
  } catch (error) {
    const message = error instanceof MigrationError ? error.message : `cannot reach the database: ${(error as Error).message}`;
    io.err(`isogw migrate: ${message}`);
    return EXIT.failure;
  } finally {
    await pool.end();
  }
}
