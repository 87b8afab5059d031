/**
 * Funding a participant's settlement account from outside the ledger (development and operations: the money a
 * bank prefunds with us). Double entry like everything else: the gateway's `funding` account in the currency is
 * debited — it may go negative, and its balance is minus everything ever funded — and the participant is credited.
 * The participant and its account are created when absent, all in one transaction: either the money arrived with
 * everything it needs, or nothing changed.
 */
import type pg from 'pg';

import { settlementCurrencyExponent } from '../iso20022/rules/currencies.ts';
import { ensureSettlementAccount, gatewayAccount, normalizeBic } from './accounts.ts';
import { postEntry } from './post-entry.ts';

/** ISO 9362 BIC, 8 or 11 characters (the same check the participants table makes). */
const BIC = /^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$/;
/** Participant names and entry references are 1–140 characters (Max140Text, and the tables' checks). */
export const FUNDING_TEXT_LENGTH_MAX = 140;
/** Amounts and balances are PostgreSQL bigint minor units: at most 2^63-1. */
export const LEDGER_MINOR_UNITS_MAX = 2n ** 63n - 1n;
/** SQLSTATE numeric_value_out_of_range: the new balance would not fit its bigint column. */
const NUMERIC_OUT_OF_RANGE = '22003';

export interface FundingRequest {
  /** BIC8 or BIC11; both reach the same participant. */
  readonly bic: string;
  /** Used only when the participant does not exist yet. */
  readonly name: string;
  /** ISO 4217 code of a settlement currency. */
  readonly currency: string;
  /** Minor units of `currency`, > 0. */
  readonly amount: bigint;
  /** The journal entry's business reference. */
  readonly reference: string;
}

export interface FundingResult {
  readonly accountId: bigint;
  readonly entryId: bigint;
  /** The account's balance after the funding, minor units. */
  readonly balance: bigint;
}

/** A funding request that cannot be carried out as asked; nothing was written. */
export class FundingError extends Error {
  override readonly name = 'FundingError';
}

export async function fundSettlementAccount(pool: pg.Pool, request: FundingRequest): Promise<FundingResult> {
  const bic = normalizeBic(request.bic);
  if (!BIC.test(bic)) throw new FundingError(`"${request.bic}" is not a BIC (8 or 11 letters and digits, ISO 9362)`);
  if (settlementCurrencyExponent(request.currency) === undefined) throw new FundingError(`"${request.currency}" is not an ISO 4217 currency a payment may settle in`);
  if (request.amount <= 0n) throw new FundingError(`the amount must be more than zero (got ${request.amount} minor units)`);
  if (request.amount > LEDGER_MINOR_UNITS_MAX) throw new FundingError(`the amount must be at most ${LEDGER_MINOR_UNITS_MAX} minor units`);
  for (const [field, text] of [['name', request.name], ['reference', request.reference]] as const) {
    if (text.length < 1 || text.length > FUNDING_TEXT_LENGTH_MAX) throw new FundingError(`the ${field} must be 1 to ${FUNDING_TEXT_LENGTH_MAX} characters`);
  }

  const client = await pool.connect();
  try {
    await client.query('begin');
    const account = await ensureSettlementAccount(client, { bic, name: request.name }, request.currency);
    const funding = await gatewayAccount(client, 'funding', request.currency);
    const posted = await postEntry(client, {
      kind: 'funding',
      reference: request.reference,
      lines: [
        { accountId: funding, currency: request.currency, direction: 'D', amount: request.amount },
        { accountId: account.accountId, currency: request.currency, direction: 'C', amount: request.amount },
      ],
    });
    // The funding account allows overdraft and the participant is only credited: no line can lack funds.
    if (posted.kind !== 'posted') throw new Error(`funding ${bic}: account ${posted.accountId} unexpectedly lacks funds`);
    const { rows } = await client.query<{ balance: string }>('select balance from accounts where id = $1', [account.accountId.toString()]);
    await client.query('commit');
    client.release();
    return { accountId: account.accountId, entryId: posted.entryId, balance: BigInt(rows[0]!.balance) };
  } catch (error) {
    let broken: Error | undefined;
    await client.query('rollback').catch((rollbackError: Error) => (broken = rollbackError));
    // A connection that cannot even roll back is discarded, not handed to the next caller.
    client.release(broken);
    if ((error as { code?: string }).code === NUMERIC_OUT_OF_RANGE) {
      throw new FundingError(`funding ${request.amount} ${request.currency} minor units would take a balance (${bic}'s, or the funding account's below zero) beyond ${LEDGER_MINOR_UNITS_MAX} minor units`, { cause: error });
    }
    throw error;
  }
}
