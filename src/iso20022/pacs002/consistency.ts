/**
 * Version-independent sense checks on a {@link StatusReport}: the ISO 20022 pacs.002
 * message rules about group vs transaction status, plus the gateway's own requirements
 * on rejections. Whether values *fit* a given schema version is `build.ts`'s business.
 */
import { GROUP_STATUSES, TRANSACTION_STATUSES } from './model.ts';
import type { GroupStatus, StatusReason, StatusReport, TransactionStatus } from './model.ts';

/**
 * Statuses from least to most advanced, used to derive one group status from several
 * transaction statuses: received, pending, technically accepted, customer profile
 * accepted, settlement in process, accepted with change, settlement completed (debtor
 * side), credited (creditor side). RJCT is outside the progression.
 */
export const STATUS_PROGRESSION: readonly Exclude<TransactionStatus, 'RJCT'>[] = [
  'RCVD', 'PDNG', 'ACTC', 'ACCP', 'ACSP', 'ACWC', 'ACSC', 'ACCC',
];

/**
 * Group statuses under which no transaction may be RJCT: ISO GroupStatusAcceptedRule
 * (ACTC, ACCP, ACSP, ACSC, ACWC) and GroupStatusPendingRule (PDNG). ACCC postdates the
 * rule text; as an accepted status it falls under the same rule.
 */
const NO_REJECTION_UNDER: ReadonlySet<GroupStatus> = new Set(['ACTC', 'ACCP', 'ACSP', 'ACSC', 'ACWC', 'ACCC', 'PDNG']);

/**
 * The group status summarising the given transaction statuses:
 * all RJCT → RJCT; some RJCT → PART; none RJCT → the least advanced of them in
 * {@link STATUS_PROGRESSION} (so a group is never reported further along than its
 * slowest transaction; equal statuses give that status).
 *
 * Note: a derived `RCVD` means the report must not list the transactions, because ISO's
 * GroupStatusReceivedRule forbids transaction statuses under a RCVD group.
 *
 * @throws TypeError if `statuses` is empty or holds something that is not a TransactionStatus.
 */
export function groupStatusFor(statuses: readonly TransactionStatus[]): GroupStatus {
  if (statuses.length === 0) throw new TypeError('groupStatusFor: need at least one transaction status');
  let rejected = 0;
  let least = STATUS_PROGRESSION.length;
  for (const [i, status] of statuses.entries()) {
    if (status === 'RJCT') {
      rejected++;
      continue;
    }
    const rank = STATUS_PROGRESSION.indexOf(status);
    if (rank < 0) throw new TypeError(`groupStatusFor: statuses[${String(i)}] is not a transaction status: ${JSON.stringify(status)}`);
    least = Math.min(least, rank);
  }
  if (rejected === statuses.length) return 'RJCT';
  if (rejected > 0) return 'PART';
  const status = STATUS_PROGRESSION[least];
  if (status === undefined) throw new TypeError('groupStatusFor: unreachable — no status ranked');
  return status;
}

function reasonErrors(where: string, reasons: readonly StatusReason[]): string[] {
  const errors: string[] = [];
  for (const [i, reason] of reasons.entries()) {
    // ExternalStatusReason1Code NARR means "the reason is the narrative": it needs one.
    if (reason.code === 'NARR' && reason.additionalInfo.length === 0) {
      errors.push(`${where}[${String(i)}]: reason code NARR needs additionalInfo carrying the narrative`);
    }
  }
  return errors;
}

/**
 * Every way `report` breaks the pacs.002 status rules; empty when it is consistent.
 *
 * ISO 20022 message rules (FIToFIPaymentStatusReport):
 *  - GroupStatusAcceptedRule / GroupStatusPendingRule: group ACTC, ACCP, ACSP, ACSC, ACWC,
 *    ACCC or PDNG ⇒ no transaction RJCT;
 *  - GroupStatusRejectedRule: group RJCT ⇒ every listed transaction RJCT;
 *  - GroupStatusReceivedRule: group RCVD ⇒ no transaction status, i.e. none listed here;
 *  - PART and the other codes are only what the code sets allow at each level.
 * Gateway rules:
 *  - group PART ⇒ at least one listed transaction RJCT and one not;
 *  - every RJCT is explained: a RJCT transaction carries a reason; a RJCT group carries a
 *    group reason unless it lists its (then individually explained) transactions;
 *  - reason code NARR carries additional information;
 *  - no group status ⇒ at least one transaction (something must carry a status), and no
 *    group reasons (they would explain nothing);
 *  - every transaction names the original it reports on (instruction, end-to-end or
 *    transaction id, or UETR), and status ids are unique within the report.
 */
export function statusConsistencyErrors(report: StatusReport): string[] {
  const errors: string[] = [];
  const group = report.groupStatus;
  const txs = report.transactions;

  if (group !== undefined && !GROUP_STATUSES.includes(group)) {
    errors.push(`groupStatus ${JSON.stringify(group)} is not a group status (${GROUP_STATUSES.join(', ')})`);
  }
  for (const [i, tx] of txs.entries()) {
    if (!TRANSACTION_STATUSES.includes(tx.status)) {
      const hint = (tx.status as string) === 'PART' ? ' — PART exists only at group level' : '';
      errors.push(`transactions[${String(i)}].status ${JSON.stringify(tx.status)} is not a transaction status${hint}`);
    }
  }

  if (group === undefined) {
    if (txs.length === 0) errors.push('report has neither a groupStatus nor transactions: it reports no status');
    if (report.groupReasons.length > 0) errors.push('groupReasons given without a groupStatus');
  } else if (group === 'RJCT') {
    for (const [i, tx] of txs.entries()) {
      if (tx.status !== 'RJCT') errors.push(`groupStatus RJCT but transactions[${String(i)}].status is ${tx.status} (GroupStatusRejectedRule)`);
    }
    if (txs.length === 0 && report.groupReasons.length === 0) {
      errors.push('groupStatus RJCT needs at least one group reason (or the rejected transactions with theirs)');
    }
  } else if (group === 'PART') {
    const rejected = txs.filter((tx) => tx.status === 'RJCT').length;
    if (rejected === 0) errors.push('groupStatus PART but no transaction is RJCT');
    if (rejected === txs.length) errors.push('groupStatus PART but no transaction is accepted or pending — use RJCT');
  } else if (group === 'RCVD') {
    if (txs.length > 0) errors.push('groupStatus RCVD must not list transactions (GroupStatusReceivedRule)');
  } else if (NO_REJECTION_UNDER.has(group)) {
    for (const [i, tx] of txs.entries()) {
      if (tx.status === 'RJCT') errors.push(`groupStatus ${group} but transactions[${String(i)}].status is RJCT (GroupStatusAcceptedRule/GroupStatusPendingRule)`);
    }
  }

  errors.push(...reasonErrors('groupReasons', report.groupReasons));
  const statusIds = new Map<string, number>();
  for (const [i, tx] of txs.entries()) {
    const where = `transactions[${String(i)}]`;
    if (tx.status === 'RJCT' && tx.reasons.length === 0) errors.push(`${where} is RJCT but carries no reason code`);
    errors.push(...reasonErrors(`${where}.reasons`, tx.reasons));
    if (
      tx.originalInstructionId === undefined &&
      tx.originalEndToEndId === undefined &&
      tx.originalTransactionId === undefined &&
      tx.originalUetr === undefined
    ) {
      errors.push(`${where} names no original transaction (instruction, end-to-end, transaction id or UETR)`);
    }
    if (tx.statusId !== undefined) {
      const first = statusIds.get(tx.statusId);
      if (first !== undefined) errors.push(`${where}.statusId repeats transactions[${String(first)}].statusId ${JSON.stringify(tx.statusId)}`);
      else statusIds.set(tx.statusId, i);
    }
  }
  return errors;
}
