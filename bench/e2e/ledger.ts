/**
 * The bench's own database: created fresh (`bench_<random>`), migrated with the real migrations, the bench banks
 * funded through the ledger's own funding path, dropped at the end. Plus what the harness asks of the ledger
 * directly, as its owner: seeding an account with many postings for the balance-read test, and the checks that
 * close a run (every accepted message booked, every balance equal to the sum of its postings, every entry balanced).
 */
import { randomUUID } from 'node:crypto';

import pg from 'pg';

import { migrate } from '../../src/db/migrate.ts';
import { ensureSettlementAccount, gatewayAccount } from '../../src/ledger/accounts.ts';
import { fundSettlementAccount } from '../../src/ledger/fund.ts';

/** Each debtor bank is funded with this much (minor units of EUR): enough for hours of load. */
export const DEBTOR_FUNDING_MINOR = 10n ** 15n;
export const BENCH_CURRENCY = 'EUR';
/** MsgIds per statement when loading them for the check that accepted messages are in the database. */
const CHECK_BATCH_IDS = 5_000;
const DROP_ATTEMPTS = 50;
const DROP_RETRY_DELAY_MS = 200;

export interface BenchDatabase {
  readonly name: string;
  readonly url: string;
  /** Connects as the owner (the login user): set-up, seeding and checks, never the measured path. */
  readonly owner: pg.Pool;
  close(): Promise<void>;
}

export async function createBenchDatabase(serverUrl: string): Promise<BenchDatabase> {
  const name = `bench_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name} template template0`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const owner = new pg.Pool({ connectionString: url.href, max: 4 });
  await migrate(owner);
  return {
    name,
    url: url.href,
    owner,
    close: async () => {
      await owner.end();
      await dropDatabase(serverUrl, name);
    },
  };
}

/** Without FORCE first: the gateway's pool may need a moment to let its backends go; FORCE is the last resort. */
async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  const dropper = new pg.Client({ connectionString: serverUrl });
  await dropper.connect();
  try {
    for (let attempt = 1; attempt <= DROP_ATTEMPTS; attempt += 1) {
      try {
        await dropper.query(`drop database if exists ${name}`);
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== '55006') throw error;
        await new Promise((resolve) => setTimeout(resolve, DROP_RETRY_DELAY_MS));
      }
    }
    await dropper.query(`drop database if exists ${name} with (force)`);
  } finally {
    await dropper.end();
  }
}

/** Debtor banks funded, creditor banks and the reader's two accounts opened (empty), the gateway's accounts made. */
export async function openAccounts(
  db: BenchDatabase,
  participants: { debtors: readonly { bic: string; name: string }[]; creditorBics: readonly string[]; readerBics: readonly string[] },
): Promise<{ readerAccounts: Record<string, bigint> }> {
  for (const debtor of participants.debtors) {
    await fundSettlementAccount(db.owner, { bic: debtor.bic, name: debtor.name, currency: BENCH_CURRENCY, amount: DEBTOR_FUNDING_MINOR, reference: 'bench funding' });
  }
  const client = await db.owner.connect();
  const readerAccounts: Record<string, bigint> = {};
  try {
    for (const bic of participants.creditorBics) await ensureSettlementAccount(client, { bic, name: `Bench creditor ${bic.slice(2, 4)}` }, BENCH_CURRENCY);
    for (const bic of participants.readerBics) readerAccounts[bic] = (await ensureSettlementAccount(client, { bic, name: `Bench reader ${bic}` }, BENCH_CURRENCY)).accountId;
    // Made now, not by the first onward payment under load (gatewayAccount creates on first use).
    await gatewayAccount(client, 'suspense', BENCH_CURRENCY);
  } finally {
    client.release();
  }
  return { readerAccounts };
}

/**
 * Gives `accountId` `count` more postings, fast: one INSERT … SELECT over generate_series, as the owner. Each entry
 * credits the account 1 minor unit and debits the gateway's funding account (overdraft allowed), and both balance
 * columns move by the total in the same transaction. The per-row deferred check (postings_balanced) is skipped for
 * this session (session_replication_role = replica: it would run 2 × count times at commit); instead the seeded
 * entries are checked set-based right after, and `ledgerConsistency` checks every account at the end of the run.
 */
export async function seedPostings(db: BenchDatabase, accountId: bigint, count: number): Promise<{ seconds: number }> {
  const started = Date.now();
  const reference = `bench read-side seed ${accountId}`;
  const client = await db.owner.connect();
  try {
    await client.query('begin');
    await client.query('set local session_replication_role = replica');
    const funding = await gatewayAccount(client, 'funding', BENCH_CURRENCY);
    await client.query(
      `with entries as (
         insert into journal_entries (kind, reference) select 'funding', $3 from generate_series(1, $4::integer) returning id
       )
       insert into postings (entry_id, account_id, currency, direction, amount)
       select id, $1::bigint, $5, 'C', 1 from entries
       union all
       select id, $2::bigint, $5, 'D', 1 from entries`,
      [accountId.toString(), funding.toString(), reference, count, BENCH_CURRENCY],
    );
    await client.query('update accounts set balance = balance + $2 where id = $1', [accountId.toString(), count]);
    await client.query('update accounts set balance = balance - $2 where id = $1', [funding.toString(), count]);
    const unbalanced = await client.query<{ n: string }>(
      `select count(*) as n from (
         select p.entry_id from postings p join journal_entries j on j.id = p.entry_id
          where j.reference = $1
          group by p.entry_id
         having count(*) < 2 or sum(case when p.direction = 'D' then p.amount else -p.amount end) <> 0) bad`,
      [reference],
    );
    if (unbalanced.rows[0]?.n !== '0') throw new Error(`seeding ${accountId}: ${unbalanced.rows[0]?.n} unbalanced entries`);
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
  await db.owner.query('analyze accounts, postings, journal_entries');
  return { seconds: (Date.now() - started) / 1000 };
}

export async function postingsOf(db: BenchDatabase, accountId: bigint): Promise<number> {
  const { rows } = await db.owner.query<{ n: string }>('select count(*) as n from postings where account_id = $1', [accountId.toString()]);
  return Number(rows[0]?.n ?? 0);
}

export interface BookingCheck {
  /** Accepted answers the load generator saw. */
  readonly acceptedMessages: number;
  /** Of those, found in `messages` with their answer stored. */
  readonly foundMessages: number;
  /** Payments of the found messages, and how many transactions the accepted messages carried. */
  readonly foundPayments: number;
  readonly expectedPayments: number;
  /** Payments of the found messages by status (ACSC settled on us, ACSP held for the onward leg). */
  readonly paymentStatuses: Record<string, number>;
  /** Every message in the database (more than accepted: requests in flight when a phase ended also commit). */
  readonly messagesInDatabase: number;
  readonly ok: boolean;
}

export async function checkBookings(db: BenchDatabase, msgIds: readonly string[], expectedPayments: number): Promise<BookingCheck> {
  // messages is unique on (instructing agent, MsgId), not on MsgId alone: the ids go into a temporary table and the
  // check is one hash join, not a scan of messages per batch.
  const client = await db.owner.connect();
  try {
    await client.query('create temporary table accepted_msg_ids (msg_id text primary key) on commit preserve rows');
    for (let i = 0; i < msgIds.length; i += CHECK_BATCH_IDS) {
      await client.query('insert into accepted_msg_ids select unnest($1::text[]) on conflict do nothing', [msgIds.slice(i, i + CHECK_BATCH_IDS)]);
    }
    const messages = await client.query<{ n: string }>(
      'select count(*) as n from accepted_msg_ids a join messages m on m.msg_id = a.msg_id where m.response_status = 200',
    );
    const payments = await client.query<{ status: string; n: string }>(
      'select p.status, count(*) as n from accepted_msg_ids a join messages m on m.msg_id = a.msg_id join payments p on p.message_id = m.id group by p.status',
    );
    const total = await client.query<{ n: string }>('select count(*) as n from messages');
    await client.query('drop table accepted_msg_ids');
    const statuses: Record<string, number> = {};
    let foundPayments = 0;
    for (const row of payments.rows) {
      statuses[row.status] = Number(row.n);
      foundPayments += Number(row.n);
    }
    const foundMessages = Number(messages.rows[0]?.n ?? 0);
    const settledOrHeld = (statuses.ACSC ?? 0) + (statuses.ACSP ?? 0);
    return {
      acceptedMessages: msgIds.length,
      foundMessages,
      foundPayments,
      expectedPayments,
      paymentStatuses: statuses,
      messagesInDatabase: Number(total.rows[0]?.n ?? 0),
      ok: foundMessages === msgIds.length && foundPayments === expectedPayments && settledOrHeld === foundPayments,
    };
  } finally {
    client.release();
  }
}

export interface LedgerConsistency {
  readonly accounts: number;
  /** Accounts whose balance column differs from the sum of their postings. */
  readonly balanceMismatches: number;
  /** Entries with fewer than two postings or debits ≠ credits. */
  readonly unbalancedEntries: number;
  readonly postings: number;
  readonly ok: boolean;
}

export async function ledgerConsistency(db: BenchDatabase): Promise<LedgerConsistency> {
  const accounts = await db.owner.query<{ accounts: string; mismatches: string }>(
    `select count(*) as accounts, count(*) filter (where a.balance <> coalesce(s.sum, 0)) as mismatches
       from accounts a
       left join (select account_id, sum(case when direction = 'C' then amount else -amount end) as sum from postings group by account_id) s
         on s.account_id = a.id`,
  );
  const entries = await db.owner.query<{ n: string }>(
    `select count(*) as n from (
       select entry_id from postings group by entry_id
       having count(*) < 2 or sum(case when direction = 'D' then amount else -amount end) <> 0) bad`,
  );
  const postings = await db.owner.query<{ n: string }>('select count(*) as n from postings');
  const mismatches = Number(accounts.rows[0]?.mismatches ?? 0);
  const unbalanced = Number(entries.rows[0]?.n ?? 0);
  return {
    accounts: Number(accounts.rows[0]?.accounts ?? 0),
    balanceMismatches: mismatches,
    unbalancedEntries: unbalanced,
    postings: Number(postings.rows[0]?.n ?? 0),
    ok: mismatches === 0 && unbalanced === 0,
  };
}

/** Some UETRs of payments `bic` sent, for the payment-read phase. */
export async function sampleUetrs(db: BenchDatabase, bic: string, count: number): Promise<string[]> {
  const { rows } = await db.owner.query<{ uetr: string }>('select uetr from payments where instructing_agent = $1 order by id desc limit $2', [bic, count]);
  return rows.map((row) => row.uetr);
}
