/**
 * Forward-only schema migrations: the numbered SQL files in `migrations/`, applied in order, each in its own
 * transaction, each recorded with the SHA-256 of its text. An applied file that has since changed is an error, not
 * something to re-run: history is fixed, changes are new files. A transaction-scoped advisory lock makes concurrent
 * starters (several instances, parallel test files) take turns instead of racing.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import type { Pool } from 'pg';

export const MIGRATIONS_DIRECTORY = fileURLToPath(new URL('../../migrations/', import.meta.url));
/** `0001_ledger.sql`: four digits, an underscore, a name. */
const MIGRATION_FILE = /^(\d{4})_[a-z0-9_]+\.sql$/;
/** Any constant shared by every migrator of this schema; pg_advisory_xact_lock takes a bigint. */
const MIGRATION_LOCK_KEY = 2002_0008n;

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  readonly sha256: string;
}

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

export function migrationsOnDisk(directory: string = MIGRATIONS_DIRECTORY): Migration[] {
  const files = readdirSync(directory).filter((file) => file.endsWith('.sql')).sort();
  return files.map((file, index) => {
    const match = MIGRATION_FILE.exec(file);
    if (match === null) throw new MigrationError(`${file}: migration files are named NNNN_name.sql`);
    const version = Number(match[1]);
    if (version !== index + 1) throw new MigrationError(`${file}: expected version ${index + 1} (no gaps, no duplicates)`);
    const sql = readFileSync(`${directory}/${file}`, 'utf8');
    return { version, name: file, sql, sha256: createHash('sha256').update(sql).digest('hex') };
  });
}

export interface MigrationReport {
  readonly applied: readonly string[];
  readonly alreadyApplied: readonly string[];
}

/** Applies every migration not yet applied; returns what it did. */
export async function migrate(pool: Pool, migrations: readonly Migration[] = migrationsOnDisk()): Promise<MigrationReport> {
  const applied: string[] = [];
  const alreadyApplied: string[] = [];
  const client = await pool.connect();
  try {
    for (const migration of migrations) {
      await client.query('begin');
      try {
        await client.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
        await client.query(`create table if not exists schema_migrations (
          version integer primary key, name text not null, sha256 text not null, applied_at timestamptz not null default now())`);
        const { rows } = await client.query<{ sha256: string }>('select sha256 from schema_migrations where version = $1', [migration.version]);
        if (rows[0] !== undefined) {
          if (rows[0].sha256 !== migration.sha256) {
            throw new MigrationError(`${migration.name} was applied with different content (sha256 ${rows[0].sha256}); migrations are forward-only: add a new file`);
          }
          alreadyApplied.push(migration.name);
          await client.query('commit');
          continue;
        }
        await client.query(migration.sql);
        await client.query('insert into schema_migrations (version, name, sha256) values ($1, $2, $3)', [migration.version, migration.name, migration.sha256]);
        await client.query('commit');
        applied.push(migration.name);
      } catch (error) {
        await client.query('rollback');
        if (error instanceof MigrationError) throw error;
        throw new MigrationError(`${migration.name}: ${(error as Error).message}`, { cause: error });
      }
    }
  } finally {
    client.release();
  }
  return { applied, alreadyApplied };
}
