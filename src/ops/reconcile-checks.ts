/**
 * What reconciliation checks, as SQL: the ledger's, the payments' and the outbox's invariants over everything a
 * database holds (issue 4's "nothing may be lost, duplicated or invented", issue 7's `isogw reconcile`). One list,
 * shared by the command (src/ops/reconcile.ts) and the tests (test/support/ledger-invariants.ts), so what CI checks
 * is exactly what an operator runs.
 *
 *   money     every currency's balances sum to zero; every account's balance is the credits minus the debits of its
 *             postings, and not below zero unless it may overdraw; every journal entry has ≥ 2 postings and balances
 *             per currency;
 *   payments  a payment accepted at booking (ACSC on-us, ACSP onward) has exactly one entry posted by its booking
 *             (the event that took it out of RCVD), moving exactly its amount from its debit to its credit account;
 *             a payment rejected at booking has none; over its whole history (the onward leg's settle or release
 *             included) a payment moved exactly what its status says; an entry that names a payment
 *             (`payment:<id>`) belongs to exactly one of its events; a payment has at most one entry of each kind,
 *             and only the kinds its route allows (on-us: `transfer`; onward: `hold`, then `hold_post` or
 *             `hold_void`); the suspense account of each currency holds exactly the onward payments still in
 *             process; no payment is left in RCVD;
 *   history   every status event has exactly one outbox row, for the same payment and sequence; a payment's events
 *             are numbered 1..n, and its row says what its latest event says;
 *   answers   every message row carries the answer it was given, and has no more payments than transactions;
 *   in flight held payments waiting for their onward leg, outbox rows the relay has not dispatched yet.
 *
 * Each check's query returns the rows that break it (none when it holds), in a stable order, each with a `class`
 * column saying what kind of difference it is (FindingClass). Booking, settling and releasing are each one
 * transaction and the checks read one snapshot, so a half-written booking is never seen: only what is asynchronous
 * by design (the relay, the onward settlement system) can be `timing`. Everything else is wrong, and classified:
 *
 *   missing_event  history that should exist does not: a status event without its outbox row, a status the payment
 *                  row claims without the event that would have set it, a gap in the numbering;
 *   duplicate      something exists twice that may exist once: a second entry of a kind for one payment, a second
 *                  outbox row for one event, more payments than a message has transactions;
 *   discrepancy    the numbers disagree: balances and postings, money moved and statuses, unbalanced entries.
 *
 * The queries are set-based (aggregates and hash joins, no per-row scans of unindexed columns), so they stay linear
 * in the size of the ledger; the only correlated subqueries go through primary keys or indexes.
 */

export type FindingClass = 'timing' | 'missing_event' | 'duplicate' | 'discrepancy';

/** Every class, most benign first. */
export const FINDING_CLASSES: readonly FindingClass[] = ['timing', 'missing_event', 'duplicate', 'discrepancy'];

export interface ReconcileCheck {
  /** Stable identifier, for scripts (`--json`) and tests. */
  readonly name: string;
  /** What must hold, in words. */
  readonly invariant: string;
  /** The rows that break it, each with a `class` column; no parameters, no trailing semicolon. */
  readonly sql: string;
}

export const RECONCILE_CHECKS: readonly ReconcileCheck[] = [
  {
    name: 'currencies_sum_to_zero',
    invariant: 'the balances of a currency sum to zero',
    sql: `select currency, sum(balance)::text as sum, 'discrepancy' as class
            from accounts group by currency having sum(balance) <> 0 order by currency`,
  },
  {
    name: 'balances_match_postings',
    invariant: 'an account balance is the credits minus the debits of its postings',
    sql: `with posted as (
            select account_id, sum(case direction when 'C' then amount else -amount end) as net from postings group by account_id
          )
          select a.id, a.kind, a.currency, a.balance::text as balance, coalesce(x.net, 0)::text as postings, 'discrepancy' as class
            from accounts a left join posted x on x.account_id = a.id
           where a.balance <> coalesce(x.net, 0)
           order by a.id`,
  },
  {
    name: 'no_unauthorised_overdraft',
    invariant: 'an account may be below zero only if it may overdraw',
    sql: `select id, kind, currency, balance::text as balance, 'discrepancy' as class
            from accounts where balance < 0 and not overdraft_allowed order by id`,
  },
  {
    name: 'entries_have_two_postings',
    invariant: 'a journal entry has at least two postings',
    sql: `select e.id, e.kind, e.reference, coalesce(x.postings, 0)::int as postings, 'discrepancy' as class
            from journal_entries e left join (select entry_id, count(*) as postings from postings group by entry_id) x on x.entry_id = e.id
           where coalesce(x.postings, 0) < 2
           order by e.id`,
  },
  {
    name: 'entries_balance',
    invariant: 'a journal entry balances per currency (debits = credits)',
    sql: `select entry_id, currency,
                 sum(amount) filter (where direction = 'D')::text as debits,
                 sum(amount) filter (where direction = 'C')::text as credits,
                 'discrepancy' as class
            from postings group by entry_id, currency
          having sum(case direction when 'D' then amount else -amount end) <> 0
           order by entry_id, currency`,
  },
  {
    name: 'accepted_payments_booked_once',
    invariant:
      'a payment accepted at booking (ACSC on-us, ACSP onward) has exactly one entry posted by its booking, moving its amount from debit to credit account',
    // postings by entry_id (index postings_entry) and journal_entries by id: the subqueries are index lookups
    sql: `with booking as (
            select distinct on (e.payment_id) e.payment_id, e.sequence, e.status, e.entry_id
              from payment_events e where e.status <> 'RCVD' order by e.payment_id, e.sequence
          )
          select p.id as payment, p.status, p.route, b.status as booked_as, b.sequence as booking_event, b.entry_id,
                 (select count(*)::int from postings x where x.entry_id = b.entry_id) as postings,
                 (select je.reference from journal_entries je where je.id = b.entry_id) as reference,
                 'discrepancy' as class
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
    name: 'rejected_payments_moved_nothing',
    invariant: 'a payment rejected at booking (AM03, AM04, ...) moved no money',
    sql: `with booking as (
            select distinct on (e.payment_id) e.payment_id, e.status, e.reason
              from payment_events e where e.status <> 'RCVD' order by e.payment_id, e.sequence
          ), with_entry as (
            select payment_id, count(*) as events from payment_events where entry_id is not null group by payment_id
          ), named as (
            select reference, count(*) as entries from journal_entries where reference like 'payment:%' group by reference
          )
          select p.id as payment, b.reason, coalesce(w.events, 0)::int as events_with_entry, coalesce(n.entries, 0)::int as entries,
                 'discrepancy' as class
            from payments p join booking b on b.payment_id = p.id
            left join with_entry w on w.payment_id = p.id
            left join named n on n.reference = 'payment:' || p.id
           where b.status = 'RJCT' and (w.payment_id is not null or n.reference is not null)
           order by p.id`,
  },
  {
    name: 'payment_movements_match_status',
    invariant:
      'what a payment moved, over its whole history, is what its status says (ACSP: debtor → suspense; ACSC: debtor → creditor, or clearing when onward; RJCT: nothing)',
    sql: `with moved as (
            select e.payment_id, x.account_id, sum(case x.direction when 'C' then x.amount else -x.amount end) as net
              from payment_events e join postings x on x.entry_id = e.entry_id
             group by e.payment_id, x.account_id
          ), clearing as (
            select currency, id from accounts where participant_id is null and kind = 'clearing'
          ), expected as (
            select payment_id, account_id, sum(net) as net from (
              select p.id as payment_id, p.debit_account_id as account_id, -p.amount as net
                from payments p where p.status in ('ACSC', 'ACSP')
              union all
              select p.id, case when p.status = 'ACSP' or p.route = 'on_us' then p.credit_account_id else c.id end, p.amount
                from payments p left join clearing c on c.currency = p.currency where p.status in ('ACSC', 'ACSP')
            ) lines group by payment_id, account_id
          )
          select coalesce(m.payment_id, x.payment_id) as payment, coalesce(m.account_id, x.account_id) as account,
                 coalesce(m.net, 0)::text as moved, coalesce(x.net, 0)::text as expected, 'discrepancy' as class
            from moved m full join expected x on x.payment_id = m.payment_id and x.account_id = m.account_id
           where coalesce(m.net, 0) <> coalesce(x.net, 0)
           order by 1, 2`,
  },
  {
    name: 'payment_entries_belong_to_events',
    invariant: 'an entry naming a payment belongs to exactly one status event of that payment',
    // An entry no event points at, beside a twin of the same kind that one does, is the same money posted twice.
    sql: `with linked as (
            select e.entry_id, count(*) as events, count(*) filter (where 'payment:' || e.payment_id = je.reference) as of_payment
              from payment_events e join journal_entries je on je.id = e.entry_id
             group by e.entry_id
          ), named as (
            select je.id, je.kind, je.reference, coalesce(l.events, 0)::int as events, coalesce(l.of_payment, 0)::int as of_payment,
                   count(*) filter (where l.events = 1 and l.of_payment = 1) over (partition by je.reference, je.kind) as linked_twins
              from journal_entries je left join linked l on l.entry_id = je.id
             where je.reference like 'payment:%'
          )
          select id as entry, reference, events, of_payment as events_of_that_payment,
                 case when events = 0 and linked_twins > 0 then 'duplicate' else 'discrepancy' end as class
            from named
           where events <> 1 or of_payment = 0
           order by id`,
  },
  {
    name: 'payment_entry_kinds',
    invariant:
      'a payment has at most one entry of each kind, and only the kinds its route allows (on-us: transfer; onward: hold, then hold_post or hold_void)',
    sql: `with kinds as (
            select reference, kind, count(*)::int as entries from journal_entries where reference like 'payment:%' group by reference, kind
          ), per_payment as (
            select reference, jsonb_object_agg(kind, entries order by kind) as kinds, max(entries) as most, array_agg(kind order by kind) as kind_set
              from kinds group by reference
          )
          select p.id as payment, x.reference, p.route, p.status, x.kinds,
                 case when x.most > 1 then 'duplicate' else 'discrepancy' end as class
            from per_payment x left join payments p on 'payment:' || p.id = x.reference
           where x.most > 1 or p.id is null
              or not ((p.route = 'on_us' and x.kind_set = array['transfer'])
                      or (p.route = 'onward' and x.kind_set in (array['hold'], array['hold', 'hold_post'], array['hold', 'hold_void'])))
           order by p.id nulls last, x.reference`,
  },
  {
    name: 'payments_decided',
    invariant: 'no payment is left in RCVD (its booking decides in the same transaction)',
    sql: `select id as payment, sequence, 'discrepancy' as class from payments where status = 'RCVD' order by id`,
  },
  {
    name: 'suspense_matches_held',
    invariant: 'the suspense balance of a currency is the sum of the onward payments in process (ACSP)',
    sql: `with held as (
            select currency, sum(amount) as amount from payments where status = 'ACSP' and route = 'onward' group by currency
          ), suspense as (
            select currency, balance from accounts where kind = 'suspense' and participant_id is null
          )
          select coalesce(s.currency, h.currency) as currency, coalesce(s.balance, 0)::text as suspense_balance,
                 coalesce(h.amount, 0)::text as acsp_onward_sum, 'discrepancy' as class
            from suspense s full join held h on h.currency = s.currency
           where coalesce(s.balance, 0) <> coalesce(h.amount, 0)
           order by 1`,
  },
  {
    name: 'events_have_outbox_rows',
    invariant: 'a status event has exactly one outbox row, for the same payment and sequence',
    sql: `select e.id as event, e.payment_id, e.sequence, count(o.id)::int as outbox_rows,
                 array_agg(o.payment_id || '/' || o.sequence) filter (where o.id is not null) as outbox,
                 case when count(o.id) = 0 then 'missing_event' when count(o.id) > 1 then 'duplicate' else 'discrepancy' end as class
            from payment_events e left join outbox o on o.event_id = e.id
           group by e.id
          having count(o.id) <> 1 or bool_or(o.payment_id <> e.payment_id or o.sequence <> e.sequence)
           order by e.id`,
  },
  {
    name: 'payment_rows_match_history',
    invariant: 'a payment’s events are numbered 1..n and its row says what its latest event says',
    // a row ahead of its history, or a history with holes, is history missing; a row behind its history (or saying
    // something else at the same step) is a projection that disagrees
    sql: `with history as (
            select payment_id, count(*)::int as events, max(sequence) as latest, min(sequence) as first
              from payment_events group by payment_id
          )
          select p.id as payment, p.status, p.status_reason, p.sequence, h.events, h.first, h.latest,
                 e.status as latest_status, e.reason as latest_reason,
                 case when h.payment_id is null or h.first <> 1 or h.events <> h.latest or p.sequence > h.latest
                      then 'missing_event' else 'discrepancy' end as class
            from payments p
            left join history h on h.payment_id = p.id
            left join payment_events e on e.payment_id = p.id and e.sequence = h.latest
           where h.payment_id is null or h.first <> 1 or h.events <> h.latest or p.sequence <> h.latest
              or p.status <> e.status or p.status_reason is distinct from e.reason
           order by p.id`,
  },
  {
    name: 'messages_answered',
    invariant: 'a message carries its answer and has no more payments than transactions',
    sql: `with counted as (
            select message_id, count(*)::int as payments from payments group by message_id
          )
          select m.id as message, m.msg_id, m.response_status, m.response_body is not null as has_body, m.transactions,
                 coalesce(c.payments, 0) as payments,
                 case when coalesce(c.payments, 0) > m.transactions then 'duplicate' else 'discrepancy' end as class
            from messages m left join counted c on c.message_id = m.id
           where m.response_status is null or m.response_body is null or m.response_body = ''
              or coalesce(c.payments, 0) > m.transactions
           order by m.id`,
  },
  {
    name: 'held_payments_pending',
    invariant: 'a payment held for its onward leg (ACSP) waits for the onward system: in flight until settled or released',
    sql: `select id as payment, uetr, currency, amount::text as amount, updated_at as held_since, 'timing' as class
            from payments where status = 'ACSP' and route = 'onward' order by id`,
  },
  {
    name: 'outbox_dispatched',
    invariant: 'an outbox row is dispatched to the webhook relay: until then its status change is in flight',
    sql: `select id as outbox, event_id as event, payment_id as payment, sequence, event_type, created_at, 'timing' as class
            from outbox where dispatched_at is null order by id`,
  },
];
