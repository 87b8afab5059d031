/**
 * The ledger's guarantees that live in the database itself, so that no application bug can break them: balanced
 * entries (checked at commit), one currency per account, no overdraft, and append-only history — for the
 * application's role (privileges) and for everyone else (triggers). Real PostgreSQL, a fresh database per file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { migrate, MigrationError, migrationsOnDisk } from '../../src/db/migrate.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let db: TestDatabase;
let alpha: number;
let beta: number;
let alphaUsd: number;

beforeAll(async () => {
  db = await createTestDatabase();
  const participants = await db.pool.query<{ id: string; bic: string }>(
    `insert into participants (bic, name) values ('DEUTDEFFXXX', 'Alpha Bank AG'), ('COBADEFFXXX', 'Beta Bank AG') returning id, bic`,
  );
  const [a, b] = participants.rows.map((row) => Number(row.id));
  const accounts = await db.pool.query<{ id: string }>(
    `insert into accounts (participant_id, kind, currency, overdraft_allowed) values ($1, 'settlement', 'EUR', true), ($2, 'settlement', 'EUR', false), ($1, 'settlement', 'USD', true) returning id`,
    [a, b],
  );
  [alpha, beta, alphaUsd] = accounts.rows.map((row) => Number(row.id)) as [number, number, number];
});

afterAll(async () => {
  await db?.close();
});

/** Runs `work` in a transaction and returns the error the commit (or the work) raised, if any. */
async function inTransaction(work: (query: (sql: string, params?: unknown[]) => Promise<unknown>) => Promise<void>, role?: string): Promise<Error | undefined> {
  const client = await db.pool.connect();
  try {
    await client.query('begin');
    if (role !== undefined) await client.query(`set local role ${role}`);
    await work((sql, params) => client.query(sql, params));
    await client.query('commit');
    return undefined;
  } catch (error) {
    await client.query('rollback').catch(() => {});
    return error as Error;
  } finally {
    client.release();
  }
}

async function entry(kind = 'transfer'): Promise<{ id: number; postings: (rows: [number, string, 'D' | 'C', number][]) => Promise<Error | undefined> }> {
  let id = 0;
  return {
    get id() {
      return id;
    },
    postings: (rows) =>
      inTransaction(async (query) => {
        const inserted = (await query(`insert into journal_entries (kind, reference) values ($1, 'test') returning id`, [kind])) as { rows: { id: string }[] };
        id = Number(inserted.rows[0]!.id);
        for (const [account, currency, direction, amount] of rows) {
          await query('insert into postings (entry_id, account_id, currency, direction, amount) values ($1, $2, $3, $4, $5)', [id, account, currency, direction, amount]);
        }
      }),
  };
}

async function count(table: string): Promise<number> {
  const { rows } = await db.pool.query<{ n: string }>(`select count(*) as n from ${table}`);
  return Number(rows[0]!.n);
}

describe('migrations', () => {
  it('are applied once: a second run applies nothing', async () => {
    const report = await migrate(db.pool);
    expect(report.applied).toEqual([]);
    expect(report.alreadyApplied).toEqual(migrationsOnDisk().map((m) => m.name));
  });

  it('refuse to run when an applied migration has been edited (forward-only)', async () => {
    const [first] = migrationsOnDisk();
    const edited = { ...first!, sql: `${first!.sql}\n-- edited`, sha256: 'f'.repeat(64) };
    await expect(migrate(db.pool, [edited])).rejects.toThrow(MigrationError);
  });
});

describe('journal entries', () => {
  it('accept a balanced entry, per currency', async () => {
    const e = await entry();
    expect(await e.postings([[alpha, 'EUR', 'D', 1000], [beta, 'EUR', 'C', 1000], [alphaUsd, 'USD', 'D', 5], [alphaUsd, 'USD', 'C', 5]])).toBeUndefined();
  });

  it('refuse at commit an entry whose debits and credits differ, leaving nothing behind', async () => {
    const before = await count('postings');
    const error = await (await entry()).postings([[alpha, 'EUR', 'D', 1000], [beta, 'EUR', 'C', 999]]);
    expect(error?.message).toMatch(/unbalanced in EUR: debits 1000 <> credits 999/);
    expect(await count('postings')).toBe(before);
  });

  it('refuse an entry balanced in total but not per currency', async () => {
    const error = await (await entry()).postings([[alpha, 'EUR', 'D', 1000], [alphaUsd, 'USD', 'C', 1000]]);
    expect(error?.message).toMatch(/unbalanced/);
  });

  it('refuse an entry with a single posting', async () => {
    const error = await (await entry()).postings([[alpha, 'EUR', 'D', 1000]]);
    expect(error?.message).toMatch(/needs at least two/);
  });

  it('refuse a posting in another currency than its account', async () => {
    const error = await (await entry()).postings([[alpha, 'USD', 'D', 10], [beta, 'USD', 'C', 10]]);
    expect(error?.message).toMatch(/foreign key/);
  });

  it('refuse zero and negative amounts', async () => {
    expect((await (await entry()).postings([[alpha, 'EUR', 'D', 0], [beta, 'EUR', 'C', 0]]))?.message).toMatch(/check constraint/);
    expect((await (await entry()).postings([[alpha, 'EUR', 'D', -5], [beta, 'EUR', 'C', -5]]))?.message).toMatch(/check constraint/);
  });
});

describe('accounts', () => {
  it('cannot go below zero unless overdraft is allowed', async () => {
    const error = await inTransaction((query) => query('update accounts set balance = -1 where id = $1', [beta]).then(() => {}));
    expect(error?.message).toMatch(/check constraint/);
    expect(await inTransaction((query) => query('update accounts set balance = balance - 1 where id = $1', [alpha]).then(() => {}))).toBeUndefined();
  });
});

describe('append-only history', () => {
  // Row triggers only fire on rows: make sure there is history to protect.
  beforeAll(async () => {
    expect(await (await entry()).postings([[alpha, 'EUR', 'D', 7], [beta, 'EUR', 'C', 7]])).toBeUndefined();
  });

  const changes = { postings: 'set amount = amount + 1', journal_entries: `set reference = 'rewritten'` } as const;
  for (const table of ['postings', 'journal_entries'] as const) {
    for (const statement of [`update ${table} ${changes[table]}`, `delete from ${table}`, `truncate ${table} cascade`]) {
      it(`refuses "${statement}" to the application role (privileges)`, async () => {
        const error = await inTransaction((query) => query(statement).then(() => {}), 'isogw_app');
        expect(error?.message).toMatch(/permission denied|not allowed/);
      });

      it(`refuses "${statement}" to the owner and superusers too (triggers)`, async () => {
        const before = await count(table);
        const error = await inTransaction((query) => query(statement).then(() => {}));
        expect(error?.message).toMatch(/append-only/);
        expect(await count(table)).toBe(before);
      });
    }
  }

  it('lets the application role append entries and move balances, and nothing else on accounts', async () => {
    expect(await inTransaction((query) => query('update accounts set balance = balance + 0 where id = $1', [alpha]).then(() => {}), 'isogw_app')).toBeUndefined();
    const error = await inTransaction((query) => query(`update accounts set currency = 'USD' where id = $1`, [alpha]).then(() => {}), 'isogw_app');
    expect(error?.message).toMatch(/permission denied/);
  });
});

describe('isogw migrate', () => {
  it('applies nothing to an up-to-date database and says so, through the real command', async () => {
    const { execFileSync } = await import('node:child_process');
    const output = execFileSync(process.execPath, ['src/cli/main.ts', 'migrate'], { env: { ...process.env, DATABASE_URL: db.url }, encoding: 'utf8' });
    expect(output.trim().split('\n')).toEqual(migrationsOnDisk().map((m) => `already  ${m.name}`));
  });

  it('exits 2 with a one-line message when DATABASE_URL is missing', async () => {
    const { spawnSync } = await import('node:child_process');
    const env = { ...process.env };
    delete env.DATABASE_URL;
    const run = spawnSync(process.execPath, ['src/cli/main.ts', 'migrate'], { env, encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('DATABASE_URL is required');
  });
});
