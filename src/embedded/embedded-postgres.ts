/**
 * The embedded database: PostgreSQL compiled to WebAssembly (PGlite), in this process, behind a PostgreSQL wire
 * protocol server on a free loopback port (pglite-socket). The gateway reaches it with node-postgres exactly as it
 * reaches a real server — same pool code, same SQL, same migrations — so `npm run demo` needs nothing installed.
 *
 * What differs from a real server, and what the caller must do about it:
 *   - PGlite is ONE session. The socket server queues every client's statements onto it, but session state (a
 *     transaction, SET ROLE, settings) is shared: connections must never interleave transactions. The gateway
 *     therefore runs on a single pooled connection, shared with its relay (GatewayConfig.database.singleSession).
 *   - LISTEN has nobody to hear NOTIFY on its own session: the relay polls instead.
 *   - Startup options are ignored: `-c role=isogw_app` does not take, so statements run as the owner (the app
 *     role's grants are proven on a real server by the integration tests), and the pool's server-side timeouts
 *     (statement, lock, idle in transaction) are not in force.
 * Single instance, development and demos only.
 */
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import pg from 'pg';

import { migrate, type MigrationReport } from '../db/migrate.ts';
import { EMBEDDED_LIMITS } from './limits.ts';

export interface EmbeddedPostgresOptions {
  /** A directory to keep the database in across runs; undefined = in memory, gone at close(). */
  readonly dataDir?: string | undefined;
  /** Loopback address to listen on. */
  readonly host?: string | undefined;
  readonly connectionsMax?: number | undefined;
}

export interface EmbeddedPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres`: the owner, as DATABASE_URL would name a local server. */
  readonly url: string;
  /** What the start applied (nothing on a reused dataDir already up to date). */
  readonly migrations: MigrationReport;
  /** Client connections open now, and statements waiting for the session (pglite-socket's own counters). */
  stats(): { readonly connections: number; readonly queuedStatements: number };
  /** Stops accepting connections, closes the ones open, shuts PGlite down (flushing dataDir). Once. */
  close(): Promise<void>;
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const host = options.host ?? '127.0.0.1';
  const db = await PGlite.create(options.dataDir);
  const server = new PGLiteSocketServer({ db, host, port: 0, maxConnections: options.connectionsMax ?? EMBEDDED_LIMITS.databaseConnectionsMax });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await server.stop();
      await db.close();
    })());
  try {
    await server.start();
    // getServerConn() is `host:port` once listening on a TCP port.
    const url = `postgres://postgres@${server.getServerConn()}/postgres`;
    // One connection: migrations run in transactions, and nothing else is connected yet.
    const owner = new pg.Pool({ connectionString: url, max: 1 });
    try {
      const migrations = await migrate(owner);
      const stats = () => {
        const { activeConnections, queuedQueries } = server.getStats();
        return { connections: activeConnections, queuedStatements: queuedQueries };
      };
      return { url, migrations, stats, close };
    } finally {
      await owner.end();
    }
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
}
