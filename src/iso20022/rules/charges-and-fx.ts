/**
 * Charges and currency conversion rules of the ISO message definition:
 * - ChargesInformationAndInstructedAmountRule: ChrgsInf requires InstdAmt (the amount before charges).
 * - InstructedAmountAndExchangeRate1Rule / 2Rule: XchgRate is required when InstdAmt and IntrBkSttlmAmt
 *   differ in currency, and not allowed when they share one.
 * - A CRED charge bearer (creditor pays all charges, deducted from the transfer) must say what was deducted
 *   (CBPR+ rule; without it the creditor cannot reconcile the amount received).
 */
import { reason, type Reason } from '../reasons.ts';
import type { Rule } from './context.ts';

export const chargesAndExchange: Rule = ({ transactions }) => {
  const reasons: Reason[] = [];
  for (const tx of transactions) {
    const firstCharges = tx.charges[0];
    if (firstCharges !== undefined && tx.instructedAmount === undefined) {
      reasons.push(reason('CHARGES_REQUIRE_INSTRUCTED_AMOUNT', firstCharges.path,
        'ChrgsInf is present, so InstdAmt (the amount before charges) must be given too.', tx.index));
    }
    if (tx.chargeBearer === 'CRED' && firstCharges === undefined) {
      reasons.push(reason('CHARGE_BEARER_CRED_WITHOUT_CHARGES', `${tx.path}/ChrgBr`,
        'ChrgBr is CRED (charges deducted from the amount), so ChrgsInf must state the charges.', tx.index));
    }
    const instructed = tx.instructedAmount;
    if (instructed === undefined) continue;
    const sameCurrency = instructed.currency === tx.settlementAmount.currency;
    if (!sameCurrency && tx.exchangeRate === undefined) {
      reasons.push(reason('EXCHANGE_RATE_REQUIRED', instructed.path,
        `InstdAmt is in ${instructed.currency} and IntrBkSttlmAmt in ${tx.settlementAmount.currency}, so XchgRate must be given.`, tx.index));
    }
    if (sameCurrency && tx.exchangeRate !== undefined) {
      reasons.push(reason('EXCHANGE_RATE_NOT_ALLOWED', tx.exchangeRate.path,
        `InstdAmt and IntrBkSttlmAmt are both in ${instructed.currency}; XchgRate is not allowed.`, tx.index));
    }
  }
  return reasons;
};
