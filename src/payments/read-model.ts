/**
 * The read side (issue 4 §4): a payment with its status history, the pacs.002 that reports its latest status, a
 * partner's accounts and one account's balance. Queries only — nothing here writes or locks.
 *
 * Every read is one SQL statement, so it sees one snapshot: a payment row and its history can never disagree about
 * the latest event even while the intake appends one. A balance is the `accounts.balance` column, kept by postEntry
 * in the posting's transaction: one primary-key row, O(1) whatever the account's history — never a sum of postings.
 *
 * Authorisation is the caller's business (routes/payments-read.ts); the views carry what it needs (the sender's
 * client id, the agents' BICs, the account's participant BIC).
 */
import type pg from 'pg';

import { formatDecimal } from '../iso20022/decimal.ts';
import { settlementCurrencyExponent } from '../iso20022/rules/currencies.ts';
import { normalizeBic } from '../ledger/accounts.ts';

/** RFC 9562 UUID text, any case: the shape of a UETR (ISO 20022 UUIDv4Identifier, lower case on the wire). */
export const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An amount in minor units, also as exact decimal text in its currency's minor unit (`125050` EUR → `"1250.50"`). */
export interface AmountView {
  readonly minor: string;
  readonly value: string;
}

export interface MoneyView extends AmountView {
  readonly currency: string;
}

export type PaymentStatus = 'RCVD' | 'ACSP' | 'ACSC' | 'RJCT';

export interface PaymentEventView {
  readonly sequence: number;
  readonly status: PaymentStatus;
  /** ISO ExternalStatusReason1Code, when the change had one. */
  readonly reason: string | null;
  readonly reasonInfo: string | null;
  /** The journal entry this change posted, when it moved money. */
  readonly entryId: bigint | null;
  readonly at: string;
}

export interface PaymentView {
  /** Internal: the payments row, to fetch its reports. Not for partners. */
  readonly paymentId: bigint;
  /** Internal: the OAuth client that sent the message, for authorisation. Not for partners. */
  readonly clientId: string;
  readonly uetr: string;
  readonly uetrAssigned: boolean;
  readonly msgId: string;
  readonly messageType: string;
  readonly instructionId: string | null;
  readonly endToEndId: string;
  readonly txId: string | null;
  readonly instructingAgent: string;
  readonly debtorAgent: string | null;
  readonly creditorAgent: string | null;
  readonly amount: MoneyView;
  readonly route: 'on_us' | 'onward' | null;
  readonly status: PaymentStatus;
  readonly statusReason: string | null;
  /** Sequence number of the latest status event. */
  readonly sequence: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Every status event, oldest first (by sequence). */
  readonly history: readonly PaymentEventView[];
}

export interface AccountView {
  readonly id: bigint;
  readonly bic: string;
  readonly kind: string;
  readonly currency: string;
  readonly balance: AmountView;
}

export interface BalanceView {
  readonly accountId: bigint;
  /** The owning participant's BIC; null for the gateway's own accounts (suspense, clearing, funding, fees). */
  readonly bic: string | null;
  readonly kind: string;
  readonly currency: string;
  readonly balance: AmountView;
  /** The database's clock when the row was read. */
  readonly asOf: string;
}

export interface PaymentReads {
  /** The payment with this UETR (any case), with its history; undefined when none (or the text is not a UUID). */
  paymentByUetr(uetr: string): Promise<PaymentView | undefined>;
  /** The latest pacs.002 about the payment: the newest event's report, else the answer to its message. */
  latestReportXml(paymentId: bigint): Promise<string | undefined>;
  /** The accounts of the participants with these BICs (BIC8 or BIC11), ordered by BIC, currency, kind, id. */
  accountsOf(bics: readonly string[]): Promise<AccountView[]>;
  /** One account's balance: one primary-key row read. */
  balance(accountId: bigint): Promise<BalanceView | undefined>;
}

/**
 * The exact statement `balance()` runs: `accounts` by primary key, joined to its participant (by primary key too).
 * Exported so a test can EXPLAIN it and prove it stays an index lookup with no aggregate over postings.
 */
export const BALANCE_SQL = `select a.id, p.bic, a.kind, a.currency, a.balance, now() as as_of
  from accounts a left join participants p on p.id = a.participant_id
 where a.id = $1`;

const PAYMENT_SQL = `select p.id, m.client_id, p.uetr, p.uetr_assigned, m.msg_id, m.message_type, p.instruction_id,
       p.end_to_end_id, p.tx_id, p.instructing_agent, p.debtor_agent, p.creditor_agent, p.amount, p.currency,
       p.route, p.status, p.status_reason, p.sequence, p.created_at, p.updated_at,
       coalesce((select json_agg(json_build_object(
                   'sequence', e.sequence, 'status', e.status, 'reason', e.reason, 'reasonInfo', e.reason_info,
                   -- as text: a bigint in JSON would become a lossy JS number
                   'entryId', e.entry_id::text, 'at', e.at) order by e.sequence)
                   from payment_events e where e.payment_id = p.id), '[]'::json) as history
  from payments p join messages m on m.id = p.message_id
 where p.uetr = $1::uuid`;

const LATEST_REPORT_SQL = `select coalesce(
         (select e.report_xml from payment_events e
           where e.payment_id = $1 and e.report_xml is not null order by e.sequence desc limit 1),
         (select m.response_body from payments p join messages m on m.id = p.message_id where p.id = $1)) as xml`;

const ACCOUNTS_SQL = `select a.id, p.bic, a.kind, a.currency, a.balance
  from participants p join accounts a on a.participant_id = p.id
 where p.bic = any($1::text[])
 order by p.bic, a.currency, a.kind, a.id`;

interface PaymentRow {
  id: string;
  client_id: string;
  uetr: string;
  uetr_assigned: boolean;
  msg_id: string;
  message_type: string;
  instruction_id: string | null;
  end_to_end_id: string;
  tx_id: string | null;
  instructing_agent: string;
  debtor_agent: string | null;
  creditor_agent: string | null;
  amount: string;
  currency: string;
  route: 'on_us' | 'onward' | null;
  status: PaymentStatus;
  status_reason: string | null;
  sequence: number;
  created_at: Date;
  updated_at: Date;
  history: { sequence: number; status: PaymentStatus; reason: string | null; reasonInfo: string | null; entryId: string | null; at: string }[];
}

export function createPaymentReads(pool: pg.Pool): PaymentReads {
  return {
    async paymentByUetr(uetr) {
      // Not a UUID: no payment can have it, and the database would answer the cast with an error.
      if (!UUID_TEXT.test(uetr)) return undefined;
      const { rows } = await pool.query<PaymentRow>(PAYMENT_SQL, [uetr.toLowerCase()]);
      const row = rows[0];
      return row === undefined ? undefined : paymentView(row);
    },

    async latestReportXml(paymentId) {
      const { rows } = await pool.query<{ xml: string | null }>(LATEST_REPORT_SQL, [paymentId.toString()]);
      return rows[0]?.xml ?? undefined;
    },

    async accountsOf(bics) {
      const wanted = [...new Set(bics.map(normalizeBic))];
      if (wanted.length === 0) return [];
      const { rows } = await pool.query<{ id: string; bic: string; kind: string; currency: string; balance: string }>(ACCOUNTS_SQL, [wanted]);
      return rows.map((row) => ({
        id: BigInt(row.id),
        bic: row.bic,
        kind: row.kind,
        currency: row.currency,
        balance: amountIn(row.currency, BigInt(row.balance)),
      }));
    },

    async balance(accountId) {
      const { rows } = await pool.query<{ id: string; bic: string | null; kind: string; currency: string; balance: string; as_of: Date }>(BALANCE_SQL, [
        accountId.toString(),
      ]);
      const row = rows[0];
      if (row === undefined) return undefined;
      return {
        accountId: BigInt(row.id),
        bic: row.bic,
        kind: row.kind,
        currency: row.currency,
        balance: amountIn(row.currency, BigInt(row.balance)),
        asOf: row.as_of.toISOString(),
      };
    },
  };
}

function paymentView(row: PaymentRow): PaymentView {
  return {
    paymentId: BigInt(row.id),
    clientId: row.client_id,
    uetr: row.uetr,
    uetrAssigned: row.uetr_assigned,
    msgId: row.msg_id,
    messageType: row.message_type,
    instructionId: row.instruction_id,
    endToEndId: row.end_to_end_id,
    txId: row.tx_id,
    instructingAgent: row.instructing_agent,
    debtorAgent: row.debtor_agent,
    creditorAgent: row.creditor_agent,
    amount: { currency: row.currency, ...amountIn(row.currency, BigInt(row.amount)) },
    route: row.route,
    status: row.status,
    statusReason: row.status_reason,
    sequence: row.sequence,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    history: row.history.map((event) => ({
      sequence: event.sequence,
      status: event.status,
      reason: event.reason,
      reasonInfo: event.reasonInfo,
      entryId: event.entryId === null ? null : BigInt(event.entryId),
      // json_build_object renders timestamptz in the session's time zone; normalise to UTC like the other dates
      at: new Date(event.at).toISOString(),
    })),
  };
}

/**
 * Minor units with their exact decimal text. Every currency in the ledger and in payments passed
 * settlementCurrencyExponent on the way in (the intake's rules, the funding command), so an unknown one here means
 * the data was written around them: refuse to guess a scale for money.
 */
export function amountIn(currency: string, minor: bigint): AmountView {
  const exponent = settlementCurrencyExponent(currency);
  if (exponent === undefined) throw new Error(`no ISO 4217 minor unit for currency ${currency}; cannot show ${minor} minor units`);
  return { minor: minor.toString(), value: formatDecimal({ coefficient: minor, scale: exponent }) };
}
