/**
 * Funding on real PostgreSQL: the participant and its account appear on first use, balances are exact bigint minor
 * units, the funding account mirrors every credit, each currency sums to zero, BIC8 and BIC11 are one participant —
 * and the same through the real `isogw ledger` executable, whose refusals are one clear line and exit status 2.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { minorUnitsOf } from '../../src/cli/ledger.ts';
import { fundSettlementAccount, FundingError } from '../../src/ledger/fund.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.close();
});

async function accountRow(id: bigint) {
  const { rows } = await db.pool.query<{ bic: string | null; kind: string; currency: string; balance: string }>(
    'select p.bic, a.kind, a.currency, a.balance from accounts a left join participants p on p.id = a.participant_id where a.id = $1',
    [id.toString()],
  );
  return rows[0];
}

async function fundingBalance(currency: string): Promise<bigint> {
  const { rows } = await db.pool.query<{ balance: string }>(`select balance from accounts where participant_id is null and kind = 'funding' and currency = $1`, [currency]);
  return BigInt(rows[0]?.balance ?? '0');
}

/** Every currency's balances sum to zero, and every balance column equals the sum of its postings. */
async function expectLedgerConsistent(): Promise<void> {
  const totals = await db.pool.query<{ currency: string; total: string }>('select currency, sum(balance) as total from accounts group by currency');
  expect(totals.rows.length).toBeGreaterThan(0);
  for (const row of totals.rows) expect(BigInt(row.total), row.currency).toBe(0n);
  const mismatches = await db.pool.query(
    `select a.id from accounts a left join postings p on p.account_id = a.id group by a.id
     having a.balance <> coalesce(sum(case p.direction when 'C' then p.amount else -p.amount end), 0)`,
  );
  expect(mismatches.rows).toEqual([]);
}

describe('fundSettlementAccount', () => {
  it('creates the participant and its settlement account, credits it and debits the funding account by the same amount', async () => {
    const funded = await fundSettlementAccount(db.pool, { bic: 'DEUTDEFFXXX', name: 'Alpha Bank AG', currency: 'EUR', amount: 1_000_000_00n, reference: 'seed alpha' });
    expect(funded.balance).toBe(1_000_000_00n);
    expect(await accountRow(funded.accountId)).toEqual({ bic: 'DEUTDEFFXXX', kind: 'settlement', currency: 'EUR', balance: '100000000' });
    expect(await fundingBalance('EUR')).toBe(-1_000_000_00n);

    const entry = await db.pool.query<{ kind: string; reference: string }>('select kind, reference from journal_entries where id = $1', [funded.entryId.toString()]);
    expect(entry.rows).toEqual([{ kind: 'funding', reference: 'seed alpha' }]);
    const postings = await db.pool.query<{ account_id: string; direction: string; amount: string }>(
      'select account_id, direction, amount from postings where entry_id = $1 order by direction',
      [funded.entryId.toString()],
    );
    expect(postings.rows.map((p) => [p.direction, p.amount])).toEqual([['C', '100000000'], ['D', '100000000']]);
    expect(postings.rows[0]?.account_id).toBe(funded.accountId.toString());
    await expectLedgerConsistent();
  });

  it('adds exactly, beyond what a double could hold, and BIC8 reaches the BIC11 participant and account', async () => {
    const before = await fundSettlementAccount(db.pool, { bic: 'COBADEFFXXX', name: 'Beta Bank AG', currency: 'EUR', amount: 9_007_199_254_740_993n, reference: 'big' });
    const again = await fundSettlementAccount(db.pool, { bic: 'cobadeff', name: 'ignored: the participant exists', currency: 'EUR', amount: 1n, reference: 'one cent' });
    expect(again.accountId).toBe(before.accountId);
    expect(again.balance).toBe(9_007_199_254_740_994n);
    const participants = await db.pool.query<{ bic: string; name: string }>(`select bic, name from participants where bic like 'COBADEFF%'`);
    expect(participants.rows).toEqual([{ bic: 'COBADEFFXXX', name: 'Beta Bank AG' }]);
    expect(await fundingBalance('EUR')).toBe(-(1_000_000_00n + 9_007_199_254_740_994n));
    await expectLedgerConsistent();
  });

  it('keeps one funding account and one settlement account per currency', async () => {
    const yen = await fundSettlementAccount(db.pool, { bic: 'DEUTDEFF', name: 'Alpha Bank AG', currency: 'JPY', amount: 5_000n, reference: 'yen' });
    const euro = await db.pool.query<{ id: string }>(`select a.id from accounts a join participants p on p.id = a.participant_id where p.bic = 'DEUTDEFFXXX' and a.currency = 'EUR'`);
    expect(yen.accountId.toString()).not.toBe(euro.rows[0]?.id);
    expect(await fundingBalance('JPY')).toBe(-5_000n);
    expect(await fundingBalance('EUR')).toBe(-(1_000_000_00n + 9_007_199_254_740_994n));
    const counts = await db.pool.query<{ kind: string; currency: string; n: string }>(
      `select kind, currency, count(*) as n from accounts where participant_id is null group by kind, currency order by currency`,
    );
    expect(counts.rows).toEqual([{ kind: 'funding', currency: 'EUR', n: '1' }, { kind: 'funding', currency: 'JPY', n: '1' }]);
    await expectLedgerConsistent();
  });

  it('refuses a zero or negative amount, an unknown currency and a malformed BIC, writing nothing', async () => {
    const entries = async () => (await db.pool.query<{ n: string }>('select count(*) as n from journal_entries')).rows[0]?.n;
    const before = await entries();
    const base = { bic: 'DEUTDEFFXXX', name: 'Alpha', currency: 'EUR', amount: 100n, reference: 'bad' };
    await expect(fundSettlementAccount(db.pool, { ...base, amount: 0n })).rejects.toThrow(FundingError);
    await expect(fundSettlementAccount(db.pool, { ...base, amount: -5n })).rejects.toThrow(/more than zero/);
    await expect(fundSettlementAccount(db.pool, { ...base, currency: 'XAU' })).rejects.toThrow(/not an ISO 4217 currency/);
    await expect(fundSettlementAccount(db.pool, { ...base, bic: 'DEUT-DEFF' })).rejects.toThrow(/not a BIC/);
    expect(await entries()).toBe(before);
  });

  it('refuses a credit that would overflow the bigint balance, and rolls the whole funding back', async () => {
    const base = { bic: 'ABNANL2AXXX', name: 'Gamma Bank NV', currency: 'CHF', reference: 'overflow' };
    const first = await fundSettlementAccount(db.pool, { ...base, amount: 2n ** 63n - 1n });
    await expect(fundSettlementAccount(db.pool, { ...base, amount: 1n })).rejects.toThrow(/beyond 9223372036854775807 minor units/);
    expect((await accountRow(first.accountId))?.balance).toBe((2n ** 63n - 1n).toString());
    await expectLedgerConsistent();
  });
});

describe('minorUnitsOf (the CLI amount parser)', () => {
  it('reads exact decimal text in the currency’s minor unit', () => {
    expect(minorUnitsOf('1000000.00', 'EUR')).toBe(100_000_000n);
    expect(minorUnitsOf('1250.5', 'EUR')).toBe(125_050n);
    expect(minorUnitsOf('7', 'EUR')).toBe(700n);
    expect(minorUnitsOf('500', 'JPY')).toBe(500n);
    expect(minorUnitsOf('1.234', 'KWD')).toBe(1_234n);
    expect(minorUnitsOf('90071992547409.93', 'EUR')).toBe(9_007_199_254_740_993n);
  });

  it.each([
    ['1.005', 'EUR', /has 3 decimals; EUR has 2/],
    ['5.00', 'JPY', /has 2 decimals; JPY has none/],
    ['-1.00', 'EUR', /must be positive/],
    ['0.00', 'EUR', /more than zero/],
    ['1e6', 'EUR', /not a decimal number/],
    ['1,000.00', 'EUR', /not a decimal number/],
    ['', 'EUR', /not a decimal number/],
    ['NaN', 'EUR', /not a decimal number/],
    ['100000000000000000.00', 'EUR', /more than the ledger holds/],
    ['1.00', 'XTS', /not an ISO 4217 currency/],
  ])('refuses %j %s', (text, currency, message) => {
    expect(() => minorUnitsOf(text, currency)).toThrow(message);
  });
});

describe('isogw ledger (the real executable)', () => {
  const bin = fileURLToPath(new URL('../../bin/isogw.js', import.meta.url));
  const exec = (args: string[], env: NodeJS.ProcessEnv = { DATABASE_URL: db.url }) =>
    spawnSync(process.execPath, [bin, 'ledger', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });

  it('funds a new participant from exact decimal text and prints the new balance as decimal text', async () => {
    const result = exec(['fund', '--bic', 'INGBNL2A', '--currency', 'eur', '--amount', '1000000.00', '--name', 'ING Bank N.V.']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^funded INGBNL2AXXX with 1000000\.00 EUR: account \d+, entry \d+, balance 1000000\.00 EUR\n$/);
    const again = exec(['fund', '--bic', 'INGBNL2AXXX', '--currency', 'EUR', '--amount', '0.01']);
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/balance 1000000\.01 EUR\n$/);

    const { rows } = await db.pool.query<{ name: string; balance: string }>(
      `select p.name, a.balance from participants p join accounts a on a.participant_id = p.id where p.bic = 'INGBNL2AXXX'`,
    );
    expect(rows).toEqual([{ name: 'ING Bank N.V.', balance: '100000001' }]);
    await expectLedgerConsistent();
  });

  it('prints a participant’s balances, one line per account, and exits 1 when there is none', () => {
    const all = exec(['balance', '--bic', 'DEUTDEFF']);
    expect(all.status).toBe(0);
    expect(all.stdout.trim().split('\n').map((line) => line.replace(/\s+\(account \d+\)$/, ''))).toEqual([
      'DEUTDEFFXXX settlement EUR 1000000.00',
      'DEUTDEFFXXX settlement JPY 5000',
    ]);
    const euro = exec(['balance', '--bic', 'DEUTDEFFXXX', '--currency', 'EUR']);
    expect(euro.stdout).toMatch(/^DEUTDEFFXXX settlement EUR 1000000\.00 {2}\(account \d+\)\n$/);
    const none = exec(['balance', '--bic', 'DEUTDEFFXXX', '--currency', 'USD']);
    expect(none.status).toBe(1);
    expect(none.stderr).toBe('isogw ledger balance: DEUTDEFFXXX has no account in USD\n');
  });

  it.each([
    [['fund', '--bic', 'DEUTDEFFXXX', '--currency', 'EUR', '--amount', '1.001'], /--amount "1\.001" has 3 decimals; EUR has 2/],
    [['fund', '--bic', 'DEUTDEFFXXX', '--currency', 'EUR', '--amount', '-5'], /--amount must be positive/],
    [['fund', '--bic', 'DEUTDEFFXXX', '--currency', 'EUR', '--amount', '0'], /--amount must be more than zero/],
    [['fund', '--bic', 'DEUTDEFFXXX', '--currency', 'EUR', '--amount', 'lots'], /--amount "lots" is not a decimal number/],
    [['fund', '--bic', 'DEUTDEFFXXX', '--currency', 'EUX', '--amount', '1.00'], /--currency "EUX" is not an ISO 4217 currency/],
    [['fund', '--bic', 'DEUTDEFFXXX', '--amount', '1.00'], /needs --currency/],
    [['fund', '--bic', 'DEUTDEFFXXX', '--currency', 'EUR'], /needs --amount/],
    [['fund', '--bic', 'NOTABIC!', '--currency', 'EUR', '--amount', '1'], /--bic "NOTABIC!" is not a BIC/],
    [['fund', '--currency', 'EUR', '--amount', '1'], /--bic is required/],
    [['fund', '--bic', 'DEUTDEFFXXX', '--currency', 'EUR', '--amount', '1', '--colour', 'red'], /Unknown option '--colour'/],
    [['refund', '--bic', 'DEUTDEFFXXX'], /unknown ledger subcommand "refund"/],
    [['balance', '--bic', 'DEUTDEFFXXX', '--amount', '1'], /ledger balance takes no --amount/],
  ])('refuses %j with one line and exit status 2, changing nothing', async (args, message) => {
    const before = await db.pool.query<{ n: string }>('select count(*) as n from journal_entries');
    const result = exec(args);
    expect(result.status).toBe(2);
    expect(result.stderr.split('\n')[0]).toMatch(message);
    expect(result.stderr.split('\n')[0]).toMatch(/^isogw: /);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect((await db.pool.query<{ n: string }>('select count(*) as n from journal_entries')).rows).toEqual(before.rows);
  });

  it('needs DATABASE_URL (usage error), and reports an unreachable database with exit status 3', () => {
    const missing = exec(['fund', '--bic', 'DEUTDEFFXXX', '--currency', 'EUR', '--amount', '1'], {});
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^isogw: DATABASE_URL is required/);
    const unreachable = exec(['balance', '--bic', 'DEUTDEFFXXX'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere' });
    expect(unreachable.status).toBe(3);
    expect(unreachable.stderr).toMatch(/^isogw ledger balance: the database failed, nothing was changed: .*ECONNREFUSED/);
    expect(unreachable.stderr).not.toMatch(/\n\s+at /);
  });
});
