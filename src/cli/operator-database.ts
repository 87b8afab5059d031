/**
 * The database connection of the operator commands (ledger, payments, webhooks, reconcile, projections, migrate),
 * apart from io.ts so that commands without a database never load pg.
 */
import pg from 'pg';

import { UsageError } from './io.ts';

/**
 * The database pool of an operator command: one connection to DATABASE_URL (as whoever it names: operators run
 * these as the owner), with no crash when an idle connection drops (the next query reports it). A missing
 * DATABASE_URL is a usage error, named.
 */
export function operatorDatabasePool(env: NodeJS.ProcessEnv): pg.Pool {
  const url = env.DATABASE_URL;
  if (url === undefined || url === '') throw new UsageError('DATABASE_URL is required (e.g. postgres://postgres@127.0.0.1:5432/postgres)');
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  pool.on('error', () => {});
  return pool;
}
