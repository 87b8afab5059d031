/**
 * Group header totals: NbOfTxs, CtrlSum and TtlIntrBkSttlmAmt must agree with the transactions, exactly
 * (decimal arithmetic on bigint; `1250.5` equals `1250.50`).
 */
import { addDecimals, compareDecimals, formatDecimal } from '../decimal.ts';
import { reason, type Reason } from '../reasons.ts';
import type { Rule } from './context.ts';

export const numberOfTransactions: Rule = (message, { limits }) => {
  const { group, transactions } = message;
  const reasons: Reason[] = [];
  if (transactions.length > limits.transactionsPerMessageMax) {
    reasons.push(reason('TOO_MANY_TRANSACTIONS', `${group.path}/NbOfTxs`,
      `The message carries ${transactions.length} transactions; this gateway accepts at most ${limits.transactionsPerMessageMax} per message.`));
  }
  // Max15NumericText: compare as bigint so that "000001" equals 1 and 15 digits cannot overflow.
  if (BigInt(group.numberOfTransactions) !== BigInt(transactions.length)) {
    reasons.push(reason('NB_OF_TXS_MISMATCH', `${group.path}/NbOfTxs`,
      `NbOfTxs is ${group.numberOfTransactions} but the message carries ${transactions.length} CdtTrfTxInf.`));
  }
  return reasons;
};

export const controlSum: Rule = ({ group, transactions }) => {
  if (group.controlSum === undefined) return [];
  // CtrlSum is the plain sum of the amounts, whatever their currencies (ISO definition).
  const sum = addDecimals(transactions.map((tx) => tx.settlementAmount.value));
  if (compareDecimals(sum, group.controlSum.value) === 0) return [];
  return [reason('CTRL_SUM_MISMATCH', group.controlSum.path,
    `CtrlSum is ${group.controlSum.text} but the IntrBkSttlmAmt of the transactions sum to ${formatDecimal(sum)}.`)];
};

export const totalSettlementAmount: Rule = ({ group, transactions }) => {
  const total = group.totalSettlementAmount;
  if (total === undefined) return [];
  const foreign = transactions.find((tx) => tx.settlementAmount.currency !== total.currency);
  if (foreign !== undefined) {
    return [reason('TOTAL_CURRENCY_MISMATCH', `${foreign.settlementAmount.path}/@Ccy`,
      `TtlIntrBkSttlmAmt is in ${total.currency}, so every IntrBkSttlmAmt must be too; transaction ${foreign.index} is in ${foreign.settlementAmount.currency}.`)];
  }
  const sum = addDecimals(transactions.map((tx) => tx.settlementAmount.value));
  if (compareDecimals(sum, total.value) === 0) return [];
  return [reason('TOTAL_AMOUNT_MISMATCH', total.path,
    `TtlIntrBkSttlmAmt is ${total.text} ${total.currency} but the transactions sum to ${formatDecimal(sum)} ${total.currency}.`)];
};
