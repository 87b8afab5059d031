/**
 * `isogw payments settle|release|show` — operations on payments in the database named by DATABASE_URL (required,
 * like `isogw ledger`):
 *
 *   settle   the onward leg of a held payment settled: the amount leaves suspense for the gateway's clearing
 *            account, the payment is ACSC;
 *   release  the onward leg failed: the hold is voided, the instructing agent gets the amount back, the payment is
 *            RJCT with an ISO reason code;
 *   show     "what happened to this payment?": its identifiers, amount, route, status and every status event.
 *
 * settle and release also write the pacs.002 reporting the change into the status history, and the outbox row the
 * webhook relay announces it from; ISOGW_BIC, when set, is the report's sending agent, as for the gateway.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';


import { OnwardSettlementError, EXTERNAL_STATUS_REASON_CODES, releaseHeldPayment, settleHeldPayment } from '../payments/onward-settlement.ts';
import { createPaymentReads, type PaymentView, UUID_TEXT } from '../payments/read-model.ts';
import { EXIT, type CliIo, UsageError } from './io.ts';
import { operatorDatabasePool } from './operator-database.ts';

export const PAYMENTS_USAGE = `usage: DATABASE_URL=postgres://user@host:5432/db isogw payments <subcommand> UETR [options]

subcommands:
  settle UETR
        the onward leg of the held payment UETR settled: its amount leaves the suspense account for the gateway's
        clearing account, and the payment is ACSC
  release UETR --reason CODE [--info TEXT]
        the onward leg failed: the hold is voided, the amount goes back to the instructing agent's settlement
        account, and the payment is RJCT with CODE, an ISO ExternalStatusReason1Code (e.g. AC04 account closed,
        AB05 timeout at the creditor agent); TEXT explains it to the partner (required with NARR)
  show UETR
        print the payment, its status and its status history

settle and release write the pacs.002 reporting the new status into the history and the outbox; ISOGW_BIC, when
set, is its sending agent. Settling or releasing a payment that is no longer held changes nothing.
Exit status: 0 done, 1 refused (no such payment, or not held for an onward leg: nothing was changed), 2 usage
error, 3 the database failed (nothing was changed).`;

/** ISO 9362 BIC, 8 or 11 characters. */
const BIC = /^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$/;

const SUBCOMMANDS = ['settle', 'release', 'show'] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

export async function runPayments(args: string[], io: CliIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [subcommand, ...rest] = args;
  if (subcommand === undefined || subcommand === '--help' || subcommand === '-h' || subcommand === 'help') {
    io.out(PAYMENTS_USAGE);
    return subcommand === undefined ? EXIT.usage : EXIT.ok;
  }
  if (!(SUBCOMMANDS as readonly string[]).includes(subcommand)) throw new UsageError(`unknown payments subcommand "${subcommand}" (settle, release or show)`);
  const command = subcommand as Subcommand;
  const { values, uetr: uetrText } = options(command, rest);
  if (values.help) {
    io.out(PAYMENTS_USAGE);
    return EXIT.ok;
  }
  if (uetrText === undefined) throw new UsageError(`payments ${command} needs the payment's UETR`);
  if (!UUID_TEXT.test(uetrText)) throw new UsageError(`"${uetrText}" is not a UETR (a UUID such as 8a562c67-ca16-48ba-b074-65581be6f001)`);
  const uetr = uetrText.toLowerCase();
  let reason: string | undefined;
  if (command === 'release') {
    if (values.reason === undefined) throw new UsageError('payments release needs --reason (an ISO ExternalStatusReason1Code such as AC04)');
    reason = values.reason.trim().toUpperCase();
    if (!EXTERNAL_STATUS_REASON_CODES.has(reason)) throw new UsageError(`--reason "${values.reason}" is not an ISO ExternalStatusReason1Code (e.g. AC04, AB05, AG01)`);
  } else {
    for (const option of ['reason', 'info'] as const) {
      if (values[option] !== undefined) throw new UsageError(`payments ${command} takes no --${option}`);
    }
  }
  const gatewayBic = env.ISOGW_BIC === undefined || env.ISOGW_BIC === '' ? undefined : env.ISOGW_BIC;
  if (command !== 'show' && gatewayBic !== undefined && !BIC.test(gatewayBic)) throw new UsageError(`ISOGW_BIC "${gatewayBic}" is not a BIC (8 or 11 capital letters and digits, ISO 9362)`);
  const pool = operatorDatabasePool(env);
  try {
    if (command === 'show') {
      const payment = await createPaymentReads(pool).paymentByUetr(uetr);
      if (payment === undefined) {
        io.err(`isogw payments show: no payment has UETR ${uetr}`);
        return EXIT.rejected;
      }
      for (const line of describePayment(payment)) io.out(line);
      return EXIT.ok;
    }
    const common = { uetr, now: new Date(), newReportId, gatewayBic };
    const result =
      command === 'settle'
        ? await settleHeldPayment(pool, common)
        : await releaseHeldPayment(pool, { ...common, reason: reason!, info: values.info });
    switch (result.kind) {
      case 'settled':
        io.out(`settled ${uetr}: ACSC, the held amount went from suspense to clearing (entry ${result.entryId}, status event ${result.sequence})`);
        return EXIT.ok;
      case 'released':
        io.out(`released ${uetr}: RJCT ${reason}, the held amount went back to the instructing agent (entry ${result.entryId}, status event ${result.sequence})`);
        return EXIT.ok;
      case 'not_found':
        io.err(`isogw payments ${command}: no payment has UETR ${uetr}; nothing was changed`);
        return EXIT.rejected;
      case 'not_held':
        io.err(`isogw payments ${command}: payment ${uetr} is ${result.status}, not held for an onward leg; nothing was changed`);
        return EXIT.rejected;
    }
  } catch (error) {
    // The request itself was unusable (the --info text): a usage error, found before anything was read.
    if (error instanceof OnwardSettlementError) throw new UsageError(error.message, { cause: error });
    io.err(`isogw payments ${command}: the database failed${command === 'show' ? '' : ', nothing was changed'}: ${(error as Error).message}`);
    return EXIT.failure;
  } finally {
    await pool.end();
  }
}

/** The pacs.002 MsgId of a report written here: Max35Text, unique, and telling where it came from (the gateway's are ISOGW-…). */
function newReportId(): string {
  return `ISOGW-OPS-${randomUUID().replaceAll('-', '').slice(0, 24)}`;
}

function options(command: Subcommand, args: string[]) {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: {
        reason: { type: 'string' },
        info: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
    });
    if (positionals.length > 1) throw new UsageError(`payments ${command} takes one UETR, got ${positionals.length}`);
    return { values, uetr: positionals[0] };
  } catch (error) {
    if (error instanceof UsageError) throw error;
    // parseArgs explains over several lines; a usage error is one
    throw new UsageError((error as Error).message.replaceAll('\n', ' '), { cause: error });
  }
}

/** A payment as readable lines: who, how much, where it stands, then one line per status event, oldest first. */
export function describePayment(payment: PaymentView): string[] {
  const why = (reason: string | null, info: string | null) =>
    `${reason === null ? '' : ` ${reason}`}${info === null ? '' : ` ${JSON.stringify(info)}`}`;
  const ids = [
    `EndToEndId ${payment.endToEndId}`,
    ...(payment.txId === null ? [] : [`TxId ${payment.txId}`]),
    ...(payment.instructionId === null ? [] : [`InstrId ${payment.instructionId}`]),
  ];
  const held = payment.route === 'onward' && payment.status === 'ACSP';
  const route =
    payment.route === null
      ? 'none (nothing was posted)'
      : payment.route === 'on_us'
        ? 'on-us (both agents are participants)'
        : `onward (creditor agent outside the gateway)${held ? '; held in suspense until `isogw payments settle` or `release`' : ''}`;
  return [
    `payment ${payment.uetr}${payment.uetrAssigned ? ' (UETR assigned by the gateway)' : ''}`,
    `  status     ${payment.status}${payment.statusReason === null ? '' : ` ${payment.statusReason}`} (event ${payment.sequence}, ${payment.updatedAt})`,
    `  amount     ${payment.amount.value} ${payment.amount.currency}`,
    `  route      ${route}`,
    `  agents     instructing ${payment.instructingAgent}, debtor ${payment.debtorAgent ?? '-'}, creditor ${payment.creditorAgent ?? '-'}`,
    `  message    ${payment.msgId} (${payment.messageType}), received ${payment.createdAt}`,
    `  ids        ${ids.join(', ')}`,
    'history',
    ...payment.history.map(
      (event) => `  ${event.sequence}  ${event.at}  ${event.status}${why(event.reason, event.reasonInfo)}${event.entryId === null ? '' : `  (entry ${event.entryId})`}`,
    ),
  ];
}
