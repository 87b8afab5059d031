/**
 * Property tests of the ledger on real PostgreSQL, through the real code (fundSettlementAccount, postEntry) and the
 * gateway's own connection settings (the isogw_app role, its timeouts):
 *
 * 1. any sequence of fundings (BIC8 and BIC11 spellings of the same bank, several currencies), account openings and
 *    transfers (one or two creditors, either line order, amounts from one minor unit to beyond what the debtor
 *    holds, exactly the balance, one unit more) leaves every balance where an independent bigint model says it must
 *    be, appends exactly one entry per successful operation and none for a refused one, and keeps every invariant of
 *    test/support/ledger-invariants.ts;
 * 2. any set of concurrent transfers over a few accounts, in random directions and line orders, finishes without a
 *    deadlock or lock error, loses and invents nothing (the sum over the accounts is unchanged, and each balance is
 *    its start plus exactly the transfers reported posted), and never overdraws.
 *
 * Each run starts from the state the previous runs left (entries are immutable, so a database cannot be reset):
 * the model starts from a snapshot of every balance, keyed by (BIC, kind, currency) and not by the code's ids.
 */
import fc from 'fast-check';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createDatabasePool } from '../../src/db/pool.ts';
import { fundSettlementAccount } from '../../src/ledger/fund.ts';
import { ensureSettlementAccount } from '../../src/ledger/accounts.ts';
import { type JournalEntryDraft, postEntry, type PostEntryResult } from '../../src/ledger/post-entry.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { expectLedgerConsistent } from '../support/ledger-invariants.ts';

let db: TestDatabase;
/** The gateway's own pool settings: role isogw_app, statement and lock timeouts. */
let app: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase();
  app = createDatabasePool({ url: db.url, role: 'isogw_app', poolConnectionsMax: 10 });
});

afterAll(async () => {
  await app?.end();
  await db?.close();
});

/** A small set of banks; DEUTDEFF and DEUTDEFFXXX (like ABNANL2A and ABNANL2AXXX) are one institution. */
const BICS = ['DEUTDEFF', 'DEUTDEFFXXX', 'COBADEFFXXX', 'ABNANL2A', 'ABNANL2AXXX', 'BNPAFRPPXXX'] as const;
const CURRENCIES = ['EUR', 'USD'] as const;

/** The model's own notion of "the same bank" (ISO 9362), written independently of normalizeBic. */
const institution = (bic: string): string => (bic.length === 8 ? `${bic}XXX` : bic);
const key = (bic: string, kind: string, currency: string): string => `${bic}|${kind}|${currency}`;

/** How much to move: a fixed amount, or one relative to what the debtor holds at that moment (resolved by the model). */
type AmountSpec = { readonly fixed: bigint } | { readonly balancePlus: bigint };

type Operation =
  | { readonly op: 'fund'; readonly bic: string; readonly currency: string; readonly amount: bigint }
  | { readonly op: 'open'; readonly bic: string; readonly currency: string }
  | {
      readonly op: 'transfer';
      readonly currency: string;
      readonly from: number;
      readonly to: readonly number[];
      readonly amount: AmountSpec;
      /** Split of the amount over two creditors (ignored with one). */
      readonly split: number;
      readonly creditorFirst: boolean;
    };

const amountArb: fc.Arbitrary<AmountSpec> = fc.oneof(
  fc.record({ fixed: fc.bigInt({ min: 1n, max: 1_000n }) }),
  fc.record({ fixed: fc.bigInt({ min: 1n, max: 100_000_000_00n }) }),
  // exactly the balance (drains it to zero), or one minor unit more (refused, AM04)
  fc.record({ balancePlus: fc.constantFrom(0n, 1n) }),
);

const operationArb: fc.Arbitrary<Operation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('fund' as const), bic: fc.constantFrom(...BICS), currency: fc.constantFrom(...CURRENCIES), amount: fc.bigInt({ min: 1n, max: 10_000_000_00n }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('open' as const), bic: fc.constantFrom(...BICS), currency: fc.constantFrom(...CURRENCIES) }) },
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('transfer' as const),
      currency: fc.constantFrom(...CURRENCIES),
      from: fc.nat(10),
      to: fc.array(fc.nat(10), { minLength: 1, maxLength: 2 }),
      amount: amountArb,
      split: fc.double({ min: 0, max: 1, noNaN: true }),
      creditorFirst: fc.boolean(),
    }),
  },
);

async function inTransaction(pool: pg.Pool, entry: JournalEntryDraft): Promise<PostEntryResult> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const result = await postEntry(client, entry);
    await client.query(result.kind === 'posted' ? 'commit' : 'rollback');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

interface AccountRow {
  readonly id: bigint;
  readonly balance: bigint;
}

/** Every account, keyed by (participant BIC or '', kind, currency). */
async function accountsByKey(pool: pg.Pool): Promise<Map<string, AccountRow>> {
  const { rows } = await pool.query<{ id: string; bic: string | null; kind: string; currency: string; balance: string }>(
    `select a.id, p.bic, a.kind, a.currency, a.balance from accounts a left join participants p on p.id = a.participant_id`,
  );
  return new Map(rows.map((row) => [key(row.bic ?? '', row.kind, row.currency), { id: BigInt(row.id), balance: BigInt(row.balance) }]));
}

async function counts(pool: pg.Pool): Promise<{ entries: number; postings: number }> {
  const { rows } = await pool.query<{ entries: number; postings: number }>(
    'select (select count(*)::int from journal_entries) as entries, (select count(*)::int from postings) as postings',
  );
  return rows[0]!;
}

describe('ledger properties', () => {
  it('any sequence of fundings and transfers ends where an independent bigint model says, every invariant intact', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(operationArb, { minLength: 1, maxLength: 30 }), async (operations) => {
        const before = await accountsByKey(db.pool);
        const countsBefore = await counts(db.pool);
        /** Expected balance per account key; absent = what the snapshot says (or 0 for a new account). */
        const model = new Map<string, bigint>([...before].map(([k, row]) => [k, row.balance]));
        const idOf = new Map<string, bigint>([...before].map(([k, row]) => [k, row.id]));
        const balance = (k: string): bigint => model.get(k) ?? 0n;
        let entries = 0;
        let postings = 0;

        for (const operation of operations) {
          if (operation.op === 'fund') {
            const bic = institution(operation.bic);
            const settlement = key(bic, 'settlement', operation.currency);
            const result = await fundSettlementAccount(app, { bic: operation.bic, name: `Bank ${bic}`, currency: operation.currency, amount: operation.amount, reference: 'property funding' });
            const known = idOf.get(settlement);
            if (known === undefined) {
              // A new account: never one the model already knows under another key.
              expect([...idOf.values()]).not.toContain(result.accountId);
              idOf.set(settlement, result.accountId);
            } else {
              expect(result.accountId, `${operation.bic} reaches ${settlement}`).toBe(known);
            }
            model.set(settlement, balance(settlement) + operation.amount);
            model.set(key('', 'funding', operation.currency), balance(key('', 'funding', operation.currency)) - operation.amount);
            expect(result.balance).toBe(model.get(settlement));
            entries += 1;
            postings += 2;
          } else if (operation.op === 'open') {
            const bic = institution(operation.bic);
            const settlement = key(bic, 'settlement', operation.currency);
            const client = await app.connect();
            try {
              const account = await ensureSettlementAccount(client, { bic: operation.bic, name: `Bank ${bic}` }, operation.currency);
              if (idOf.has(settlement)) expect(account.accountId).toBe(idOf.get(settlement));
              idOf.set(settlement, account.accountId);
            } finally {
              client.release();
            }
            model.set(settlement, balance(settlement));
          } else {
            // Transfers run between the settlement accounts the model knows in that currency (sorted by key).
            const accounts = [...idOf.keys()].filter((k) => k.endsWith(`|settlement|${operation.currency}`)).sort();
            if (accounts.length === 0) continue;
            const debtor = accounts[operation.from % accounts.length]!;
            const creditors = operation.to.map((index) => accounts[index % accounts.length]!);
            const amount = 'fixed' in operation.amount ? operation.amount.fixed : balance(debtor) + operation.amount.balancePlus;
            if (amount <= 0n) continue; // "exactly the balance" of an empty account: nothing to move
            const parts =
              creditors.length === 1 || amount < 2n
                ? [amount]
                : (() => {
                    const first = BigInt(Math.floor(Number(amount) * operation.split));
                    const clamped = first < 1n ? 1n : first >= amount ? amount - 1n : first;
                    return [clamped, amount - clamped];
                  })();
            const credit = parts.map((part, i) => ({ accountId: idOf.get(creditors[i]!)!, currency: operation.currency, direction: 'C' as const, amount: part }));
            const debit = { accountId: idOf.get(debtor)!, currency: operation.currency, direction: 'D' as const, amount };
            const lines = operation.creditorFirst ? [...credit, debit] : [debit, ...credit];
            const result = await inTransaction(app, { kind: 'transfer', reference: 'property transfer', lines });

            // The model: net change per account; refused when the debtor (the only account debited) would go below zero.
            const net = new Map<string, bigint>();
            net.set(debtor, -amount);
            parts.forEach((part, i) => net.set(creditors[i]!, (net.get(creditors[i]!) ?? 0n) + part));
            const after = balance(debtor) + net.get(debtor)!;
            if (after < 0n) {
              expect(result).toEqual({ kind: 'insufficient_funds', accountId: idOf.get(debtor), available: balance(debtor), needed: -net.get(debtor)! });
            } else {
              expect(result.kind, `${debtor} holds ${balance(debtor)}, moving ${amount}`).toBe('posted');
              for (const [k, delta] of net) model.set(k, balance(k) + delta);
              entries += 1;
              postings += lines.length;
            }
          }
        }

        const actual = await accountsByKey(db.pool);
        const expected = new Map([...actual.keys()].map((k) => [k, balance(k)]));
        expect(new Map([...actual].map(([k, row]) => [k, row.balance]))).toEqual(expected);
        // every key the model knows exists in the database (nothing lost)
        for (const k of model.keys()) expect(actual.has(k), `account ${k}`).toBe(true);
        expect(await counts(db.pool)).toEqual({ entries: countsBefore.entries + entries, postings: countsBefore.postings + postings });
        await expectLedgerConsistent(db.pool);
      }),
      { numRuns: 40 },
    );
  });

  let bank = 0;
  /** A fresh BIC8 per account: QAAAAAFF, QAAAABFF, ... (letters only, so it is a valid BIC). */
  const freshBic = (): string => {
    let n = (bank += 1);
    let letters = '';
    for (let i = 0; i < 5; i += 1) {
      letters = String.fromCharCode(65 + (n % 26)) + letters;
      n = Math.floor(n / 26);
    }
    return `Q${letters}FF`;
  };

  it('concurrent transfers over a few hot accounts neither deadlock nor lose, invent or overdraw a cent', async () => {
    const transferArb = fc.record({ from: fc.nat(3), to: fc.nat(3), amount: fc.bigInt({ min: 1n, max: 300n }), creditorFirst: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.bigInt({ min: 0n, max: 600n }), { minLength: 2, maxLength: 4 }),
        fc.array(transferArb, { minLength: 8, maxLength: 40 }),
        async (funding, transfers) => {
          const accounts: bigint[] = [];
          for (const amount of funding) {
            const bic = freshBic();
            if (amount > 0n) {
              accounts.push((await fundSettlementAccount(app, { bic, name: bic, currency: 'EUR', amount, reference: 'hot account' })).accountId);
            } else {
              const client = await app.connect();
              try {
                accounts.push((await ensureSettlementAccount(client, { bic, name: bic }, 'EUR')).accountId);
              } finally {
                client.release();
              }
            }
          }
          const drafts = transfers.map((t, i): JournalEntryDraft => {
            const from = accounts[t.from % accounts.length]!;
            const to = accounts[t.to % accounts.length]!;
            const lines = [
              { accountId: from, currency: 'EUR', direction: 'D' as const, amount: t.amount },
              { accountId: to, currency: 'EUR', direction: 'C' as const, amount: t.amount },
            ];
            return { kind: 'transfer', reference: `concurrent ${i}`, lines: t.creditorFirst ? lines.reverse() : lines };
          });
          const entriesBefore = (await counts(db.pool)).entries;

          // All at once, each in its own transaction on its own connection; any deadlock or lock timeout rejects.
          const settled = await Promise.allSettled(drafts.map((draft) => inTransaction(app, draft)));
          const failures = settled.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason));
          expect(failures, 'no transfer may fail with an error (deadlock, lock timeout)').toEqual([]);
          const results = settled.map((s) => (s as PromiseFulfilledResult<PostEntryResult>).value);

          const expected = new Map(accounts.map((id, i) => [id, funding[i]!]));
          results.forEach((result, i) => {
            if (result.kind !== 'posted') {
              expect(result.available, 'a refusal names a shortfall').toBeLessThan(result.needed);
              return;
            }
            const draft = drafts[i]!;
            for (const line of draft.lines) expected.set(line.accountId, expected.get(line.accountId)! + (line.direction === 'C' ? line.amount : -line.amount));
          });
          const { rows } = await db.pool.query<{ id: string; balance: string }>('select id, balance from accounts where id = any($1::bigint[])', [accounts.map(String)]);
          const actual = new Map(rows.map((row) => [BigInt(row.id), BigInt(row.balance)]));
          expect(actual).toEqual(expected);
          expect([...actual.values()].reduce((a, b) => a + b, 0n)).toBe(funding.reduce((a, b) => a + b, 0n));
          for (const value of actual.values()) expect(value).toBeGreaterThanOrEqual(0n);
          expect((await counts(db.pool)).entries - entriesBefore).toBe(results.filter((r) => r.kind === 'posted').length);
          await expectLedgerConsistent(db.pool);
        },
      ),
      { numRuns: 15 },
    );
  });
});
