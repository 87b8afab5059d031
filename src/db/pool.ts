/**
 * The gateway's PostgreSQL pool. Every connection switches to the application role first (SET ROLE), so whatever
 * the login user may do, the gateway's own statements run with the app role's privileges: append to the ledger,
 * move balances and statuses, never rewrite history. Server-side time limits bound every statement and every lock
 * wait, so a stuck database answers an error the intake can turn into a 503 instead of holding a request.
 */
import pg from 'pg';

export const DATABASE_LIMITS = {
  /** Connections per gateway process (Postgres is on the same 2-core box in development; see bench/README). */
  poolConnectionsMax: 16,
  /** One statement may run this long before the server cancels it. */
  statementTimeoutMs: 5_000,
  /** Waiting for a row lock (a hot account) may take this long before the transaction gives up. */
  lockTimeoutMs: 2_000,
  /** A transaction left idle (a crashed request handler) is ended by the server after this. */
  idleInTransactionTimeoutMs: 10_000,
  /** Opening a connection may take this long. */
  connectTimeoutMs: 2_000,
} as const;

export interface DatabaseOptions {
  readonly url: string;
  readonly role: string | undefined;
  readonly poolConnectionsMax?: number;
}

export function createDatabasePool(options: DatabaseOptions): pg.Pool {
  const limits = DATABASE_LIMITS;
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolConnectionsMax ?? limits.poolConnectionsMax,
    connectionTimeoutMillis: limits.connectTimeoutMs,
    statement_timeout: limits.statementTimeoutMs,
    lock_timeout: limits.lockTimeoutMs,
    idle_in_transaction_session_timeout: limits.idleInTransactionTimeoutMs,
    application_name: 'isogw',
    // `role` set in the startup packet: the session has the role before its first statement, and a role that does
    // not exist (or that the login user may not assume) fails the connection — it never falls back to the login user.
    ...(options.role === undefined ? {} : { options: `-c role=${options.role}` }),
  });
  // An idle client losing its connection (server restart) is removed by the pool; without a listener the error
  // would crash the process. The next checkout opens a fresh connection.
  pool.on('error', () => {});
  // A checked-out client is not covered by that listener: a connection cut between two statements of a transaction
  // (server restart, pg_terminate_backend, idle-in-transaction timeout) emits 'error' on the client itself, and
  // without a listener that would crash the process. The statement in progress rejects on its own, which is where
  // the caller learns of it; the pool discards the broken client when it is released.
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  return pool;
}
