/**
 * Turns the verdict on a pacs.008 into the pacs.002 status report that answers it.
 *
 * - Message-level reasons reject the whole message: group status RJCT, the reasons at group level.
 * - Transaction-level reasons reject their transaction; the others take the acceptance status, and the group
 *   status is derived (PART when some but not all are rejected).
 * - Every reason keeps its element path in AddtlInf, so the partner sees where the problem is.
 */
import type { CheckedMessage } from './check.ts';
import { groupStatusFor, type StatusReason, type StatusReport, type TransactionStatus, type TransactionStatusEntry } from './pacs002/index.ts';
import type { Reason } from './reasons.ts';

export interface StatusReportOptions {
  /** GrpHdr/MsgId of the pacs.002 (Max35Text), unique per report. */
  readonly messageId: string;
  /** GrpHdr/CreDtTm of the pacs.002. */
  readonly creationDateTime: string;
  /** The gateway's BIC, GrpHdr/InstgAgt of the report. */
  readonly gatewayBic?: string;
  /** Status of transactions that passed: ACTC after validation alone, ACSP/ACSC once posted. */
  readonly acceptedStatus: TransactionStatus;
  /** Per-transaction status override (by 1-based index), e.g. a ledger rejection (AM04) after validation. */
  readonly transactionStatus?: (index: number) => { status: TransactionStatus; reasons: readonly StatusReason[] } | undefined;
}

/**
 * The original ids of a schema-invalid message may themselves be what is invalid (a 40-character MsgId);
 * only values that fit the pacs.002 field are echoed, else ISO's NOTPROVIDED.
 */
function fitsMax35(text: string | undefined): text is string {
  return text !== undefined && text.length > 0 && [...text].length <= 35;
}
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/;

/** A reason as the pacs.002 carries it: the ISO code, and the element path with the explanation in AddtlInf. */
export function statusReason(reason: Reason): StatusReason {
  return { code: reason.code, additionalInfo: [`${reason.path}: ${reason.message}`] };
}

export function statusReportFor(result: CheckedMessage, options: StatusReportOptions): StatusReport {
  const { identity } = result;
  const instructedAgentBic = result.message?.group.instructingAgent?.bic ?? result.message?.transactions[0]?.instructingAgent?.bic;
  const base = {
    messageId: options.messageId,
    creationDateTime: options.creationDateTime,
    original: {
      messageId: fitsMax35(identity.messageId) ? identity.messageId : 'NOTPROVIDED',
      messageNameId: result.messageType,
      ...(identity.creationDateTime !== undefined && ISO_DATE_TIME.test(identity.creationDateTime) ? { creationDateTime: identity.creationDateTime } : {}),
    },
    ...(options.gatewayBic === undefined ? {} : { instructingAgentBic: options.gatewayBic }),
    ...(instructedAgentBic === undefined ? {} : { instructedAgentBic }),
  };
  if (result.messageReasons.length > 0) {
    return { ...base, groupStatus: 'RJCT', groupReasons: result.messageReasons.map(statusReason), transactions: [] };
  }
  const transactions = result.transactions.map((outcome): TransactionStatusEntry => {
    const override = outcome.accepted ? options.transactionStatus?.(outcome.index) : undefined;
    const status: TransactionStatus = override?.status ?? (outcome.accepted ? options.acceptedStatus : 'RJCT');
    const reasons = override?.reasons ?? outcome.reasons.map(statusReason);
    const { ids, transfer } = outcome;
    return {
      status,
      reasons,
      ...(ids.instructionId === undefined ? {} : { originalInstructionId: ids.instructionId }),
      ...(ids.endToEndId === undefined ? {} : { originalEndToEndId: ids.endToEndId }),
      ...(ids.transactionId === undefined ? {} : { originalTransactionId: ids.transactionId }),
      ...(ids.uetr === undefined ? {} : { originalUetr: ids.uetr }),
      ...(transfer === undefined
        ? {}
        : { originalSettlementAmount: { currency: transfer.settlementAmount.currency, text: transfer.settlementAmount.text } }),
    };
  });
  return { ...base, groupStatus: groupStatusFor(transactions.map((t) => t.status)), groupReasons: [], transactions };
}
