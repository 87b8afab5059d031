/**
 * Version-independent model of a pacs.002 FIToFIPaymentStatusReport, as the gateway
 * wants to say it. How it is written for a given schema version lives in `layout.ts`
 * and `build.ts`; whether it makes sense at all lives in `consistency.ts`.
 */

/**
 * Status of one transaction (ExternalPaymentTransactionStatus1Code subset we use).
 * pacs.002.001.02–07 have closed code lists that lack some of these (see `layout.ts`).
 */
export type TransactionStatus = 'ACTC' | 'ACCP' | 'ACSP' | 'ACSC' | 'ACCC' | 'ACWC' | 'PDNG' | 'RCVD' | 'RJCT';

/** Status of the original message as a whole; `PART` exists only at this level. */
export type GroupStatus = TransactionStatus | 'PART';

/** Every {@link TransactionStatus}, for run-time checks of values typed elsewhere. */
export const TRANSACTION_STATUSES: readonly TransactionStatus[] = [
  'ACTC', 'ACCP', 'ACSP', 'ACSC', 'ACCC', 'ACWC', 'PDNG', 'RCVD', 'RJCT',
];

/** Every {@link GroupStatus}, for run-time checks of values typed elsewhere. */
export const GROUP_STATUSES: readonly GroupStatus[] = [...TRANSACTION_STATUSES, 'PART'];

/** One StsRsnInf block: a reason code plus free text. */
export interface StatusReason {
  /** ExternalStatusReason1Code, 1–4 characters (e.g. `AC03`, `AM10`, `NARR`). */
  readonly code: string;
  /**
   * Free text. Each entry may be any length: the builder splits it across as many
   * Max105Text AddtlInf occurrences as needed, so concatenating them gives it back.
   */
  readonly additionalInfo: readonly string[];
}

/** Status of one original transaction (TxInfAndSts). */
export interface TransactionStatusEntry {
  readonly statusId?: string;
  readonly originalInstructionId?: string;
  readonly originalEndToEndId?: string;
  readonly originalTransactionId?: string;
  /** Lower-case UUIDv4; written only by versions that have OrgnlUETR (pacs.002.001.10 onwards). */
  readonly originalUetr?: string;
  readonly status: TransactionStatus;
  readonly reasons: readonly StatusReason[];
  /** ISO date-time (xs:dateTime), e.g. `2026-11-21T10:15:00.123Z`. */
  readonly acceptanceDateTime?: string;
  /** OrgnlTxRef/IntrBkSttlmAmt: `text` is a decimal of at most 18 digits, 5 after the point. */
  readonly originalSettlementAmount?: { readonly currency: string; readonly text: string };
  /** OrgnlTxRef/IntrBkSttlmDt, `YYYY-MM-DD`. */
  readonly originalSettlementDate?: string;
}

/** A whole status report about one original message. */
export interface StatusReport {
  /** GrpHdr/MsgId, Max35Text. */
  readonly messageId: string;
  /** GrpHdr/CreDtTm, ISO date-time, e.g. `2026-11-21T10:15:00.123Z`. */
  readonly creationDateTime: string;
  /** GrpHdr/InstgAgt BIC: the gateway, which sends the report. */
  readonly instructingAgentBic?: string;
  /** GrpHdr/InstdAgt BIC: the partner that sent the original message. */
  readonly instructedAgentBic?: string;
  readonly original: {
    readonly messageId: string;
    /** e.g. `pacs.008.001.08`. */
    readonly messageNameId: string;
    readonly creationDateTime?: string;
  };
  /** Absent when only transaction-level statuses are reported. */
  readonly groupStatus?: GroupStatus;
  readonly groupReasons: readonly StatusReason[];
  readonly transactions: readonly TransactionStatusEntry[];
}
