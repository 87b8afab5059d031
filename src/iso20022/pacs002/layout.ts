/**
 * What differs between pacs.002.001.02 … .16 in the parts of the message we write,
 * read off the official XSDs in /xsd. Everything not listed here (element order of
 * GrpHdr, OrgnlGrpInfAndSts, TxInfAndSts, OrgnlTxRef; Max35Text / Max105Text lengths;
 * xs:dateTime / xs:date; the amount type's 18 total / 5 fraction digits) is the same in
 * every version, and `build.ts` hard-codes it.
 */
import type { GroupStatus, TransactionStatus } from './model.ts';
import type { Pacs002Version } from './versions.ts';

/** The per-version facts `build.ts` needs. */
export interface Pacs002Layout {
  readonly version: Pacs002Version;
  /** e.g. `pacs.002.001.09`, for messages. */
  readonly name: string;
  readonly namespace: string;
  /** Child of Document: `pacs.002.001.02` in 02, `FIToFIPmtStsRpt` from 03. */
  readonly rootElement: string;
  /** Element under FinInstnId: `BIC` in 02–03, `BICFI` from 04. */
  readonly bicElement: 'BIC' | 'BICFI';
  /** BICIdentifier / BICFIIdentifier (02–09) or BICFIDec2014Identifier (10+). */
  readonly bicPattern: RegExp;
  /** StsRsnInf children: StsRsn/AddtlStsRsnInf in 02, Rsn/AddtlInf from 03. */
  readonly reasonElement: 'StsRsn' | 'Rsn';
  readonly additionalInfoElement: 'AddtlStsRsnInf' | 'AddtlInf';
  /** Max105Text in every version. */
  readonly additionalInfoMaxLength: number;
  /** maxOccurs of AddtlInf: unbounded in every version, kept so splitting honours it if that changes. */
  readonly additionalInfoMaxOccurs: number;
  /** GrpSts values the schema accepts; `null` = ExternalPaymentGroupStatus1Code (any 1–4 chars, 08+). */
  readonly groupStatuses: ReadonlySet<GroupStatus> | null;
  /** TxSts values the schema accepts; `null` = ExternalPaymentTransactionStatus1Code (08+). */
  readonly transactionStatuses: ReadonlySet<TransactionStatus> | null;
  /**
   * 02 types Rsn/Cd as the closed TransactionRejectReason2Code list; codes outside it are
   * written as StsRsn/Prtry instead (Max35Text), which keeps the code visible to the
   * partner rather than failing the whole report. `null` = ExternalStatusReason1Code.
   */
  readonly closedReasonCodes: ReadonlySet<string> | null;
  /** TxInfAndSts/OrgnlUETR exists (10+). */
  readonly hasOriginalUetr: boolean;
}

/** BICIdentifier (02–03) and BICFIIdentifier (04–09): the pre-2014 ISO 9362 shape. */
const BIC_2006 = /^[A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?$/;
/** BICFIDec2014Identifier (10+): ISO 9362:2014 allows digits in the party prefix. */
const BIC_2014 = /^[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$/;

/** TransactionGroupStatus1Code (02) — also has ACCR, which our model does not use. */
const GROUP_STATUS_02 = new Set<GroupStatus>(['ACTC', 'RCVD', 'PART', 'RJCT', 'PDNG', 'ACCP', 'ACSP', 'ACSC', 'ACWC']);
/** TransactionIndividualStatus1Code (02) — no RCVD, no ACCC. */
const TX_STATUS_02 = new Set<TransactionStatus>(['ACTC', 'RJCT', 'PDNG', 'ACCP', 'ACSP', 'ACSC', 'ACWC']);
/** TransactionGroupStatus3Code (03–07) — no ACCC. */
const GROUP_STATUS_03 = new Set<GroupStatus>(['ACTC', 'RCVD', 'PART', 'RJCT', 'PDNG', 'ACCP', 'ACSP', 'ACSC', 'ACWC']);
/** TransactionIndividualStatus3Code (03–07) — no RCVD, no ACCC. */
const TX_STATUS_03 = new Set<TransactionStatus>(['ACTC', 'RJCT', 'PDNG', 'ACCP', 'ACSP', 'ACSC', 'ACWC']);

/** TransactionRejectReason2Code, the closed reason list of pacs.002.001.02. */
const REJECT_REASONS_02 = new Set<string>([
  'AC01', 'AC04', 'AC06', 'AM01', 'AM02', 'AM03', 'AM04', 'AM05', 'AM06', 'AM07', 'BE01', 'BE04',
  'BE05', 'AG01', 'AG02', 'DT01', 'RF01', 'RC01', 'TM01', 'ED01', 'ED03', 'MS03', 'MS02', 'BE06',
  'BE07', 'AM09', 'AM10', 'MD01', 'MD02', 'MD03', 'MD04', 'MD06', 'MD07', 'ED05', 'NARR',
]);

type Row = Omit<Pacs002Layout, 'version' | 'name' | 'namespace' | 'additionalInfoMaxLength' | 'additionalInfoMaxOccurs'>;

/** Eras of identical shape; a version takes the last era starting at or before it. */
const ERAS: readonly (readonly [from: Pacs002Version, row: Row])[] = [
  [2, {
    rootElement: 'pacs.002.001.02', bicElement: 'BIC', bicPattern: BIC_2006,
    reasonElement: 'StsRsn', additionalInfoElement: 'AddtlStsRsnInf',
    groupStatuses: GROUP_STATUS_02, transactionStatuses: TX_STATUS_02,
    closedReasonCodes: REJECT_REASONS_02, hasOriginalUetr: false,
  }],
  [3, {
    rootElement: 'FIToFIPmtStsRpt', bicElement: 'BIC', bicPattern: BIC_2006,
    reasonElement: 'Rsn', additionalInfoElement: 'AddtlInf',
    groupStatuses: GROUP_STATUS_03, transactionStatuses: TX_STATUS_03,
    closedReasonCodes: null, hasOriginalUetr: false,
  }],
  [4, {
    rootElement: 'FIToFIPmtStsRpt', bicElement: 'BICFI', bicPattern: BIC_2006,
    reasonElement: 'Rsn', additionalInfoElement: 'AddtlInf',
    groupStatuses: GROUP_STATUS_03, transactionStatuses: TX_STATUS_03,
    closedReasonCodes: null, hasOriginalUetr: false,
  }],
  // 08: GrpSts/TxSts become External*Status1Code (any 1–4 chars).
  [8, {
    rootElement: 'FIToFIPmtStsRpt', bicElement: 'BICFI', bicPattern: BIC_2006,
    reasonElement: 'Rsn', additionalInfoElement: 'AddtlInf',
    groupStatuses: null, transactionStatuses: null,
    closedReasonCodes: null, hasOriginalUetr: false,
  }],
  // 10: OrgnlUETR appears; BICFI switches to the 2014 pattern.
  [10, {
    rootElement: 'FIToFIPmtStsRpt', bicElement: 'BICFI', bicPattern: BIC_2014,
    reasonElement: 'Rsn', additionalInfoElement: 'AddtlInf',
    groupStatuses: null, transactionStatuses: null,
    closedReasonCodes: null, hasOriginalUetr: true,
  }],
];

/**
 * The layout of pacs.002.001.`version`.
 *
 * @throws TypeError if `version` is not one of PACS002_VERSIONS.
 */
export function pacs002Layout(version: Pacs002Version): Pacs002Layout {
  if (!Number.isInteger(version) || version < 2 || version > 16) {
    throw new TypeError(`pacs002Layout: unsupported pacs.002 version ${String(version)} (expected 2–16)`);
  }
  let row: Row | undefined;
  for (const [from, candidate] of ERAS) {
    if (from <= version) row = candidate;
  }
  if (row === undefined) throw new TypeError(`pacs002Layout: no layout for version ${String(version)}`);
  const name = `pacs.002.001.${String(version).padStart(2, '0')}`;
  return {
    ...row,
    version,
    name,
    namespace: `urn:iso:std:iso:20022:tech:xsd:${name}`,
    additionalInfoMaxLength: 105,
    additionalInfoMaxOccurs: Number.POSITIVE_INFINITY,
  };
}
