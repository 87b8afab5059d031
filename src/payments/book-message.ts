/**
 * Booking an accepted pacs.008: the database half of `deduplicate → post`, in ONE transaction.
 *
 *   1. claim the message: insert its row; the unique constraints on (partner, Idempotency-Key) and (instructing
 *      agent, MsgId) make a concurrent duplicate wait here and then see our committed row;
 *   2. resolve accounts: the instructing agent's settlement account is debited; a creditor agent that is a
 *      participant is credited at once (on-us, ACSC), any other creditor agent is reached onward, so the amount is
 *      held in the gateway's suspense account (ACSP) until the onward leg settles or fails;
 *   3. insert the payments; the unique UETR and (instructing agent, TxId) turn an already-seen payment into DUPL;
 *   4. lock every account in id order, post each payment (AM04 when the funds are not there, nothing posted) —
 *      decided in message order against the locked balances, all entries written in one statement;
 *   5. append each payment's status events (RCVD, then its outcome) with their outbox rows;
 *   6. store the answer on the message row, so a retry with the same key gets the same bytes for ever —
 *      5 and 6 in one statement.
 *
 * Round trips are the cost of a booking (the gateway's CPU goes to socket writes to Postgres), so their number does
 * not grow with the message's transactions: begin, message, accounts, [suspense], payments, lock, post, finish, commit.
 *
 * Either all of it commits or none of it does: no payment without its posting, no posting without its payment,
 * no status without its outbox row. Deadlocks and serialization failures are retried; anything else that goes
 * wrong in the database is a `BookingUnavailable` (503 to the client, nothing changed).
 */
import { randomUUID } from 'node:crypto';

import type { Pool, PoolClient } from 'pg';

import type { CheckedMessage } from '../iso20022/index.ts';
import { reason, type Reason } from '../iso20022/reasons.ts';
import { gatewayAccount, normalizeBic, type SettlementAccount, settlementAccountsFor } from '../ledger/accounts.ts';
import { lockAccounts, postEntriesOnLockedAccounts } from '../ledger/post-locked-entries.ts';
import { wakeRelaysAfterCommit } from './outbox-wakeup.ts';
import { type PaymentStatus, type StatusEvent, statusEventsChain } from './status-events.ts';

/** What the message was answered with (always a pacs.002): replayed byte for byte to a retry. */
export interface BookedAnswer {
  readonly status: number;
  readonly body: string;
}

export type TransactionBooking =
  | { readonly kind: 'settled'; readonly paymentId: bigint; readonly uetr: string; readonly entryId: bigint }
  | { readonly kind: 'held'; readonly paymentId: bigint; readonly uetr: string; readonly entryId: bigint }
  | { readonly kind: 'rejected'; readonly paymentId: bigint; readonly uetr: string; readonly reason: Reason }
  | { readonly kind: 'duplicate'; readonly reason: Reason; readonly existing: { readonly uetr: string; readonly status: PaymentStatus } };

export interface BookingRequest {
  /** The partner (OAuth client_id) and the Idempotency-Key it sent. */
  readonly clientId: string;
  readonly idempotencyKey: string;
  /** requestFingerprint of the exact body. */
  readonly fingerprint: string;
  /** A message that passed the XSD, the rules and the entitlement check, with at least one accepted transaction. */
  readonly checked: CheckedMessage;
  /** Builds the pacs.002 answer from the bookings (called inside the transaction; its result is stored). */
  readonly answer: (bookings: ReadonlyMap<number, TransactionBooking>) => BookedAnswer;
  /** The request's x-fapi-interaction-id, stored with the message so later lines (webhook attempts) can name it. */
  readonly correlationId?: string | undefined;
}

export type BookingOutcome =
  | { readonly kind: 'booked'; readonly answer: BookedAnswer; readonly bookings: ReadonlyMap<number, TransactionBooking> }
  /** The same key and body were booked before: here is the answer that was given. */
  | { readonly kind: 'replay'; readonly answer: BookedAnswer }
  /** The same key was used before for a different body. */
  | { readonly kind: 'key_reused' }
  /** The instructing agent's MsgId was booked before under another key. */
  | { readonly kind: 'duplicate_message'; readonly original: { readonly receivedAt: Date; readonly statuses: readonly PaymentStatus[] } };

/** Raised when the database cannot book right now (down, timeout, lock wait exceeded): nothing was written. */
export class BookingUnavailable extends Error {
  override readonly name = 'BookingUnavailable';
}

/**
 * A unique conflict whose winner our next statement cannot see (a race we do not expect under READ COMMITTED, but
 * one the database, not our reasoning, should settle): carries serialization_failure's SQLSTATE so it is retried.
 */
class ConflictNotVisible extends Error {
  override readonly name = 'ConflictNotVisible';
  readonly code = '40001';
}

/** Deadlocks and serialization failures are the database asking us to try again; this many tries in all. */
export const BOOKING_ATTEMPTS_MAX = 3;
const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']);

export async function bookMessage(pool: Pool, request: BookingRequest): Promise<BookingOutcome> {
  for (let attempt = 1; ; attempt += 1) {
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw new BookingUnavailable(`database unreachable: ${(error as Error).message}`, { cause: error });
    }
    let broken = false;
    try {
      await client.query('begin');
      const outcome = await bookInTransaction(client, request);
      await client.query(outcome.kind === 'booked' ? 'commit' : 'rollback');
      if (outcome.kind === 'booked') wakeRelaysAfterCommit(pool);
      return outcome;
    } catch (error) {
      await client.query('rollback').catch(() => {
        broken = true;
      });
      const code = (error as { code?: string }).code;
      if (code !== undefined && RETRYABLE_SQLSTATES.has(code) && attempt < BOOKING_ATTEMPTS_MAX) continue;
      if (error instanceof BookingUnavailable) throw error;
      if (isProgrammerError(error)) throw error;
      throw new BookingUnavailable(`booking failed: ${(error as Error).message}`, { cause: error });
    } finally {
      client.release(broken);
    }
  }
}

/** A TypeError or an assertion from our own code is a bug to surface, not a database outage to hide as a 503. */
function isProgrammerError(error: unknown): boolean {
  return error instanceof TypeError || error instanceof RangeError || (error instanceof Error && error.message.startsWith('postEntry:'));
}

interface PlannedPayment {
  readonly index: number;
  readonly uetr: string;
  readonly uetrAssigned: boolean;
  readonly instructionId: string | undefined;
  readonly endToEndId: string;
  readonly txId: string | undefined;
  readonly debtorAgent: string | undefined;
  readonly creditorAgent: string | undefined;
  readonly amount: bigint;
  readonly currency: string;
  readonly route: 'on_us' | 'onward' | undefined;
  readonly debit: SettlementAccount | undefined;
  readonly creditAccountId: bigint | undefined;
  readonly path: string;
}

async function bookInTransaction(client: PoolClient, request: BookingRequest): Promise<BookingOutcome> {
  const { checked } = request;
  const message = checked.message;
  if (message === undefined) throw new TypeError('bookMessage: only schema-valid messages are booked');
  const instructingBic = message.group.instructingAgent?.bic ?? message.transactions[0]?.instructingAgent?.bic;
  if (instructingBic === undefined) throw new TypeError('bookMessage: the rules guarantee an instructing agent BIC');
  const instructingAgent = normalizeBic(instructingBic);
  const accepted = checked.transactions.filter((t) => t.accepted && t.transfer !== undefined && t.settlement !== undefined);

  // 1. the message row: the point where concurrent duplicates queue
  const inserted = await client.query<{ id: string }>(
    `insert into messages (client_id, idempotency_key, fingerprint, instructing_agent, msg_id, message_type, transactions, correlation_id)
     values ($1, $2, $3, $4, $5, $6, $7, $8)
     on conflict do nothing returning id`,
    [request.clientId, request.idempotencyKey, request.fingerprint, instructingAgent, message.group.messageId, message.messageType, message.transactions.length, request.correlationId ?? null],
  );
  if (inserted.rows[0] === undefined) return earlierBooking(client, request, instructingAgent, message.group.messageId);
  const messageId = inserted.rows[0].id;

  // 2. accounts, per settlement currency
  const plans: PlannedPayment[] = [];
  const byCurrency = Map.groupBy(accepted, (t) => t.settlement!.currency);
  for (const [currency, transactions] of byCurrency) {
    const creditorBics = transactions.map((t) => t.transfer!.creditorAgent.bic).filter((bic): bic is string => bic !== undefined);
    const accounts = await settlementAccountsFor(client, [instructingAgent, ...creditorBics], currency);
    const debit = accounts.get(instructingAgent);
    let suspense: bigint | undefined;
    for (const outcome of transactions) {
      const transfer = outcome.transfer!;
      const creditorAgent = transfer.creditorAgent.bic === undefined ? undefined : normalizeBic(transfer.creditorAgent.bic);
      const creditor = creditorAgent === undefined ? undefined : accounts.get(creditorAgent);
      let route: PlannedPayment['route'];
      let creditAccountId: bigint | undefined;
      if (debit !== undefined && creditor !== undefined) {
        route = 'on_us';
        creditAccountId = creditor.accountId;
      } else if (debit !== undefined) {
        route = 'onward';
        suspense ??= await gatewayAccount(client, 'suspense', currency);
        creditAccountId = suspense;
      }
      plans.push({
        index: outcome.index,
        uetr: transfer.uetr?.toLowerCase() ?? randomUUID(),
        uetrAssigned: transfer.uetr === undefined,
        instructionId: transfer.instructionId,
        endToEndId: transfer.endToEndId,
        txId: transfer.transactionId,
        debtorAgent: transfer.debtorAgent.bic === undefined ? undefined : normalizeBic(transfer.debtorAgent.bic),
        creditorAgent,
        amount: outcome.settlement!.minor,
        currency,
        route,
        debit,
        creditAccountId,
        path: transfer.settlementAmount.path,
      });
    }
  }
  plans.sort((a, b) => a.index - b.index);

  // 3. the payments; a conflict on UETR or (instructing agent, TxId) means we have seen this payment before
  const insertedPayments = await client.query<{ id: string; tx_index: number }>(
    `insert into payments (message_id, tx_index, uetr, uetr_assigned, instructing_agent, instruction_id, end_to_end_id, tx_id,
                           debtor_agent, creditor_agent, amount, currency, route, debit_account_id, credit_account_id, status, sequence)
     select $1, p.*, 'RCVD', 1
       from unnest($2::integer[], $3::uuid[], $4::boolean[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                   $11::bigint[], $12::char(3)[], $13::text[], $14::bigint[], $15::bigint[])
         as p(tx_index, uetr, uetr_assigned, instructing_agent, instruction_id, end_to_end_id, tx_id, debtor_agent, creditor_agent,
              amount, currency, route, debit_account_id, credit_account_id)
     on conflict do nothing
     returning id, tx_index`,
    [
      messageId,
      plans.map((p) => p.index),
      plans.map((p) => p.uetr),
      plans.map((p) => p.uetrAssigned),
      plans.map(() => instructingAgent),
      plans.map((p) => p.instructionId ?? null),
      plans.map((p) => p.endToEndId),
      plans.map((p) => p.txId ?? null),
      plans.map((p) => p.debtorAgent ?? null),
      plans.map((p) => p.creditorAgent ?? null),
      plans.map((p) => p.amount.toString()),
      plans.map((p) => p.currency),
      plans.map((p) => p.route ?? null),
      plans.map((p) => p.debit?.accountId.toString() ?? null),
      plans.map((p) => p.creditAccountId?.toString() ?? null),
    ],
  );
  const paymentIdOf = new Map(insertedPayments.rows.map((row) => [row.tx_index, BigInt(row.id)]));

  const bookings = new Map<number, TransactionBooking>();
  for (const plan of plans) {
    if (paymentIdOf.has(plan.index)) continue;
    const existing = await client.query<{ uetr: string; status: PaymentStatus }>(
      `select uetr, status from payments where uetr = $1 or (instructing_agent = $2 and tx_id = $3) limit 1`,
      [plan.uetr, instructingAgent, plan.txId ?? null],
    );
    const row = existing.rows[0];
    if (row === undefined) throw new ConflictNotVisible(`payment ${plan.index} conflicted but no earlier payment was found`);
    bookings.set(plan.index, {
      kind: 'duplicate',
      existing: { uetr: row.uetr, status: row.status },
      reason: reason('DUPLICATE_PAYMENT', plan.path.replace(/\/IntrBkSttlmAmt$/, ''), `payment ${row.uetr} was received before (status ${row.status}); nothing was posted again`, plan.index),
    });
  }

  // 4. post, accounts locked in one fixed order across the whole message (no deadlock between messages); the entries
  //    are decided in payment order against the locked balances and written in one statement
  const toPost = plans.filter((p) => paymentIdOf.has(p.index) && p.debit !== undefined);
  const locked = await lockAccounts(client, toPost.flatMap((p) => [p.debit!.accountId, p.creditAccountId!]));
  const postings = await postEntriesOnLockedAccounts(
    client,
    locked,
    toPost.map((plan) => ({
      kind: plan.route === 'on_us' ? 'transfer' : 'hold',
      reference: `payment:${paymentIdOf.get(plan.index)!}`,
      lines: [
        { accountId: plan.debit!.accountId, currency: plan.currency, direction: 'D', amount: plan.amount },
        { accountId: plan.creditAccountId!, currency: plan.currency, direction: 'C', amount: plan.amount },
      ],
    })),
  );
  const postedOf = new Map(toPost.map((plan, i) => [plan.index, postings[i]!]));
  const events: StatusEvent[] = [];
  const finalStatus: { id: bigint; status: PaymentStatus; reason: string | null }[] = [];
  for (const plan of plans) {
    const paymentId = paymentIdOf.get(plan.index);
    if (paymentId === undefined) continue;
    events.push({ paymentId, sequence: 1, status: 'RCVD' });
    const transactionPath = plan.path.replace(/\/IntrBkSttlmAmt$/, '');
    const posted = postedOf.get(plan.index);
    let booking: TransactionBooking;
    if (posted === undefined) {
      booking = {
        kind: 'rejected',
        paymentId,
        uetr: plan.uetr,
        reason: reason('NO_SETTLEMENT_ACCOUNT', `${transactionPath}/InstgAgt`, `${instructingAgent} holds no ${plan.currency} settlement account with the gateway`, plan.index),
      };
    } else {
      booking =
        posted.kind === 'posted'
          ? { kind: plan.route === 'on_us' ? 'settled' : 'held', paymentId, uetr: plan.uetr, entryId: posted.entryId }
          : {
              kind: 'rejected',
              paymentId,
              uetr: plan.uetr,
              reason: reason('INSUFFICIENT_FUNDS', plan.path, `the ${plan.currency} settlement account of ${instructingAgent} does not cover the amount`, plan.index),
            };
    }
    bookings.set(plan.index, booking);
    const status: PaymentStatus = booking.kind === 'settled' ? 'ACSC' : booking.kind === 'held' ? 'ACSP' : 'RJCT';
    const why = booking.kind === 'rejected' ? booking.reason : undefined;
    events.push({
      paymentId,
      sequence: 2,
      status,
      reason: why?.code,
      reasonInfo: why === undefined ? undefined : `${why.path}: ${why.message}`,
      entryId: booking.kind === 'settled' || booking.kind === 'held' ? booking.entryId : undefined,
    });
    finalStatus.push({ id: paymentId, status, reason: why?.code ?? null });
  }

  // 5. and 6. statuses, events, outbox and the answer stored with the message, in one statement; the events'
  //    chain is left out when there are none (every payment a duplicate), so the relays are not woken for nothing
  const answer = request.answer(bookings);
  const chain = events.length === 0 ? undefined : statusEventsChain(events, 7);
  await client.query(
    `with answered as (
       update messages set response_status = $2, response_body = $3 where id = $1 returning id
     ), advanced as (
       update payments set status = u.status, status_reason = u.reason, sequence = 2, updated_at = now()
         from unnest($4::bigint[], $5::text[], $6::text[]) as u(id, status, reason)
        where payments.id = u.id
       returning payments.id
     )${chain === undefined ? '' : `, ${chain.sql}`}
     select count(*) from answered`,
    [
      messageId,
      answer.status,
      answer.body,
      finalStatus.map((f) => f.id.toString()),
      finalStatus.map((f) => f.status),
      finalStatus.map((f) => f.reason),
      ...(chain?.values ?? []),
    ],
  );
  return { kind: 'booked', answer, bookings };
}

/** The message row already exists: a retry with the same key, the same key misused, or the same message again. */
async function earlierBooking(client: PoolClient, request: BookingRequest, instructingAgent: string, msgId: string): Promise<BookingOutcome> {
  const byKey = await client.query<{ fingerprint: string; response_status: number; response_body: string }>(
    'select fingerprint, response_status, response_body from messages where client_id = $1 and idempotency_key = $2',
    [request.clientId, request.idempotencyKey],
  );
  const sameKey = byKey.rows[0];
  if (sameKey !== undefined) {
    return sameKey.fingerprint === request.fingerprint
      ? { kind: 'replay', answer: { status: sameKey.response_status, body: sameKey.response_body } }
      : { kind: 'key_reused' };
  }
  const byMessage = await client.query<{ received_at: Date; statuses: PaymentStatus[] | null }>(
    `select m.received_at, array_agg(p.status order by p.tx_index) filter (where p.id is not null) as statuses
       from messages m left join payments p on p.message_id = m.id
      where m.instructing_agent = $1 and m.msg_id = $2
      group by m.id`,
    [instructingAgent, msgId],
  );
  const original = byMessage.rows[0];
  if (original === undefined) throw new ConflictNotVisible('message conflicted but no earlier message was found');
  return { kind: 'duplicate_message', original: { receivedAt: original.received_at, statuses: original.statuses ?? [] } };
}

/**
 * The answer stored for (partner, key), if a booking with that key committed. Read without locks: only committed
 * rows are visible, and a committed message row always carries its answer.
 */
export async function findStoredAnswer(pool: Pool, clientId: string, idempotencyKey: string): Promise<{ fingerprint: string; answer: BookedAnswer } | undefined> {
  const { rows } = await pool.query<{ fingerprint: string; response_status: number; response_body: string }>(
    'select fingerprint, response_status, response_body from messages where client_id = $1 and idempotency_key = $2 and response_body is not null',
    [clientId, idempotencyKey],
  );
  const row = rows[0];
  return row === undefined ? undefined : { fingerprint: row.fingerprint, answer: { status: row.response_status, body: row.response_body } };
}
