/**
 * ISO 4217 currencies a payment may settle in, with their minor units, from the `currency-codes` package
 * (the ISO 4217 list A.1 of active codes, kept up to date by its maintainers) rather than a table of our own.
 */
import currencyCodes from 'currency-codes';

/**
 * Codes in ISO 4217 that are not money a bank account settles in: precious metals, bond-market units,
 * the SDR, fund codes (units of account that accompany a real currency), the test code and "no currency".
 * ISO marks most of them with minor unit "N.A.", which the package renders as 0, so they must be named.
 */
const NOT_SETTLEMENT_CURRENCIES = new Set([
  'XAU', 'XAG', 'XPT', 'XPD', // gold, silver, platinum, palladium
  'XBA', 'XBB', 'XBC', 'XBD', // European bond-market units
  'XDR', 'XSU', 'XUA', // SDR, Sucre, ADB unit of account
  'XTS', 'XXX', // reserved for testing; no currency involved
  'BOV', 'CHE', 'CHW', 'CLF', 'COU', 'MXV', 'USN', 'UYI', 'UYW', // fund codes
]);

/**
 * Minor-unit exponent of a currency a payment may settle in (EUR → 2, JPY → 0, KWD → 3), or `undefined` if the
 * code is not an active ISO 4217 currency or is one of the non-settlement codes.
 */
export function settlementCurrencyExponent(code: string): number | undefined {
  if (NOT_SETTLEMENT_CURRENCIES.has(code)) return undefined;
  return currencyCodes.code(code)?.digits;
}
