/**
 * postEntry on real PostgreSQL: money moves exactly once and in balance, an insufficient balance changes nothing
 * (AM04), and many concurrent entries over one hot account in every line order neither deadlock nor lose a cent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type JournalEntryDraft, postEntry, type PostEntryResult } from '../../src/ledger/post-entry.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let db: TestDatabase;
let suspense: bigint;
let alpha: bigint;
let beta: bigint;
let gamma: bigint;

beforeAll(async () => {
  db = await createTestDatabase();
  const p = await db.pool.query<{ id: string }>(
    `insert into participants (bic, name) values ('DEUTDEFFXXX', 'Alpha'), ('COBADEFFXXX', 'Beta'), ('ABNANL2AXXX', 'Gamma') returning id`,
  );
  const [a, b, c] = p.rows.map((row) => row.id);
  const accounts = await db.pool.query<{ id: string }>(
    `insert into accounts (participant_id, kind, currency, overdraft_allowed) values
       (null, 'suspense', 'EUR', true), ($1, 'settlement', 'EUR', false), ($2, 'settlement', 'EUR', false), ($3, 'settlement', 'EUR', false)
     returning id`,
    [a, b, c],
  );
  [suspense, alpha, beta, gamma] = accounts.rows.map((row) => BigInt(row.id)) as [bigint, bigint, bigint, bigint];
});

afterAll(async () => {
  await db?.close();
});

async function post(entry: JournalEntryDraft): Promise<PostEntryResult> {
  const client = await db.pool.connect();
  try {
    await client.query('begin');
    const result = await postEntry(client, entry);
    await client.query(result.kind === 'posted' ? 'commit' : 'rollback');
    return result;
  } catch (error) {
    await client.query('rollback');
    throw error;
  } finally {
    client.release();
  }
}

const transfer = (from: bigint, to: bigint, amount: bigint, reference = 'test'): JournalEntryDraft => ({
  kind: 'transfer',
  reference,
  lines: [
    { accountId: from, currency: 'EUR', direction: 'D', amount },
    { accountId: to, currency: 'EUR', direction: 'C', amount },
  ],
});

async function balances(): Promise<Map<bigint, bigint>> {
  const { rows } = await db.pool.query<{ id: string; balance: string }>('select id, balance from accounts');
  return new Map(rows.map((row) => [BigInt(row.id), BigInt(row.balance)]));
}

/** Every account's balance equals the sum of its postings, and every currency sums to zero. */
async function expectLedgerConsistent(): Promise<void> {
  const { rows } = await db.pool.query<{ id: string; balance: string; from_postings: string }>(
    `select a.id, a.balance, coalesce(sum(case p.direction when 'C' then p.amount else -p.amount end), 0) as from_postings
       from accounts a left join postings p on p.account_id = a.id group by a.id`,
  );
  for (const row of rows) expect(BigInt(row.balance), `account ${row.id}`).toBe(BigInt(row.from_postings));
  const total = await db.pool.query<{ currency: string; total: string }>('select currency, sum(balance) as total from accounts group by currency');
  for (const row of total.rows) expect(BigInt(row.total), row.currency).toBe(0n);
}

describe('postEntry', () => {
  it('moves exactly the amount from debtor to creditor, in bigint minor units', async () => {
    expect((await post({ ...transfer(suspense, alpha, 1_000_000_00n), kind: 'funding' })).kind).toBe('posted');
    const before = await balances();
    expect((await post(transfer(alpha, beta, 4_873_265n))).kind).toBe('posted');
    const after = await balances();
    expect(after.get(alpha)! - before.get(alpha)!).toBe(-4_873_265n);
    expect(after.get(beta)! - before.get(beta)!).toBe(4_873_265n);
    await expectLedgerConsistent();
  });

  it('refuses with insufficient_funds (AM04) and changes nothing when the debtor cannot cover it', async () => {
    const before = await balances();
    const entries = await db.pool.query('select count(*) from journal_entries');
    const result = await post(transfer(gamma, beta, 1n));
    expect(result).toMatchObject({ kind: 'insufficient_funds', accountId: gamma, available: 0n, needed: 1n });
    expect(await balances()).toEqual(before);
    expect((await db.pool.query('select count(*) from journal_entries')).rows).toEqual(entries.rows);
  });

  it('treats an unbalanced or one-line draft as a programmer error, before touching the database', async () => {
    await expect(post({ kind: 'transfer', reference: 'bad', lines: [{ accountId: alpha, currency: 'EUR', direction: 'D', amount: 5n }, { accountId: beta, currency: 'EUR', direction: 'C', amount: 4n }] })).rejects.toThrow(/unbalanced/);
    await expect(post({ kind: 'transfer', reference: 'bad', lines: [{ accountId: alpha, currency: 'EUR', direction: 'D', amount: 5n }] })).rejects.toThrow(/2\.\.64 lines/);
    await expectLedgerConsistent();
  });

  it('serialises 60 concurrent entries over one hot account, in both line orders, without deadlock or loss', async () => {
    await post({ ...transfer(suspense, alpha, 600_00n), kind: 'funding' });
    const before = await balances();
    const drafts = Array.from({ length: 60 }, (_, i) => {
      const draft = transfer(alpha, i % 2 === 0 ? beta : gamma, 1_00n, `hot-${i}`);
      // Half the drafts list the creditor first: locking by id, not by line order, keeps them deadlock-free.
      return i % 3 === 0 ? { ...draft, lines: [...draft.lines].reverse() } : draft;
    });
    const results = await Promise.all(drafts.map((draft) => post(draft)));
    expect(results.every((result) => result.kind === 'posted')).toBe(true);
    const after = await balances();
    expect(after.get(alpha)! - before.get(alpha)!).toBe(-60_00n);
    expect(after.get(beta)! - before.get(beta)!).toBe(30_00n);
    expect(after.get(gamma)! - before.get(gamma)!).toBe(30_00n);
    await expectLedgerConsistent();
  });

  it('lets exactly as many concurrent debits through as the balance covers, never overdrawing', async () => {
    const start = (await balances()).get(gamma)!; // gamma holds 30_00 from the previous test
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => post(transfer(gamma, beta, 1_00n, `drain-${i}`))));
    const posted = results.filter((result) => result.kind === 'posted').length;
    expect(BigInt(posted) * 1_00n).toBe(start);
    expect(results.filter((result) => result.kind === 'insufficient_funds')).toHaveLength(40 - posted);
    expect((await balances()).get(gamma)).toBe(0n);
    await expectLedgerConsistent();
  });
});
