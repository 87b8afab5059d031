/**
 * The catalogue of every reason the message core can give for rejecting a pacs.008, each with a stable id
 * (what code switches on), the ISO 20022 ExternalStatusReason1Code that goes into the pacs.002, its scope
 * (does it reject the whole message or one transaction) and what it means. `docs/errors.md` is generated
 * from this table.
 */

export type ReasonScope = 'message' | 'transaction';

export interface ReasonDefinition {
  /** ExternalStatusReason1Code reported in pacs.002 StsRsnInf/Rsn/Cd. */
  readonly iso: string;
  readonly scope: ReasonScope;
  readonly summary: string;
}

export const REASONS = {
  // ── the bytes cannot be read as a message ───────────────────────────────────────────────
  MESSAGE_TOO_LARGE: { iso: 'FF01', scope: 'message', summary: 'The message is larger than the configured byte limit.' },
  XML_ENCODING_UNSUPPORTED: { iso: 'FF01', scope: 'message', summary: 'The message is not UTF-8 (ISO 20022 XML is UTF-8).' },
  XML_DOCTYPE_FORBIDDEN: { iso: 'FF01', scope: 'message', summary: 'A DOCTYPE (DTD, entities) is present; refused to rule out entity expansion and external entity attacks.' },
  XML_NOT_WELL_FORMED: { iso: 'FF01', scope: 'message', summary: 'The bytes are not well-formed XML.' },
  XML_TOO_DEEP: { iso: 'FF01', scope: 'message', summary: 'Elements are nested deeper than the parser allows.' },
  DOCUMENT_MISSING: { iso: 'FF01', scope: 'message', summary: 'No ISO 20022 Document element was found at the top level or inside the wrapper.' },
  DOCUMENT_AMBIGUOUS: { iso: 'FF01', scope: 'message', summary: 'More than one top-level Document (or AppHdr) was found; which one to process is ambiguous.' },
  MESSAGE_TYPE_UNSUPPORTED: { iso: 'FF01', scope: 'message', summary: 'The Document namespace is missing or is not a pacs.008 version this gateway ships a schema for.' },
  HEADER_TYPE_UNSUPPORTED: { iso: 'FF01', scope: 'message', summary: 'The AppHdr namespace is missing or is not a head.001 version this gateway ships a schema for.' },
  // ── the message does not match its official schema ──────────────────────────────────────
  SCHEMA_VIOLATION: { iso: 'FF01', scope: 'message', summary: 'The Document does not validate against the official XSD of its version.' },
  HEADER_SCHEMA_VIOLATION: { iso: 'FF01', scope: 'message', summary: 'The AppHdr does not validate against the official head.001 XSD of its version.' },
  // ── group header rules ──────────────────────────────────────────────────────────────────
  NB_OF_TXS_MISMATCH: { iso: 'AM19', scope: 'message', summary: 'GrpHdr/NbOfTxs differs from the number of CdtTrfTxInf.' },
  TOO_MANY_TRANSACTIONS: { iso: 'AM18', scope: 'message', summary: 'The message carries more transactions than the gateway accepts in one message.' },
  CTRL_SUM_MISMATCH: { iso: 'AM10', scope: 'message', summary: 'GrpHdr/CtrlSum differs from the sum of IntrBkSttlmAmt.' },
  TOTAL_AMOUNT_MISMATCH: { iso: 'AM10', scope: 'message', summary: 'GrpHdr/TtlIntrBkSttlmAmt differs from the sum of IntrBkSttlmAmt.' },
  TOTAL_CURRENCY_MISMATCH: { iso: 'CURR', scope: 'message', summary: 'A transaction is settled in another currency than GrpHdr/TtlIntrBkSttlmAmt (one currency per message when a total is given).' },
  CREATION_DATE_TIME_IMPLAUSIBLE: { iso: 'DT02', scope: 'message', summary: 'GrpHdr/CreDtTm is too far in the future or too old.' },
  MESSAGE_EXPIRED: { iso: 'DT02', scope: 'message', summary: 'GrpHdr/XpryDtTm has passed.' },
  AGENT_AT_BOTH_LEVELS: { iso: 'CH17', scope: 'message', summary: 'InstgAgt/InstdAgt is given in GrpHdr and in a transaction; ISO allows one level only.' },
  INSTRUCTING_AGENT_MISSING: { iso: 'CH21', scope: 'message', summary: 'No instructing agent BIC (GrpHdr/InstgAgt or every CdtTrfTxInf/InstgAgt) identifies the sending bank.' },
  INSTRUCTING_AGENT_MIXED: { iso: 'AGNT', scope: 'message', summary: 'Transactions of one message name different instructing agents.' },
  // ── business application header (head.001) consistency ───────────────────────────────────
  HEADER_MSG_ID_MISMATCH: { iso: 'FF01', scope: 'message', summary: 'AppHdr/BizMsgIdr differs from GrpHdr/MsgId.' },
  HEADER_MSG_DEF_MISMATCH: { iso: 'FF01', scope: 'message', summary: 'AppHdr/MsgDefIdr differs from the message type of the Document namespace.' },
  HEADER_FROM_MISMATCH: { iso: 'AGNT', scope: 'message', summary: 'AppHdr/Fr does not name the instructing agent.' },
  HEADER_TO_MISMATCH: { iso: 'AGNT', scope: 'message', summary: 'AppHdr/To does not name the instructed agent.' },
  SENDER_NOT_ENTITLED: { iso: 'AGNT', scope: 'message', summary: 'The message names a sending BIC (AppHdr/Fr or InstgAgt) the authenticated partner is not registered for; checked by the gateway, not by the message core.' },
  DUPLICATE_MESSAGE: { iso: 'DUPL', scope: 'message', summary: 'The instructing agent\'s MsgId was accepted before (under another Idempotency-Key); nothing was posted again. Checked by the ledger, the final word on duplicates.' },
  // ── transaction rules ────────────────────────────────────────────────────────────────────
  DUPLICATE_PAYMENT: { iso: 'DUPL', scope: 'transaction', summary: 'The UETR, or the instructing agent\'s TxId, belongs to a payment accepted before; nothing was posted again. Checked by the ledger.' },
  INSUFFICIENT_FUNDS: { iso: 'AM04', scope: 'transaction', summary: 'The instructing agent\'s settlement account does not hold the amount; checked by the ledger when posting, and nothing was posted.' },
  NO_SETTLEMENT_ACCOUNT: { iso: 'AM03', scope: 'transaction', summary: 'The instructing agent holds no settlement account with the gateway in the settlement currency; nothing was posted.' },
  CURRENCY_NOT_ALLOWED: { iso: 'AM03', scope: 'transaction', summary: 'The currency is not an active ISO 4217 currency, or is a commodity, fund or test code.' },
  AMOUNT_DECIMALS_EXCEED_CURRENCY: { iso: 'AM12', scope: 'transaction', summary: 'The amount has more decimals than the currency\'s minor unit.' },
  AMOUNT_ZERO: { iso: 'AM01', scope: 'transaction', summary: 'IntrBkSttlmAmt is zero.' },
  SETTLEMENT_DATE_MISSING: { iso: 'DT01', scope: 'transaction', summary: 'IntrBkSttlmDt is in neither GrpHdr nor the transaction.' },
  SETTLEMENT_DATE_AT_BOTH_LEVELS: { iso: 'DT01', scope: 'transaction', summary: 'IntrBkSttlmDt is in GrpHdr and in the transaction; ISO allows one level only.' },
  DUPLICATE_REFERENCE: { iso: 'RF01', scope: 'transaction', summary: 'TxId or UETR repeats a reference used earlier in the same message.' },
  BIC_INVALID: { iso: 'RC01', scope: 'transaction', summary: 'A BIC is not a valid ISO 9362 business identifier code (format or country).' },
  DEBTOR_IBAN_INVALID: { iso: 'AC02', scope: 'transaction', summary: 'DbtrAcct IBAN fails the ISO 13616 checks (country format or mod-97 check digits).' },
  CREDITOR_IBAN_INVALID: { iso: 'AC03', scope: 'transaction', summary: 'CdtrAcct IBAN fails the ISO 13616 checks (country format or mod-97 check digits).' },
  IBAN_INVALID: { iso: 'AC01', scope: 'transaction', summary: 'An agent account IBAN fails the ISO 13616 checks.' },
  CHARGES_REQUIRE_INSTRUCTED_AMOUNT: { iso: 'CH21', scope: 'transaction', summary: 'ChrgsInf is present without InstdAmt (ISO ChargesInformationAndInstructedAmountRule).' },
  CHARGE_BEARER_CRED_WITHOUT_CHARGES: { iso: 'BE19', scope: 'transaction', summary: 'ChrgBr is CRED but no ChrgsInf says what was deducted.' },
  EXCHANGE_RATE_REQUIRED: { iso: 'CH21', scope: 'transaction', summary: 'InstdAmt is in another currency than IntrBkSttlmAmt but XchgRate is missing.' },
  EXCHANGE_RATE_NOT_ALLOWED: { iso: 'CH17', scope: 'transaction', summary: 'XchgRate is present although InstdAmt and IntrBkSttlmAmt have the same currency.' },
  CHEQUE_WITH_CREDITOR_ACCOUNT: { iso: 'CH17', scope: 'transaction', summary: 'InstrForCdtrAgt CHQB (pay by cheque) is combined with a CdtrAcct.' },
  CHEQUE_WITH_HOLD: { iso: 'CH16', scope: 'transaction', summary: 'InstrForCdtrAgt CHQB (pay by cheque) is combined with HOLD (hold cash for creditor).' },
  PHONE_WITH_TELECOM: { iso: 'CH16', scope: 'transaction', summary: 'InstrForCdtrAgt PHOB (phone beneficiary) is combined with TELB (telecom); ISO allows one of the two.' },
} as const satisfies Record<string, ReasonDefinition>;

export type ReasonId = keyof typeof REASONS;

/** One reason a message or a transaction was rejected. */
export interface Reason {
  /** Stable id from {@link REASONS}. */
  readonly id: ReasonId;
  /** ISO ExternalStatusReason1Code. */
  readonly code: string;
  /** Element path from the Document or AppHdr root, e.g. `/Document/FIToFICstmrCdtTrf/GrpHdr/CtrlSum`. */
  readonly path: string;
  readonly message: string;
  /** 1-based CdtTrfTxInf position for transaction-scoped reasons. */
  readonly transaction?: number;
}

export function reason(id: ReasonId, path: string, message: string, transaction?: number): Reason {
  const definition: ReasonDefinition = REASONS[id];
  const base = { id, code: definition.iso, path, message };
  return transaction === undefined || definition.scope === 'message' ? base : { ...base, transaction };
}
