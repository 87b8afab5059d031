/**
 * The pacs.002 about ONE payment of a message, when it is not the message's own answer: the onward leg's settle and
 * release reports (onward-settlement.ts), and the RCVD report a webhook carries for a payment's first event
 * (webhooks/payload.ts). One builder, so every report the gateway sends about a single payment names it the same way.
 * Moved here unchanged from onward-settlement.ts when the webhook payload needed it too.
 */
import { buildPacs002, pacs002VersionFor, type StatusReport, type TransactionStatus } from '../iso20022/pacs002/index.ts';
import { amountIn } from './read-model.ts';

/** The payment's identifiers as the payments and messages rows hold them. */
export interface ReportedPayment {
  readonly uetr: string;
  readonly uetr_assigned: boolean;
  readonly instruction_id: string | null;
  readonly end_to_end_id: string;
  readonly tx_id: string | null;
  readonly instructing_agent: string;
  readonly msg_id: string;
  readonly message_type: string;
  readonly currency: string;
  /** Minor units, as text (bigint column). */
  readonly amount: string;
}

/** Who writes the report, and when. */
export interface ReportHeader {
  /** CreDtTm of the report. */
  readonly now: Date;
  /** GrpHdr/MsgId (Max35Text). */
  readonly newReportId: () => string;
  /** The gateway's BIC: GrpHdr/InstgAgt, when configured. */
  readonly gatewayBic?: string | undefined;
}

/** The status being reported, with its ISO reason and free text. */
export interface ReportedStatus {
  readonly status: TransactionStatus;
  readonly reason: string | undefined;
  readonly info: string | undefined;
}

/**
 * The pacs.002 about this one payment: OrgnlGrpInf names its message, one TxInfAndSts its identifiers and amount.
 * No group status — the report speaks for one transaction of a message that may have had others, whose statuses it
 * does not restate (ISO allows a report with transaction statuses only).
 *
 * @throws TypeError when the report cannot be written in the message's pacs.002 version (see buildPacs002).
 */
export function paymentStatusReportXml(payment: ReportedPayment, header: ReportHeader, change: ReportedStatus): string {
  const report: StatusReport = {
    messageId: header.newReportId(),
    creationDateTime: header.now.toISOString(),
    ...(header.gatewayBic === undefined ? {} : { instructingAgentBic: header.gatewayBic }),
    instructedAgentBic: payment.instructing_agent,
    original: { messageId: payment.msg_id, messageNameId: payment.message_type },
    groupReasons: [],
    transactions: [
      {
        status: change.status,
        reasons: change.reason === undefined ? [] : [{ code: change.reason, additionalInfo: change.info === undefined ? [] : [change.info] }],
        ...(payment.instruction_id === null ? {} : { originalInstructionId: payment.instruction_id }),
        originalEndToEndId: payment.end_to_end_id,
        ...(payment.tx_id === null ? {} : { originalTransactionId: payment.tx_id }),
        // Only a UETR the partner sent is "original"; one the gateway assigned was never in its message (as in the
        // answer the intake gave).
        ...(payment.uetr_assigned ? {} : { originalUetr: payment.uetr }),
        // The amount as exact decimal text in the currency's minor unit (48732.65 EUR): the same value the partner
        // sent, though `100.5` comes back as `100.50`.
        originalSettlementAmount: { currency: payment.currency, text: amountIn(payment.currency, BigInt(payment.amount)).value },
      },
    ],
  };
  return buildPacs002(report, pacs002VersionFor(Number(payment.message_type.slice(-2))));
}
