/**
 * The second phase of an onward payment. bookMessage held the amount in the gateway's suspense account (ACSP)
 * because the creditor agent is not a participant; the onward settlement system later answers, and an operator (or,
 * later, its adapter) completes the payment:
 *
 *   settle   the onward leg settled: the held amount leaves suspense for the gateway's `clearing` account in the
 *            currency (our position towards the onward system) — journal entry `hold_post` — and the payment is ACSC;
 *   release  the onward leg failed: the hold is voided, suspense back to the instructing agent's settlement account
 *            it came from — `hold_void` — and the payment is RJCT with an ISO ExternalStatusReason1Code.
 *
 * Each is ONE transaction that starts by locking the payment row (`for update`): a concurrent settle and release of
 * the same payment queue on that lock, and the second sees the first one's status and changes nothing (`not_held`).
 * So does a repeated call: settling twice is harmless. Inside the lock: post the entry, move the status (the
 * payments_transition trigger refuses anything but ACSP → ACSC | RJCT, one sequence step), append the status event —
 * with the ledger entry and the pacs.002 reporting it — and its outbox row. All of it commits or none of it does.
 *
 * Everything here is within the isogw_app role's grants (migrations 0001, 0002): select/insert on the ledger and
 * payment tables, update of accounts.balance and of payments (status, status_reason, sequence, updated_at) — which
 * is also what `for update` on payments needs.
 */
import type { Pool, PoolClient } from 'pg';

import type { TransactionStatus } from '../iso20022/pacs002/index.ts';
import { gatewayAccount } from '../ledger/accounts.ts';
import { postEntry } from '../ledger/post-entry.ts';
import { wakeRelaysAfterCommit } from './outbox-wakeup.ts';
import { paymentStatusReportXml } from './payment-status-report.ts';
import { UUID_TEXT } from './read-model.ts';
import { appendStatusEvents, type PaymentStatus } from './status-events.ts';

export interface SettleRequest {
  /** The payment's UETR (any case). Text that is not a UUID finds no payment. */
  readonly uetr: string;
  /** CreDtTm of the pacs.002 reporting the change. */
  readonly now: Date;
  /** A fresh pacs.002 MsgId (Max35Text), like the intake's. */
  readonly newReportId: () => string;
  /** The gateway's BIC: GrpHdr/InstgAgt of the report, when configured (ISOGW_BIC). */
  readonly gatewayBic?: string | undefined;
}

export interface ReleaseRequest extends SettleRequest {
  /** ISO ExternalStatusReason1Code saying why the onward leg failed, e.g. `AC04` (account closed), `AB05` (timeout). */
  readonly reason: string;
  /** Free text for the partner (StsRsnInf/AddtlInf) and the history; required with `NARR`. */
  readonly info?: string | undefined;
}

export type OnwardSettlementResult =
  | {
      readonly kind: 'settled' | 'released';
      readonly paymentId: bigint;
      /** The hold_post / hold_void journal entry. */
      readonly entryId: bigint;
      /** Sequence number of the new status event (3 after RCVD, ACSP). */
      readonly sequence: number;
      /** The pacs.002 reporting the new status, as stored with the event. */
      readonly reportXml: string;
    }
  | { readonly kind: 'not_found' }
  /** The payment is not held for an onward leg (already ACSC or RJCT, or settled on-us): nothing was changed. */
  | { readonly kind: 'not_held'; readonly status: PaymentStatus };

/** A request that cannot be carried out as asked (unknown reason code, unusable text); nothing was read or written. */
export class OnwardSettlementError extends Error {
  override readonly name = 'OnwardSettlementError';
}

/** Deadlocks and serialization failures are the database asking us to try again; this many tries in all. */
export const ONWARD_SETTLEMENT_ATTEMPTS_MAX = 3;
const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']);

/**
 * The release explanation is an operator's note, written into the status history, the webhook and the pacs.002
 * (split over as many 105-character AddtlInf as it needs): a few sentences, not a document.
 */
export const RELEASE_INFO_CHARACTERS_MAX = 500;
/** Characters XML 1.0 cannot carry (the pacs.002 would be unwritable), and CR, which XML parsing would turn into LF. */
const NOT_IN_XML_TEXT = /[^\t\n\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/**
 * ISO 20022 ExternalStatusReason1Code, every code of the published set: the keys of
 * `external_status_reason_code.json` (shared/iso20022/codes, sha256 2c9d5b09…3bd057; the same file is
 * test/fixtures/external_status_reason_code.json, and test/integration/onward-settlement.test.ts checks this list
 * against it). Inlined because src/ must not read test fixtures, and the code set changes once a year at most.
 */
export const EXTERNAL_STATUS_REASON_CODES: ReadonlySet<string> = new Set(
  `AB01 AB02 AB03 AB04 AB05 AB06 AB07 AB08 AB09 AB10 AB11 AB12 AB13 AB15 AB21 AB26 AC01 AC02 AC03 AC04
   AC05 AC06 AC07 AC08 AC09 AC10 AC11 AC12 AC13 AC14 AC15 AC16 AEXR AG01 AG02 AG03 AG04 AG05 AG06 AG07
   AG08 AG09 AG10 AG11 AG12 AG13 AGNT ALAC AM01 AM02 AM03 AM04 AM05 AM06 AM07 AM09 AM10 AM11 AM12 AM13
   AM14 AM15 AM16 AM17 AM18 AM19 AM20 AM21 AM22 AM23 AMSE APAR ARFR ARJR ATNS BDAY BE01 BE04 BE05 BE06
   BE07 BE08 BE09 BE10 BE11 BE12 BE13 BE14 BE15 BE16 BE17 BE18 BE19 BE20 BE21 BE22 BE23 CERI CH03 CH04
   CH07 CH09 CH10 CH11 CH12 CH13 CH14 CH15 CH16 CH17 CH19 CH20 CH21 CH22 CHCO CHQC CHRG CN01 CNNS CNOR
   CURR CUST DC02 DNOR DS01 DS02 DS03 DS04 DS05 DS06 DS07 DS08 DS09 DS0A DS0B DS0C DS0D DS0E DS0F DS0G
   DS0H DS0K DS10 DS11 DS12 DS13 DS14 DS15 DS16 DS17 DS18 DS19 DS20 DS21 DS22 DS23 DS24 DS25 DS26 DS27
   DS28 DT01 DT02 DT03 DT04 DT05 DT06 DU01 DU02 DU03 DU04 DU05 DUPL ED01 ED03 ED05 ED06 EDNA EDTL EDTR
   EOL1 ERIN FF01 FF02 FF03 FF04 FF05 FF06 FF07 FF08 FF09 FF10 FF11 FF12 FF13 FOCR FR01 FRAD G000 G001
   G002 G003 G004 G005 G006 ID01 IEDT INAR INDT IPNS IRNR ISWS MD01 MD02 MD05 MD06 MD07 MINF MS02 MS03
   NARR NERI NOAR NOAS NOCM NOFR NOPG NRCH OSNS PINS RC01 RC02 RC03 RC04 RC05 RC06 RC07 RC08 RC09 RC10
   RC11 RC12 RC13 RC15 RC16 RCON RECI REPR RF01 RQNR RR01 RR02 RR03 RR04 RR05 RR06 RR07 RR08 RR09 RR10
   RR11 RR12 RTNS RUTA S000 S001 S002 S003 S004 SBRN SL01 SL02 SL03 SL11 SL12 SL13 SL14 SL15 SL16 SL17
   SL18 SNRD SPII TA01 TD01 TD02 TD03 TK01 TK02 TK03 TK09 TKCM TKSG TKSP TKVE TKXP TM01 TS01 TS04 UCRD
   UPAY`.split(/\s+/),
);

/** The onward leg settled: suspense → clearing (`hold_post`), ACSC. */
export async function settleHeldPayment(pool: Pool, request: SettleRequest): Promise<OnwardSettlementResult> {
  return completeHeldPayment(pool, request, { kind: 'settled', status: 'ACSC', reason: undefined, info: undefined });
}

/** The onward leg failed: the hold is voided, suspense → the instructing agent's account (`hold_void`), RJCT. */
export async function releaseHeldPayment(pool: Pool, request: ReleaseRequest): Promise<OnwardSettlementResult> {
  const { reason } = request;
  if (!EXTERNAL_STATUS_REASON_CODES.has(reason)) {
    throw new OnwardSettlementError(`"${reason}" is not an ISO ExternalStatusReason1Code (e.g. AC04 closed account, AB05 timeout at the creditor agent, AG01 not allowed)`);
  }
  // Line breaks as an XML reader will see them, so the history says exactly what the pacs.002 says.
  const info = request.info?.replace(/\r\n?/g, '\n');
  if (info !== undefined) {
    const length = [...info].length;
    if (length < 1 || length > RELEASE_INFO_CHARACTERS_MAX) throw new OnwardSettlementError(`the explanation must be 1 to ${RELEASE_INFO_CHARACTERS_MAX} characters (got ${length})`);
    if (NOT_IN_XML_TEXT.test(info)) throw new OnwardSettlementError('the explanation contains a control character a pacs.002 cannot carry');
  }
  // ISO's NARR means "the reason is the narrative": without one, the partner would learn nothing.
  if (reason === 'NARR' && info === undefined) throw new OnwardSettlementError('reason NARR needs an explanation (the narrative is the reason)');
  return completeHeldPayment(pool, request, { kind: 'released', status: 'RJCT', reason, info });
}

interface Completion {
  readonly kind: 'settled' | 'released';
  readonly status: Extract<TransactionStatus, 'ACSC' | 'RJCT'>;
  readonly reason: string | undefined;
  readonly info: string | undefined;
}

async function completeHeldPayment(pool: Pool, request: SettleRequest, completion: Completion): Promise<OnwardSettlementResult> {
  // payments.uetr is a uuid column: other text matches no payment (and the cast would be an error, not an answer).
  if (!UUID_TEXT.test(request.uetr)) return { kind: 'not_found' };
  for (let attempt = 1; ; attempt += 1) {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('begin');
      const result = await completeInTransaction(client, request, completion);
      // Nothing to change (not found, not held): end the transaction without writing.
      await client.query(result.kind === 'settled' || result.kind === 'released' ? 'commit' : 'rollback');
      if (result.kind === 'settled' || result.kind === 'released') wakeRelaysAfterCommit(pool);
      return result;
    } catch (error) {
      await client.query('rollback').catch((rollbackError: Error) => (broken = rollbackError));
      const code = (error as { code?: string }).code;
      if (code !== undefined && RETRYABLE_SQLSTATES.has(code) && attempt < ONWARD_SETTLEMENT_ATTEMPTS_MAX) continue;
      throw error;
    } finally {
      // A connection that cannot even roll back is discarded, not handed to the next caller.
      client.release(broken);
    }
  }
}

interface HeldPaymentRow {
  id: string;
  status: PaymentStatus;
  route: 'on_us' | 'onward' | null;
  amount: string;
  currency: string;
  debit_account_id: string | null;
  credit_account_id: string | null;
  credit_account_kind: string | null;
  sequence: number;
  uetr: string;
  uetr_assigned: boolean;
  instruction_id: string | null;
  end_to_end_id: string;
  tx_id: string | null;
  instructing_agent: string;
  msg_id: string;
  message_type: string;
}

async function completeInTransaction(client: PoolClient, request: SettleRequest, completion: Completion): Promise<OnwardSettlementResult> {
  // The row lock is what makes settle and release of one payment mutually exclusive; `of p`: the message and the
  // credit account are only read here (the accounts are locked by postEntry, in its fixed order).
  const { rows } = await client.query<HeldPaymentRow>(
    `select p.id, p.status, p.route, p.amount, p.currency, p.debit_account_id, p.credit_account_id, a.kind as credit_account_kind,
            p.sequence, p.uetr, p.uetr_assigned, p.instruction_id, p.end_to_end_id, p.tx_id, p.instructing_agent,
            m.msg_id, m.message_type
       from payments p
       join messages m on m.id = p.message_id
       left join accounts a on a.id = p.credit_account_id
      where p.uetr = $1::uuid
        for update of p`,
    [request.uetr.toLowerCase()],
  );
  const payment = rows[0];
  if (payment === undefined) return { kind: 'not_found' };
  if (payment.status !== 'ACSP' || payment.route !== 'onward') return { kind: 'not_held', status: payment.status };
  // bookMessage credits an onward hold to suspense and debits the instructing agent: anything else was written
  // around it, and moving money on a guess would make it worse.
  if (payment.credit_account_kind !== 'suspense' || payment.debit_account_id === null || payment.credit_account_id === null) {
    throw new Error(`payment ${payment.id} is held (ACSP, onward) but its hold is not instructing agent → suspense; refusing to move it`);
  }

  const paymentId = BigInt(payment.id);
  const amount = BigInt(payment.amount);
  const suspense = BigInt(payment.credit_account_id);
  // Built before anything is written: a report that cannot be written (a bad gatewayBic) changes nothing.
  const reportXml = paymentStatusReportXml(payment, request, completion);

  const creditAccount = completion.kind === 'settled' ? await gatewayAccount(client, 'clearing', payment.currency) : BigInt(payment.debit_account_id);
  const posted = await postEntry(client, {
    kind: completion.kind === 'settled' ? 'hold_post' : 'hold_void',
    reference: `payment:${paymentId}`,
    lines: [
      { accountId: suspense, currency: payment.currency, direction: 'D', amount },
      { accountId: creditAccount, currency: payment.currency, direction: 'C', amount },
    ],
  });
  // Suspense holds every payment still held, this one included: short of it means the ledger was changed around us.
  if (posted.kind !== 'posted') {
    throw new Error(`payment ${paymentId}: suspense account ${posted.accountId} holds ${posted.available} minor units, less than the held ${amount}`);
  }

  const updated = await client.query<{ sequence: number }>(
    `update payments set status = $2, status_reason = $3, sequence = sequence + 1, updated_at = now()
      where id = $1 returning sequence`,
    [payment.id, completion.status, completion.reason ?? null],
  );
  const sequence = updated.rows[0]!.sequence;
  await appendStatusEvents(client, [
    { paymentId, sequence, status: completion.status, reason: completion.reason, reasonInfo: completion.info, entryId: posted.entryId, reportXml },
  ]);
  return { kind: completion.kind, paymentId, entryId: posted.entryId, sequence, reportXml };
}
