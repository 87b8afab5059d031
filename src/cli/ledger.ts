/**
 * `isogw ledger fund|balance` — development and operations access to the ledger in the database named by
 * DATABASE_URL (required, like `isogw migrate`):
 *
 *   fund     credits a participant's settlement account from the gateway's funding account (creating both when
 *            absent), so a dev stack has money to move;
 *   balance  prints a participant's accounts and their balances.
 *
 * Amounts are read and printed as exact decimal text in the currency's minor unit (`1000000.00` EUR, `500` JPY)
 * and never pass through a floating-point number.
 */
import { parseArgs } from 'node:util';


import { settlementCurrencyExponent } from '../iso20022/rules/currencies.ts';
import { normalizeBic } from '../ledger/accounts.ts';
import { fundSettlementAccount, FundingError, FUNDING_TEXT_LENGTH_MAX, LEDGER_MINOR_UNITS_MAX } from '../ledger/fund.ts';
import { amountIn, createPaymentReads } from '../payments/read-model.ts';
import { EXIT, type CliIo, UsageError } from './io.ts';
import { operatorDatabasePool } from './operator-database.ts';

export const LEDGER_USAGE = `usage: DATABASE_URL=postgres://user@host:5432/db isogw ledger <subcommand> [options]

subcommands:
  fund --bic BIC --currency CCY --amount DECIMAL [--name NAME] [--reference TEXT]
        credit BIC's settlement account in CCY with DECIMAL (e.g. 1000000.00 EUR) from the gateway's funding
        account, creating the participant (named NAME, default the BIC) and the account when absent
  balance --bic BIC [--currency CCY]
        print BIC's accounts (in CCY only, with --currency) and their balances

BIC8 and BIC11 (DEUTDEFF, DEUTDEFFXXX) name the same participant. DECIMAL has at most as many decimals as the
currency's minor unit (2 for EUR, 0 for JPY, 3 for KWD).
Exit status: 0 done, 1 refused (balance: no such account; fund: a balance would overflow), 2 usage error,
3 the database failed (nothing was changed).`;

/** ISO 9362 BIC, 8 or 11 characters, after upper-casing. */
const BIC = /^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$/;
/** Plain decimal text: digits, optionally a point and more digits. No sign, exponent or grouping. */
const AMOUNT_TEXT = /^([0-9]+)(?:\.([0-9]+))?$/;

export async function runLedger(args: string[], io: CliIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [subcommand, ...rest] = args;
  if (subcommand === undefined || subcommand === '--help' || subcommand === '-h' || subcommand === 'help') {
    io.out(LEDGER_USAGE);
    return subcommand === undefined ? EXIT.usage : EXIT.ok;
  }
  if (subcommand !== 'fund' && subcommand !== 'balance') throw new UsageError(`unknown ledger subcommand "${subcommand}" (fund or balance)`);
  const values = options(rest);
  if (values.help) {
    io.out(LEDGER_USAGE);
    return EXIT.ok;
  }
  const bic = bicOf(values.bic);
  const currency = values.currency === undefined ? undefined : currencyOf(values.currency);
  let fundRequest: { currency: string; amount: bigint; name: string; reference: string } | undefined;
  if (subcommand === 'fund') {
    if (currency === undefined) throw new UsageError('ledger fund needs --currency (an ISO 4217 code such as EUR)');
    if (values.amount === undefined) throw new UsageError('ledger fund needs --amount (a decimal such as 1000000.00)');
    fundRequest = {
      currency,
      amount: minorUnitsOf(values.amount, currency),
      name: textOf('--name', values.name ?? bic),
      reference: textOf('--reference', values.reference ?? `isogw ledger fund ${new Date().toISOString()}`),
    };
  } else {
    for (const option of ['amount', 'name', 'reference'] as const) {
      if (values[option] !== undefined) throw new UsageError(`ledger balance takes no --${option}`);
    }
  }
  const pool = operatorDatabasePool(env);
  try {
    if (fundRequest !== undefined) {
      const funded = await fundSettlementAccount(pool, { bic, ...fundRequest });
      const show = (minor: bigint) => `${decimalText(minor, fundRequest.currency)} ${fundRequest.currency}`;
      io.out(`funded ${bic} with ${show(fundRequest.amount)}: account ${funded.accountId}, entry ${funded.entryId}, balance ${show(funded.balance)}`);
      return EXIT.ok;
    }
    const accounts = (await createPaymentReads(pool).accountsOf([bic])).filter((account) => currency === undefined || account.currency === currency);
    if (accounts.length === 0) {
      io.err(`isogw ledger balance: ${bic} has no account${currency === undefined ? '' : ` in ${currency}`}`);
      return EXIT.rejected;
    }
    for (const account of accounts) io.out(`${account.bic} ${account.kind} ${account.currency} ${account.balance.value}  (account ${account.id})`);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof FundingError) {
      io.err(`isogw ledger ${subcommand}: ${error.message}; nothing was changed`);
      return EXIT.rejected;
    }
    io.err(`isogw ledger ${subcommand}: the database failed, nothing was changed: ${(error as Error).message}`);
    return EXIT.failure;
  } finally {
    await pool.end();
  }
}

/** The options that take a value. */
const VALUE_OPTIONS = ['--bic', '--currency', '--amount', '--name', '--reference'];

function options(args: string[]) {
  // `--amount -5` is a negative number, not a missing value followed by an option `-5`: glue it to its option so
  // the amount check can say what is wrong with it (parseArgs would call it "ambiguous").
  const glued = args.flatMap((arg, i) => {
    const previous = args[i - 1];
    if (previous !== undefined && VALUE_OPTIONS.includes(previous) && /^-[0-9.]/.test(arg)) return [];
    const next = args[i + 1];
    return VALUE_OPTIONS.includes(arg) && next !== undefined && /^-[0-9.]/.test(next) ? [`${arg}=${next}`] : [arg];
  });
  try {
    const { values, positionals } = parseArgs({
      args: glued,
      options: {
        bic: { type: 'string' },
        currency: { type: 'string' },
        amount: { type: 'string' },
        name: { type: 'string' },
        reference: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals.join(' ')}"`);
    return values;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    // parseArgs explains over several lines; a usage error is one
    throw new UsageError((error as Error).message.replaceAll('\n', ' '), { cause: error });
  }
}

function bicOf(text: string | undefined): string {
  if (text === undefined) throw new UsageError('--bic is required (e.g. DEUTDEFFXXX)');
  const bic = normalizeBic(text);
  if (!BIC.test(bic)) throw new UsageError(`--bic "${text}" is not a BIC (8 or 11 letters and digits, ISO 9362)`);
  return bic;
}

function currencyOf(text: string): string {
  const currency = text.trim().toUpperCase();
  if (!/^[A-Z]{3}$/.test(currency) || settlementCurrencyExponent(currency) === undefined) {
    throw new UsageError(`--currency "${text}" is not an ISO 4217 currency a payment may settle in`);
  }
  return currency;
}

function textOf(option: string, text: string): string {
  if (text.length < 1 || text.length > FUNDING_TEXT_LENGTH_MAX) throw new UsageError(`${option} must be 1 to ${FUNDING_TEXT_LENGTH_MAX} characters`);
  return text;
}

/**
 * `"1000000.00"` EUR → 100000000n. Refuses rather than rounds: a sign, a non-number, more decimals than the
 * currency has (even zeros: `5.00` JPY is a typo more often than not), zero, and more than a bigint holds.
 */
export function minorUnitsOf(text: string, currency: string): bigint {
  const exponent = settlementCurrencyExponent(currency);
  if (exponent === undefined) throw new UsageError(`--currency "${currency}" is not an ISO 4217 currency a payment may settle in`);
  if (/^\s*-/.test(text)) throw new UsageError(`--amount must be positive (got "${text}")`);
  const match = AMOUNT_TEXT.exec(text);
  if (match === null) throw new UsageError(`--amount "${text}" is not a decimal number such as 1000000.00`);
  const [, whole = '', fraction = ''] = match;
  if (fraction.length > exponent) {
    throw new UsageError(`--amount "${text}" has ${fraction.length} decimals; ${currency} has ${exponent === 0 ? 'none' : exponent}`);
  }
  const minor = BigInt(`${whole}${fraction.padEnd(exponent, '0')}`);
  if (minor === 0n) throw new UsageError('--amount must be more than zero');
  if (minor > LEDGER_MINOR_UNITS_MAX) throw new UsageError(`--amount "${text}" is more than the ledger holds (${decimalText(LEDGER_MINOR_UNITS_MAX, currency)} ${currency})`);
  return minor;
}

function decimalText(minor: bigint, currency: string): string {
  return amountIn(currency, minor).value;
}
