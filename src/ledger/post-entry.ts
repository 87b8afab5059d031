/**
 * Posting a journal entry: the one way money moves. Inside the caller's transaction it
 *   1. asserts the entry is well formed (≥ 2 lines, amounts > 0, debits = credits per currency) — a programmer
 *      error if not, so it throws; the database checks the same at commit as a second line of defence;
 *   2. locks every account it touches in ascending id order (`FOR NO KEY UPDATE`), so two entries over the same accounts
 *      queue instead of deadlocking, whatever order their lines are in;
 *   3. refuses, changing nothing, when an account without overdraft would drop below zero
 *      (ISO AM04, insufficient funds) — an operating result the caller turns into a rejection;
 *   4. appends the entry and its postings and moves the balance columns, all in the same transaction.
 */
import type { PoolClient } from 'pg';

export type Direction = 'D' | 'C';

export interface PostingLine {
  readonly accountId: bigint;
  readonly currency: string;
  readonly direction: Direction;
  /** Minor units, > 0. */
  readonly amount: bigint;
}

export interface JournalEntryDraft {
  readonly kind: 'transfer' | 'hold' | 'hold_post' | 'hold_void' | 'funding' | 'correction';
  readonly reference: string;
  readonly lines: readonly PostingLine[];
}

export type PostEntryResult =
  | { readonly kind: 'posted'; readonly entryId: bigint }
  | { readonly kind: 'insufficient_funds'; readonly accountId: bigint; readonly available: bigint; readonly needed: bigint };

/** An entry touching more accounts than this is refused as a programmer error (a pacs.008 touches 2–4). */
export const ENTRY_LINES_MAX = 64;

export async function postEntry(client: PoolClient, entry: JournalEntryDraft): Promise<PostEntryResult> {
  assertWellFormed(entry);
  const accountIds = [...new Set(entry.lines.map((line) => line.accountId))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const { rows } = await client.query<{ id: string; currency: string; balance: string; overdraft_allowed: boolean }>(
    'select id, currency, balance, overdraft_allowed from accounts where id = any($1::bigint[]) order by id for no key update',
    [accountIds.map(String)],
  );
  if (rows.length !== accountIds.length) throw new Error(`postEntry: unknown account among ${accountIds.join(', ')}`);

  const change = new Map<bigint, bigint>();
  for (const line of entry.lines) {
    const delta = line.direction === 'C' ? line.amount : -line.amount;
    change.set(line.accountId, (change.get(line.accountId) ?? 0n) + delta);
  }
  for (const row of rows) {
    const id = BigInt(row.id);
    const after = BigInt(row.balance) + (change.get(id) ?? 0n);
    if (!row.overdraft_allowed && after < 0n) {
      return { kind: 'insufficient_funds', accountId: id, available: BigInt(row.balance), needed: -(change.get(id) ?? 0n) };
    }
  }

  const inserted = await client.query<{ id: string }>('insert into journal_entries (kind, reference) values ($1, $2) returning id', [entry.kind, entry.reference]);
  const entryId = BigInt(inserted.rows[0]!.id);
  await client.query(
    `insert into postings (entry_id, account_id, currency, direction, amount)
     select $1, account_id, currency, direction, amount
       from unnest($2::bigint[], $3::char(3)[], $4::char(1)[], $5::bigint[]) as line(account_id, currency, direction, amount)`,
    [
      entryId.toString(),
      entry.lines.map((line) => line.accountId.toString()),
      entry.lines.map((line) => line.currency),
      entry.lines.map((line) => line.direction),
      entry.lines.map((line) => line.amount.toString()),
    ],
  );
  const ids = [...change.keys()];
  await client.query(
    `update accounts set balance = balance + delta.amount
       from unnest($1::bigint[], $2::bigint[]) as delta(id, amount) where accounts.id = delta.id`,
    [ids.map(String), ids.map((id) => change.get(id)!.toString())],
  );
  return { kind: 'posted', entryId };
}

/** Throws (a programmer error, message prefixed `postEntry:`) unless the entry is well formed; post-locked-entries.ts uses it too. */
export function assertWellFormed(entry: JournalEntryDraft): void {
  if (entry.lines.length < 2 || entry.lines.length > ENTRY_LINES_MAX) {
    throw new Error(`postEntry: an entry has 2..${ENTRY_LINES_MAX} lines, got ${entry.lines.length}`);
  }
  const net = new Map<string, bigint>();
  for (const line of entry.lines) {
    if (line.amount <= 0n) throw new Error(`postEntry: amounts must be > 0 (got ${line.amount})`);
    net.set(line.currency, (net.get(line.currency) ?? 0n) + (line.direction === 'C' ? line.amount : -line.amount));
  }
  for (const [currency, sum] of net) {
    if (sum !== 0n) throw new Error(`postEntry: entry ${entry.reference} is unbalanced in ${currency} by ${sum}`);
  }
}
