/**
 * Posting many journal entries over accounts the caller has already locked, in one round trip: the booking of a
 * pacs.008 locks every account of the message once, in id order, and then posts one entry per payment. Doing that
 * with postEntry meant re-selecting the accounts and three statements per entry; here
 *   1. `lockAccounts` takes the same locks postEntry takes (ascending id, `FOR NO KEY UPDATE`) and returns the rows;
 *   2. `postEntriesOnLockedAccounts` decides every entry in order against running balances — exactly what posting
 *      them one by one would decide, because nobody else can move a locked balance — and then writes the entries
 *      that pass, their postings and the net balance change per account in ONE statement (data-modifying CTEs).
 * The database's own guards are untouched: the deferred balanced-entry trigger, the append-only triggers, the
 * foreign keys and `balance >= 0` all still run on what that statement writes.
 */
import type { PoolClient } from 'pg';

import { assertWellFormed, type JournalEntryDraft, type PostEntryResult } from './post-entry.ts';

export interface LockedAccount {
  readonly id: bigint;
  readonly currency: string;
  /** Minor units, as locked (before anything this transaction posts through postEntriesOnLockedAccounts). */
  readonly balance: bigint;
  readonly overdraftAllowed: boolean;
}

/** Locks these accounts in ascending id order (FOR NO KEY UPDATE, as postEntry does) and returns them by id. */
export async function lockAccounts(client: PoolClient, accountIds: Iterable<bigint>): Promise<Map<bigint, LockedAccount>> {
  const ids = [...new Set(accountIds)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const locked = new Map<bigint, LockedAccount>();
  if (ids.length === 0) return locked;
  const { rows } = await client.query<{ id: string; currency: string; balance: string; overdraft_allowed: boolean }>(
    'select id, currency, balance, overdraft_allowed from accounts where id = any($1::bigint[]) order by id for no key update',
    [ids.map(String)],
  );
  for (const row of rows) {
    locked.set(BigInt(row.id), { id: BigInt(row.id), currency: row.currency, balance: BigInt(row.balance), overdraftAllowed: row.overdraft_allowed });
  }
  return locked;
}

/**
 * Posts `entries` in order over `locked` (from lockAccounts in this transaction): each one posts, or is refused
 * with insufficient_funds and changes nothing, as postEntry would have decided after the ones before it. The
 * results are in the order of `entries`. An entry over an account that is not locked is a programmer error.
 */
export async function postEntriesOnLockedAccounts(
  client: PoolClient,
  locked: ReadonlyMap<bigint, LockedAccount>,
  entries: readonly JournalEntryDraft[],
): Promise<PostEntryResult[]> {
  const balance = new Map([...locked].map(([id, account]) => [id, account.balance]));
  const results: (PostEntryResult | undefined)[] = [];
  const posted: JournalEntryDraft[] = [];
  const netChange = new Map<bigint, bigint>();
  const references = new Set<string>();
  for (const entry of entries) {
    assertWellFormed(entry);
    // the statement below pairs each entry with its new id by reference
    if (references.has(entry.reference)) throw new Error(`postEntry: reference ${entry.reference} appears twice in one batch`);
    references.add(entry.reference);
    const change = new Map<bigint, bigint>();
    for (const line of entry.lines) {
      if (!locked.has(line.accountId)) throw new Error(`postEntry: account ${line.accountId} was not locked`);
      change.set(line.accountId, (change.get(line.accountId) ?? 0n) + (line.direction === 'C' ? line.amount : -line.amount));
    }
    // the same check, and the same first offender (ascending id), as postEntry
    const ids = [...change.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const short = ids.find((id) => !locked.get(id)!.overdraftAllowed && balance.get(id)! + change.get(id)! < 0n);
    if (short !== undefined) {
      results.push({ kind: 'insufficient_funds', accountId: short, available: balance.get(short)!, needed: -change.get(short)! });
      continue;
    }
    for (const [id, delta] of change) {
      balance.set(id, balance.get(id)! + delta);
      netChange.set(id, (netChange.get(id) ?? 0n) + delta);
    }
    results.push(undefined);
    posted.push(entry);
  }
  if (posted.length === 0) return results as PostEntryResult[];

  const lines = posted.flatMap((entry, index) => entry.lines.map((line) => ({ entry: index + 1, line })));
  const changed = [...netChange.keys()];
  const { rows } = await client.query<{ id: string; reference: string }>(
    `with entry_input as (
       select * from unnest($1::text[], $2::text[]) with ordinality as e(kind, reference, ord)
     ), entry as (
       insert into journal_entries (kind, reference)
       select kind, reference from entry_input order by ord
       returning id, reference
     ), line as (
       select * from unnest($3::bigint[], $4::bigint[], $5::char(3)[], $6::char(1)[], $7::bigint[]) with ordinality
         as l(entry_ord, account_id, currency, direction, amount, ord)
     ), posting as (
       insert into postings (entry_id, account_id, currency, direction, amount)
       select entry.id, line.account_id, line.currency, line.direction, line.amount
         from line join entry_input on entry_input.ord = line.entry_ord join entry on entry.reference = entry_input.reference
        order by line.ord
       returning id
     ), moved as (
       update accounts set balance = balance + delta.amount
         from unnest($8::bigint[], $9::bigint[]) as delta(id, amount) where accounts.id = delta.id
       returning accounts.id
     )
     select id, reference from entry`,
    [
      posted.map((entry) => entry.kind),
      posted.map((entry) => entry.reference),
      lines.map((l) => l.entry),
      lines.map((l) => l.line.accountId.toString()),
      lines.map((l) => l.line.currency),
      lines.map((l) => l.line.direction),
      lines.map((l) => l.line.amount.toString()),
      changed.map(String),
      changed.map((id) => netChange.get(id)!.toString()),
    ],
  );
  const entryIdOf = new Map(rows.map((row) => [row.reference, BigInt(row.id)]));
  let next = 0;
  return results.map((result) => {
    if (result !== undefined) return result;
    const entryId = entryIdOf.get(posted[next++]!.reference);
    if (entryId === undefined) throw new Error('postEntry: an entry of the batch was not written');
    return { kind: 'posted', entryId };
  });
}
