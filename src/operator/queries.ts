/**
 * The operator page's own reads — the lists nothing else needed: recent payments with filters, dead letters over
 * every endpoint, and every account with its participant. One statement each, read-only, bounded by
 * OPERATOR_LIMITS; what other modules already read (a payment's history, its deliveries and attempts, endpoint
 * counts) is reused from there, not repeated here.
 */
import type pg from 'pg';

import { normalizeBic } from '../ledger/accounts.ts';
import { amountIn, type AmountView, type MoneyView, type PaymentStatus, UUID_TEXT } from '../payments/read-model.ts';
import { OPERATOR_LIMITS } from './limits.ts';

export const PAYMENT_STATUSES: readonly PaymentStatus[] = ['RCVD', 'ACSP', 'ACSC', 'RJCT'];

export interface PaymentFilter {
  readonly uetr?: string | undefined;
  readonly msgId?: string | undefined;
  /** Instructing, debtor or creditor agent (BIC8 or BIC11). */
  readonly bic?: string | undefined;
  readonly status?: PaymentStatus | undefined;
  /** Keyset: payments older than this one (its internal id, from the previous page). */
  readonly before?: bigint | undefined;
}

export interface PaymentSummary {
  readonly id: bigint;
  readonly uetr: string;
  readonly msgId: string;
  readonly instructingAgent: string;
  readonly debtorAgent: string | null;
  readonly creditorAgent: string | null;
  readonly amount: MoneyView;
  readonly route: 'on_us' | 'onward' | null;
  readonly status: PaymentStatus;
  readonly statusReason: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** Newest first by the payments primary key (so a page is an index range, whatever the filter). */
const RECENT_PAYMENTS_SQL = `select p.id, p.uetr, m.msg_id, p.instructing_agent, p.debtor_agent, p.creditor_agent, p.amount, p.currency,
       p.route, p.status, p.status_reason, p.created_at, p.updated_at
  from payments p join messages m on m.id = p.message_id
 where ($1::uuid is null or p.uetr = $1::uuid)
   and ($2::text is null or m.msg_id = $2)
   and ($3::text[] is null or p.instructing_agent = any($3) or p.debtor_agent = any($3) or p.creditor_agent = any($3))
   and ($4::text is null or p.status = $4)
   and ($5::bigint is null or p.id < $5::bigint)
 order by p.id desc
 limit $6::int`;

interface PaymentSummaryRow {
  id: string;
  uetr: string;
  msg_id: string;
  instructing_agent: string;
  debtor_agent: string | null;
  creditor_agent: string | null;
  amount: string;
  currency: string;
  route: 'on_us' | 'onward' | null;
  status: PaymentStatus;
  status_reason: string | null;
  created_at: Date;
  updated_at: Date;
}

/** One page of payments, newest first; `nextBefore` is the next page's `before` (undefined on the last page). */
export async function recentPayments(pool: pg.Pool, filter: PaymentFilter): Promise<{ payments: PaymentSummary[]; nextBefore: bigint | undefined }> {
  const size = OPERATOR_LIMITS.paymentsPageSize;
  // A UETR filter that is not a UUID matches no payment (and would be a cast error): answer the empty page.
  if (filter.uetr !== undefined && !UUID_TEXT.test(filter.uetr)) return { payments: [], nextBefore: undefined };
  // Agents are stored as the message wrote them: a BIC8 and its BIC11 with branch XXX name the same institution.
  const bic11 = filter.bic === undefined ? undefined : normalizeBic(filter.bic);
  const bics = bic11 === undefined ? null : bic11.endsWith('XXX') ? [bic11, bic11.slice(0, 8)] : [bic11];
  const { rows } = await pool.query<PaymentSummaryRow>(RECENT_PAYMENTS_SQL, [
    filter.uetr?.toLowerCase() ?? null,
    filter.msgId ?? null,
    bics,
    filter.status ?? null,
    filter.before?.toString() ?? null,
    size + 1,
  ]);
  const payments = rows.slice(0, size).map((row) => ({
    id: BigInt(row.id),
    uetr: row.uetr,
    msgId: row.msg_id,
    instructingAgent: row.instructing_agent,
    debtorAgent: row.debtor_agent,
    creditorAgent: row.creditor_agent,
    amount: { currency: row.currency, ...amountIn(row.currency, BigInt(row.amount)) },
    route: row.route,
    status: row.status,
    statusReason: row.status_reason,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  }));
  return { payments, nextBefore: rows.length > size ? payments.at(-1)?.id : undefined };
}

export interface DeadLetter {
  readonly deliveryId: bigint;
  readonly endpointId: string;
  readonly clientId: string;
  readonly url: string;
  readonly webhookId: string;
  readonly eventType: string;
  readonly uetr: string;
  readonly sequence: number;
  readonly attempts: number;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  readonly deadAt: string | null;
}

/**
 * Per endpoint its newest dead deliveries (an index range of webhook_deliveries_endpoint (endpoint_id, state, id)),
 * then the newest of those overall: no scan of the deliveries table, however many were delivered.
 */
const DEAD_LETTERS_SQL = `select d.id, d.endpoint_id, e.client_id, e.url, d.webhook_id, d.event_type, p.uetr, d.sequence, d.attempts,
       d.last_status, d.last_error, d.dead_at
  from webhook_endpoints e
  cross join lateral (select * from webhook_deliveries w where w.endpoint_id = e.id and w.state = 'dead' order by w.id desc limit $1::int) d
  join payments p on p.id = d.payment_id
 order by d.id desc
 limit $2::int`;

export async function deadLetters(pool: pg.Pool): Promise<{ deadLetters: DeadLetter[]; truncated: boolean }> {
  const max = OPERATOR_LIMITS.deadLettersListMax;
  const { rows } = await pool.query<{
    id: string;
    endpoint_id: string;
    client_id: string;
    url: string;
    webhook_id: string;
    event_type: string;
    uetr: string;
    sequence: number;
    attempts: number;
    last_status: number | null;
    last_error: string | null;
    dead_at: Date | null;
  }>(DEAD_LETTERS_SQL, [OPERATOR_LIMITS.deadLettersPerEndpointMax, max + 1]);
  return {
    truncated: rows.length > max,
    deadLetters: rows.slice(0, max).map((row) => ({
      deliveryId: BigInt(row.id),
      endpointId: row.endpoint_id,
      clientId: row.client_id,
      url: row.url,
      webhookId: row.webhook_id,
      eventType: row.event_type,
      uetr: row.uetr,
      sequence: row.sequence,
      attempts: row.attempts,
      lastStatus: row.last_status,
      lastError: row.last_error,
      deadAt: row.dead_at?.toISOString() ?? null,
    })),
  };
}

export interface AccountBalance {
  readonly id: bigint;
  /** Null for the gateway's own accounts (suspense, clearing, funding, fees). */
  readonly bic: string | null;
  readonly participantName: string | null;
  readonly kind: string;
  readonly currency: string;
  readonly balance: AmountView;
  readonly overdraftAllowed: boolean;
}

export interface Participant {
  readonly bic: string;
  readonly name: string;
  readonly accounts: number;
  readonly createdAt: string;
}

export interface Balances {
  /** The database's clock at the snapshot (one statement reads everything). */
  readonly asOf: string;
  readonly accounts: readonly AccountBalance[];
  readonly accountsTruncated: boolean;
  readonly participants: readonly Participant[];
  readonly participantsTruncated: boolean;
  /** Per currency, the sum of every balance: zero when the ledger balances (reconcile's first check, at a glance). */
  readonly sums: readonly MoneyView[];
}

/** One statement, so the accounts, participants and sums agree with each other. */
const BALANCES_SQL = `select now() as as_of,
  (select coalesce(json_agg(a order by a.bic nulls first, a.currency, a.kind, a.id), '[]'::json) from (
     select a.id::text as id, p.bic, p.name, a.kind, a.currency, a.balance::text as balance, a.overdraft_allowed
       from accounts a left join participants p on p.id = a.participant_id
      order by p.bic nulls first, a.currency, a.kind, a.id limit $1::int) a) as accounts,
  (select coalesce(json_agg(p order by p.bic), '[]'::json) from (
     select p.bic, p.name, (select count(*) from accounts a where a.participant_id = p.id)::int as accounts, p.created_at
       from participants p order by p.bic limit $2::int) p) as participants,
  (select coalesce(json_agg(s order by s.currency), '[]'::json) from (
     select currency, sum(balance)::text as total from accounts group by currency) s) as sums`;

export async function balances(pool: pg.Pool): Promise<Balances> {
  const accountsMax = OPERATOR_LIMITS.accountsListMax;
  const participantsMax = OPERATOR_LIMITS.participantsListMax;
  const { rows } = await pool.query<{
    as_of: Date;
    // bigints as text: a bigint in JSON would become a lossy JS number
    accounts: { id: string; bic: string | null; name: string | null; kind: string; currency: string; balance: string; overdraft_allowed: boolean }[];
    participants: { bic: string; name: string; accounts: number; created_at: string }[];
    sums: { currency: string; total: string }[];
  }>(BALANCES_SQL, [accountsMax + 1, participantsMax + 1]);
  const row = rows[0]!;
  return {
    asOf: row.as_of.toISOString(),
    accounts: row.accounts.slice(0, accountsMax).map((account) => ({
      id: BigInt(account.id),
      bic: account.bic,
      participantName: account.name,
      kind: account.kind,
      currency: account.currency.trim(),
      balance: amountIn(account.currency.trim(), BigInt(account.balance)),
      overdraftAllowed: account.overdraft_allowed,
    })),
    accountsTruncated: row.accounts.length > accountsMax,
    participants: row.participants.slice(0, participantsMax).map((participant) => ({
      bic: participant.bic,
      name: participant.name,
      accounts: participant.accounts,
      createdAt: new Date(participant.created_at).toISOString(),
    })),
    participantsTruncated: row.participants.length > participantsMax,
    sums: row.sums.map((sum) => ({ currency: sum.currency.trim(), ...amountIn(sum.currency.trim(), BigInt(sum.total)) })),
  };
}
