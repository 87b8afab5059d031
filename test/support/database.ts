/**
 * A fresh PostgreSQL database per test file, migrated with the real migrations, dropped afterwards: tests talk to a
 * real server over a real connection and never see each other's rows. DATABASE_URL names the server (its database
 * part is where we connect to create and drop ours); default postgres://postgres@127.0.0.1:5432/postgres.
 */
import { randomUUID } from 'node:crypto';

import pg from 'pg';

import { migrate } from '../../src/db/migrate.ts';

const SERVER_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  readonly pool: pg.Pool;
  close(): Promise<void>;
}

export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const name = `isogw_test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const admin = new pg.Client({ connectionString: SERVER_URL });
  await admin.connect();
  try {
    await admin.query(`create database ${name} template template0`);
  } finally {
    await admin.end();
  }
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.href, max: 10 });
  if (options.migrate ?? true) await migrate(pool);
  return {
    name,
    url: url.href,
    pool,
    close: async () => {
      await pool.end();
      await dropDatabase(name);
    },
  };
}

const DROP_ATTEMPTS = 50;
const DROP_RETRY_DELAY_MS = 100;
const OBJECT_IN_USE = '55006';

/**
 * Drops without FORCE first: pool.end() resolves before the server has reaped every backend, and FORCE would
 * terminate those backends, whose closing clients (already detached from the pool's error handler) then die with an
 * uncaught 57P01. Waiting for the server to let go is the polite and race-free order; FORCE is the last resort for
 * a test that leaked a connection.
 */
async function dropDatabase(name: string): Promise<void> {
  const dropper = new pg.Client({ connectionString: SERVER_URL });
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
