/**
 * The ledger's invariants, checked in SQL over everything a database holds: what issue 4 means by "nothing may be
 * lost, duplicated or invented". Any test that moved money can end with `await expectLedgerConsistent(pool)`.
 *
 *   money     every currency's balances sum to zero; every account's balance is the credits minus the debits of its
 *             postings, and not below zero unless it may overdraw; every journal entry has ≥ 2 postings and balances
 *             per currency;
 *   payments  a payment accepted at booking (ACSC on-us, ACSP onward) has exactly one entry posted by its booking
 *             (the event that took it out of RCVD), moving exactly its amount from its debit to its credit account;
 *             a payment rejected at booking (AM03, AM04, ...) has none; over its whole history (the onward leg's
 *             settle or release included) a payment moved exactly what its status says: ACSP debtor → suspense,
 *             ACSC debtor → creditor (or → clearing when onward), RJCT nothing; an entry that names a payment
 *             (`payment:<id>`) belongs to exactly one of its events; the suspense account of each currency holds
 *             exactly the onward payments still in process (ACSP); no payment is left in RCVD (booking decides in
 *             the same transaction);
 *   history   every status event has exactly one outbox row, for the same payment and sequence; a payment's events
 *             are numbered 1..n, and its row says what its latest event says (status, reason, sequence);
 *   answers   every message row carries the answer it was given, and has no more payments than transactions.
 *
 * Violations are collected, not thrown one by one: the failure message lists every broken invariant with the rows
 * that break it, so a test that fails says precisely what is wrong.
 */
import type pg from 'pg';
import { expect } from 'vitest';

interface Check {
  readonly invariant: string;
  readonly sql: string;
}

const CHECKS: readonly Check[] = [
  {
    invariant: 'the balances of a currency sum to zero',
    sql: `select currency, sum(balance)::text as sum from accounts group by currency having sum(balance) <> 0 order by currency`,
  },
  {
    invariant: 'an account balance is the credits minus the debits of its postings',
    sql: `select a.id, a.kind, a.currency, a.balance::text as balance,
                 coalesce(sum(case p.direction when 'C' then p.amount else -p.amount end), 0)::text as postings
            from accounts a left join postings p on p.account_id = a.id
           group by a.id
          having a.balance <> coalesce(sum(case p.direction when 'C' then p.amount else -p.amount end), 0)
           order by a.id`,
  },
  {
    invariant: 'an account may be below zero only if it may overdraw',
    sql: `select id, kind, currency, balance::text as balance from accounts where balance < 0 and not overdraft_allowed order by id`,
  },
  {
    invariant: 'a journal entry has at least two postings',
    sql: `select e.id, e.kind, e.reference, count(p.id)::int as postings
            from journal_entries e left join postings p on p.entry_id = e.id
           group by e.id having count(p.id) < 2 order by e.id`,
  },
  {
    invariant: 'a journal entry balances per currency (debits = credits)',
    sql: `select entry_id, currency,
                 sum(amount) filter (where direction = 'D')::text as debits,
                 sum(amount) filter (where direction = 'C')::text as credits
            from postings group by entry_id, currency
          having sum(case direction when 'D' then amount else -amount end) <> 0
           order by entry_id, currency`,
  },
  {
    invariant: 'a payment accepted at booking (ACSC on-us, ACSP onward) has exactly one entry posted by its booking, moving its amount from debit to credit account',
    sql: `with booking as (
            select distinct on (e.payment_id) e.payment_id, e.sequence, e.status, e.entry_id
              from payment_events e where e.status <> 'RCVD' order by e.payment_id, e.sequence
          )
          select p.id as payment, p.status, p.route, b.status as booked_as, b.sequence as booking_event, b.entry_id,
                 (select count(*)::int from postings x where x.entry_id = b.entry_id) as postings,
                 (select je.reference from journal_entries je where je.id = b.entry_id) as reference
            from payments p join booking b on b.payment_id = p.id
           where (p.status in ('ACSC', 'ACSP') or b.status in ('ACSC', 'ACSP'))
             and (b.entry_id is null
                  or (select count(*) from postings x where x.entry_id = b.entry_id) <> 2
                  or not exists (select from postings x where x.entry_id = b.entry_id and x.direction = 'D'
                                   and x.account_id = p.debit_account_id and x.currency = p.currency and x.amount = p.amount)
                  or not exists (select from postings x where x.entry_id = b.entry_id and x.direction = 'C'
                                   and x.account_id = p.credit_account_id and x.currency = p.currency and x.amount = p.amount)
                  or (select je.reference from journal_entries je where je.id = b.entry_id) <> 'payment:' || p.id
                  or b.status is distinct from (case p.route when 'on_us' then 'ACSC' when 'onward' then 'ACSP' end))
           order by p.id`,
  },
  {
    invariant: 'a payment rejected at booking (AM03, AM04, ...) moved no money',
    sql: `with booking as (
            select distinct on (e.payment_id) e.payment_id, e.status, e.reason
              from payment_events e where e.status <> 'RCVD' order by e.payment_id, e.sequence
          )
          select p.id as payment, b.reason,
                 (select count(*)::int from payment_events e where e.payment_id = p.id and e.entry_id is not null) as events_with_entry,
                 (select count(*)::int from journal_entries je where je.reference = 'payment:' || p.id) as entries
            from payments p join booking b on b.payment_id = p.id
           where b.status = 'RJCT'
             and (exists (select from payment_events e where e.payment_id = p.id and e.entry_id is not null)
                  or exists (select from journal_entries je where je.reference = 'payment:' || p.id))
           order by p.id`,
  },
  {
    invariant: 'what a payment moved, over its whole history, is what its status says (ACSP: debtor → suspense; ACSC: debtor → creditor, or clearing when onward; RJCT: nothing)',
    sql: `with moved as (
            select e.payment_id, x.account_id, sum(case x.direction when 'C' then x.amount else -x.amount end) as net
              from payment_events e join postings x on x.entry_id = e.entry_id
             group by e.payment_id, x.account_id
          ), expected as (
            select payment_id, account_id, sum(net) as net from (
              select p.id as payment_id, p.debit_account_id as account_id, -p.amount as net
                from payments p where p.status in ('ACSC', 'ACSP')
              union all
              select p.id, case when p.status = 'ACSP' or p.route = 'on_us' then p.credit_account_id
                                else (select c.id from accounts c where c.participant_id is null and c.kind = 'clearing' and c.currency = p.currency) end,
                     p.amount
                from payments p where p.status in ('ACSC', 'ACSP')
            ) lines group by payment_id, account_id
          )
          select coalesce(m.payment_id, x.payment_id) as payment, coalesce(m.account_id, x.account_id) as account,
                 coalesce(m.net, 0)::text as moved, coalesce(x.net, 0)::text as expected
            from moved m full join expected x on x.payment_id = m.payment_id and x.account_id = m.account_id
           where coalesce(m.net, 0) <> coalesce(x.net, 0)
           order by 1, 2`,
  },
  {
    invariant: 'an entry naming a payment belongs to exactly one status event of that payment',
    sql: `select je.id as entry, je.reference,
                 (select count(*)::int from payment_events e where e.entry_id = je.id) as events,
                 (select count(*)::int from payment_events e where e.entry_id = je.id and 'payment:' || e.payment_id = je.reference) as events_of_that_payment
            from journal_entries je
           where je.reference like 'payment:%'
             and ((select count(*) from payment_events e where e.entry_id = je.id) <> 1
                  or not exists (select from payment_events e where e.entry_id = je.id and 'payment:' || e.payment_id = je.reference))
           order by je.id`,
  },
  {
    invariant: 'no payment is left in RCVD (its booking decides in the same transaction)',
    sql: `select id as payment, sequence from payments where status = 'RCVD' order by id`,
  },
  {
    invariant: 'the suspense balance of a currency is the sum of the onward payments in process (ACSP)',
    sql: `with held as (
            select currency, sum(amount) as amount from payments where status = 'ACSP' and route = 'onward' group by currency
          ), suspense as (
            select currency, balance from accounts where kind = 'suspense' and participant_id is null
          )
          select coalesce(s.currency, h.currency) as currency, coalesce(s.balance, 0)::text as suspense_balance,
                 coalesce(h.amount, 0)::text as acsp_onward_sum
            from suspense s full join held h on h.currency = s.currency
           where coalesce(s.balance, 0) <> coalesce(h.amount, 0)
           order by 1`,
  },
  {
    invariant: 'a status event has exactly one outbox row, for the same payment and sequence',
    sql: `select e.id as event, e.payment_id, e.sequence, count(o.id)::int as outbox_rows,
                 array_agg(o.payment_id || '/' || o.sequence) filter (where o.id is not null) as outbox
            from payment_events e left join outbox o on o.event_id = e.id
           group by e.id
          having count(o.id) <> 1 or bool_or(o.payment_id <> e.payment_id or o.sequence <> e.sequence)
           order by e.id`,
  },
  {
    invariant: 'a payment’s events are numbered 1..n and its row says what its latest event says',
    sql: `with history as (
            select payment_id, count(*)::int as events, max(sequence) as latest, min(sequence) as first
              from payment_events group by payment_id
          )
          select p.id as payment, p.status, p.status_reason, p.sequence, h.events, h.first, h.latest,
                 e.status as latest_status, e.reason as latest_reason
            from payments p
            left join history h on h.payment_id = p.id
            left join payment_events e on e.payment_id = p.id and e.sequence = h.latest
           where h.payment_id is null or h.first <> 1 or h.events <> h.latest or p.sequence <> h.latest
              or p.status <> e.status or p.status_reason is distinct from e.reason
           order by p.id`,
  },
  {
    invariant: 'a message carries its answer and has no more payments than transactions',
    sql: `select m.id as message, m.msg_id, m.response_status, m.response_body is not null as has_body, m.transactions,
                 (select count(*)::int from payments p where p.message_id = m.id) as payments
            from messages m
           where m.response_status is null or m.response_body is null or m.response_body = ''
              or (select count(*) from payments p where p.message_id = m.id) > m.transactions
           order by m.id`,
  },
];

/**
 * Every broken invariant, one line each with the offending rows as JSON; empty when the ledger is consistent. All
 * checks read one snapshot, so a concurrent writer cannot make two of them disagree.
 */
export async function ledgerViolations(pool: pg.Pool): Promise<string[]> {
  const client = await pool.connect();
  try {
    await client.query('begin isolation level repeatable read read only');
    const violations = await ledgerViolationsIn(client);
    await client.query('commit');
    return violations;
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/**
 * The same checks on a connection the caller holds, inside its transaction if one is open: a test can tamper with
 * the ledger, see what the checks say about it, and roll the tampering back.
 */
export async function ledgerViolationsIn(client: pg.ClientBase): Promise<string[]> {
  const violations: string[] = [];
  for (const check of CHECKS) {
    const { rows } = await client.query(check.sql);
    for (const row of rows) violations.push(`${check.invariant}: ${JSON.stringify(row)}`);
  }
  return violations;
}

/** The invariants, by name (for tests asserting which one a given tampering breaks). */
export const LEDGER_INVARIANTS: readonly string[] = CHECKS.map((check) => check.invariant);

/** Fails with the full list of violations (and the rows behind each) unless every invariant holds. */
export async function expectLedgerConsistent(pool: pg.Pool): Promise<void> {
  expect(await ledgerViolations(pool), 'ledger invariants violated (one line per offending row)').toEqual([]);
}
