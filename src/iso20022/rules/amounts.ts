/**
 * Amount rules: an active settlement currency (AM03), no more decimals than its minor unit (AM12), a
 * settlement amount above zero (AM01). Applied to every amount a transaction carries and to the group total.
 */
import { toMinorUnits } from '../decimal.ts';
import type { AmountText } from '../model.ts';
import { reason, type Reason } from '../reasons.ts';
import type { Rule } from './context.ts';
import { settlementCurrencyExponent } from './currencies.ts';

function checkAmount(amount: AmountText, transaction: number | undefined): Reason[] {
  const exponent = settlementCurrencyExponent(amount.currency);
  if (exponent === undefined) {
    return [reason('CURRENCY_NOT_ALLOWED', `${amount.path}/@Ccy`,
      `${amount.currency} is not an active ISO 4217 currency that payments settle in.`, transaction)];
  }
  if (toMinorUnits(amount.value, exponent) === undefined) {
    return [reason('AMOUNT_DECIMALS_EXCEED_CURRENCY', amount.path,
      `${amount.text} ${amount.currency} has more than the ${exponent} decimal${exponent === 1 ? '' : 's'} ${amount.currency} allows.`, transaction)];
  }
  return [];
}

export const amounts: Rule = ({ group, transactions }) => {
  const reasons: Reason[] = [];
  if (group.totalSettlementAmount !== undefined) reasons.push(...checkAmount(group.totalSettlementAmount, undefined));
  for (const tx of transactions) {
    reasons.push(...checkAmount(tx.settlementAmount, tx.index));
    if (tx.settlementAmount.value.coefficient === 0n) {
      reasons.push(reason('AMOUNT_ZERO', tx.settlementAmount.path, 'IntrBkSttlmAmt must be greater than zero.', tx.index));
    }
    if (tx.instructedAmount !== undefined) reasons.push(...checkAmount(tx.instructedAmount, tx.index));
    for (const charges of tx.charges) reasons.push(...checkAmount(charges.amount, tx.index));
  }
  return reasons;
};
