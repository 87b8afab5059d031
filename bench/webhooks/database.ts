/**
 * The bench's own database: a fresh `bench_webhooks_<random>` on the local server, migrated with the real
 * migrations, the dev partners funded as test/support/gateway.ts funds them, and one webhook endpoint for
 * bank-alpha pointing at the bench's receiver. Dropped at the end, so a run never sees another run's rows (or a test
 * database's) and leaves nothing behind.
 *
 * Two pools: the owner's (set-up, the checks at the end of each phase) and the gateway's role (isogw_app, with
 * src/db/pool.ts's settings), which the producer books with — the relays connect as isogw_app too, on their own.
 */
import { randomBytes } from 'node:crypto';

import pg from 'pg';

import { DATABASE_LIMITS } from '../../src/db/pool.ts';
import { migrate } from '../../src/db/migrate.ts';
import { ensureSettlementAccount } from '../../src/ledger/accounts.ts';
import { fundSettlementAccount } from '../../src/ledger/fund.ts';
import { createEndpoint, signingKeysFor } from '../../src/webhooks/endpoints.ts';
import type { SigningKey } from '../../src/webhooks/signing.ts';

/** The server to create the bench database on (its database part is where we connect to create and drop ours). */
export const DEFAULT_SERVER_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
/** The partner whose payments the bench books (alpha1 template: instructing agent DEUTDEFFXXX). */
export const BENCH_CLIENT_ID = 'bank-alpha';
/**
 * bank-alpha's prefunding, minor units of EUR: 10^13 EUR, enough for ~200 million bookings of the 48,732.65 EUR
 * template — a bench never runs out of money, whatever its flags.
 */
const FUNDING_MINOR = 1_000_000_000_000_000n;
/** Connections of the producer's pool (the gateway's default is 16; the producer keeps at most 4 bookings in flight). */
export const PRODUCER_POOL_CONNECTIONS = 8;
/**
 * application_name of the bench's own connections, so costs.ts can tell the producer's and the owner's backends from
 * the relays' (which src/db/pool.ts names `isogw`, and whose LISTEN connection is `isogw-relay`).
 */
export const PRODUCER_APPLICATION_NAME = 'bench-producer';
export const OWNER_APPLICATION_NAME = 'bench-owner';
/** Tries to drop the database while its last backends are still closing, and the wait between tries. */
const DROP_ATTEMPTS = 50;
const DROP_RETRY_DELAY_MS = 100;
const OBJECT_IN_USE = '55006';

export interface BenchDatabase {
  readonly name: string;
  readonly url: string;
  /** Connects as the login user (the owner). */
  readonly owner: pg.Pool;
  /** Connects as isogw_app, like the gateway. */
  readonly app: pg.Pool;
  close(): Promise<void>;
}

export async function createBenchDatabase(serverUrl: string = DEFAULT_SERVER_URL): Promise<BenchDatabase> {
  const name = `bench_webhooks_${randomBytes(6).toString('hex')}`;
  await adminQuery(serverUrl, `create database ${name} template template0`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const owner = new pg.Pool({ connectionString: url.href, max: 4, application_name: OWNER_APPLICATION_NAME });
  const app = producerPool(url.href);
  const close = async (): Promise<void> => {
    await Promise.allSettled([owner.end(), app.end()]);
    await dropDatabase(serverUrl, name);
  };
  try {
    await migrate(owner);
    await fundSettlementAccount(owner, { bic: 'DEUTDEFFXXX', name: 'Bank Alpha', currency: 'EUR', amount: FUNDING_MINOR, reference: 'bench funding' });
    const client = await owner.connect();
    try {
      await ensureSettlementAccount(client, { bic: 'ABNANL2AXXX', name: 'Bank Gamma' }, 'EUR');
    } finally {
      client.release();
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { name, url: url.href, owner, app, close };
}

export interface BenchEndpoint {
  readonly id: string;
  /** `whsec_…`, what the receiver verifies v1 signatures with. */
  readonly secret: string;
  /** `whpk_…`, for the v1a (Ed25519) signatures. */
  readonly publicKey: string;
  /** The keys the relay signs with, for the HTTP floor's pre-signed requests. */
  readonly signingKeys: readonly SigningKey[];
}

/** bank-alpha's endpoint at `url`, subscribed to every event type (http on loopback: allowInsecureEndpoints). */
export async function createBenchEndpoint(database: BenchDatabase, url: string): Promise<BenchEndpoint> {
  const { endpoint, keys } = await createEndpoint(database.app, { clientId: BENCH_CLIENT_ID, url, description: 'bench:webhooks receiver' }, { allowInsecureEndpoints: true });
  const signingKeys = await signingKeysFor(database.app, endpoint.id);
  return { id: endpoint.id, secret: keys.secret, publicKey: keys.publicKey, signingKeys };
}

/**
 * The gateway's pool (src/db/pool.ts: role isogw_app, the same server-side timeouts), under an application_name of
 * its own: createDatabasePool names every pool `isogw`, and the relays' backends must be told apart from ours.
 */
function producerPool(url: string): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: PRODUCER_POOL_CONNECTIONS,
    connectionTimeoutMillis: DATABASE_LIMITS.connectTimeoutMs,
    statement_timeout: DATABASE_LIMITS.statementTimeoutMs,
    lock_timeout: DATABASE_LIMITS.lockTimeoutMs,
    idle_in_transaction_session_timeout: DATABASE_LIMITS.idleInTransactionTimeoutMs,
    application_name: PRODUCER_APPLICATION_NAME,
    options: '-c role=isogw_app',
  });
  pool.on('error', () => {});
  return pool;
}

async function adminQuery(serverUrl: string, sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

/** Without FORCE first (pools' backends may still be closing), FORCE as the last resort (see test/support/database.ts). */
async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  const dropper = new pg.Client({ connectionString: serverUrl });
  await dropper.connect();
  try {
    for (let attempt = 1; attempt <= DROP_ATTEMPTS; attempt += 1) {
      try {
        await dropper.query(`drop database if exists ${name}`);
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== OBJECT_IN_USE) throw error;
        await new Promise((resolve) => setTimeout(resolve, DROP_RETRY_DELAY_MS));
      }
    }
    await dropper.query(`drop database if exists ${name} with (force)`);
  } finally {
    await dropper.end();
  }
}
