/**
 * The read side (issue 4 §4):
 *
 *   GET /payments/{uetr}           a payment, its status history, or (Accept: application/xml) its latest pacs.002
 *   GET /accounts                  the caller's participants' accounts with their balances
 *   GET /accounts/{id}/balance     one of those accounts' balance
 *
 * Every request is authenticated like any protected route, needs the payments:read scope (RFC 6750 §3.1
 * insufficient_scope otherwise) and passes the partner's `read` rate limit (routes/authorised-caller.ts) before its
 * path is even looked at. A partner sees a payment it sent (same OAuth client) or one that names one of its BICs as
 * instructing or creditor agent, and only its own accounts; anything else gets exactly the answer of something that does not exist, so probing never reveals what others hold.
 * Every answer is `Cache-Control: no-store`: statuses and balances must not sit in caches.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

import { normalizeBic } from '../ledger/accounts.ts';
import { type AccountView, type BalanceView, type PaymentReads, type PaymentView, UUID_TEXT } from '../payments/read-model.ts';
import { type IntakeResponse, pacs002Response, problemResponse } from '../payments/responses.ts';
import type { Caller } from '../security/authenticate.ts';
import { answer, authorisedCaller, type CallerGateOptions } from './authorised-caller.ts';

export { answer } from './authorised-caller.ts';

/** The scope every read needs. */
export const READ_SCOPE = 'payments:read';

/**
 * What these routes answer besides 200 and the authentication refusals; docs/errors.md is generated from it.
 * Bodies are `{error, error_description}` JSON, like the intake's problems.
 */
export const PAYMENTS_READ_ERRORS = {
  invalid_uetr: {
    status: 400,
    route: 'GET /payments/{uetr}',
    when: 'The UETR is not a UUID (8-4-4-4-12 hexadecimal digits, either case).',
  },
  payment_not_found: {
    status: 404,
    route: 'GET /payments/{uetr}',
    when: 'No payment with this UETR that the caller sent or that names one of its BICs as instructing or creditor agent. A payment the caller may not see gets exactly this answer, so its existence never leaks.',
  },
  invalid_account_id: {
    status: 400,
    route: 'GET /accounts/{id}/balance',
    when: 'The account id is not what GET /accounts lists: a positive decimal integer up to 2^63-1, without sign or leading zeros.',
  },
  account_not_found: {
    status: 404,
    route: 'GET /accounts/{id}/balance',
    when: 'No account with this id belongs to one of the caller’s BICs (a gateway account or another partner’s gets exactly this answer).',
  },
  read_unavailable: {
    status: 503,
    route: 'GET /payments/{uetr}, GET /accounts, GET /accounts/{id}/balance',
    when: 'The ledger database cannot be read right now (down, timed out); Retry-After says when to try again.',
  },
} as const;
export type PaymentsReadError = keyof typeof PAYMENTS_READ_ERRORS;

/** Seconds a client should wait before retrying a read the database could not answer. */
export const READ_UNAVAILABLE_RETRY_AFTER_SECONDS = 5;
/** Account ids are PostgreSQL bigint identities: 1 … 2^63-1. */
const ACCOUNT_ID_MAX = 2n ** 63n - 1n;
const ACCOUNT_ID_TEXT = /^[1-9][0-9]*$/;
/** Media types (RFC 9110 §12.5.1) that ask for the pacs.002 rather than JSON. */
const XML_MEDIA_TYPES: ReadonlySet<string> = new Set(['application/xml', 'text/xml']);

export interface PaymentsReadRouteOptions extends CallerGateOptions {
  readonly reads: PaymentReads;
}

export async function paymentsReadRoute(app: FastifyInstance, options: PaymentsReadRouteOptions): Promise<void> {
  const { reads } = options;

  /**
   * Runs a read for an authorised caller. The database failing is no fault of the request: 503 with Retry-After
   * (and the cause in our log), never a 500 — a read changes nothing, so a retry is always safe.
   */
  const readFor = async (request: FastifyRequest, reply: FastifyReply, read: (caller: Caller) => Promise<FastifyReply>): Promise<FastifyReply> => {
    const caller = await authorisedCaller(request, reply, options, READ_SCOPE, 'read');
    if (caller === undefined) return reply;
    try {
      return await read(caller);
    } catch (error) {
      request.log.error({ err: error }, 'read failed');
      const response = problem('read_unavailable', 'the ledger cannot be read right now; retry later');
      return answer(reply, { ...response, headers: { ...response.headers, 'retry-after': String(READ_UNAVAILABLE_RETRY_AFTER_SECONDS) } }, caller);
    }
  };

  app.get<{ Params: { uetr: string } }>('/payments/:uetr', (request, reply) => readFor(request, reply, async (caller) => {
    const uetr = request.params.uetr.toLowerCase();
    if (!UUID_TEXT.test(uetr)) {
      return answer(reply, problem('invalid_uetr', 'the UETR must be a UUID such as eb6305c9-1f7f-49de-aed0-16487c27b42d'), caller);
    }
    const payment = await reads.paymentByUetr(uetr);
    // One answer, byte for byte, for "none" and "not yours".
    const notFound = () => answer(reply, problem('payment_not_found', 'no payment with this UETR is visible to this partner'), caller);
    if (payment === undefined || !maySee(caller, payment)) return notFound();
    if (wantsXml(request.headers.accept)) {
      const xml = await reads.latestReportXml(payment.paymentId);
      if (xml === undefined) return notFound();
      return answer(reply, pacs002Response(200, xml, { vary: 'accept' }), caller);
    }
    return answer(reply, json(200, paymentJson(payment), { vary: 'accept' }), caller);
  }));

  app.get('/accounts', (request, reply) => readFor(request, reply, async (caller) => {
    const accounts = await reads.accountsOf(caller.partner.bics);
    return answer(reply, json(200, { accounts: accounts.map(accountJson) }), caller);
  }));

  app.get<{ Params: { id: string } }>('/accounts/:id/balance', (request, reply) => readFor(request, reply, async (caller) => {
    const id = accountIdOf(request.params.id);
    if (id === undefined) {
      return answer(reply, problem('invalid_account_id', 'the account id must be a positive decimal integer (see GET /accounts)'), caller);
    }
    const balance = await reads.balance(id);
    const own = new Set(caller.partner.bics.map(normalizeBic));
    if (balance === undefined || balance.bic === null || !own.has(balance.bic)) {
      return answer(reply, problem('account_not_found', 'no account with this id belongs to this partner'), caller);
    }
    return answer(reply, json(200, balanceJson(balance)), caller);
  }));
}

/** The sender, or a partner named as instructing or creditor agent (BIC8 and BIC11 are the same institution). */
export function maySee(caller: Caller, payment: PaymentView): boolean {
  if (caller.clientId === payment.clientId) return true;
  const own = new Set(caller.partner.bics.map(normalizeBic));
  return [payment.instructingAgent, payment.creditorAgent].some((bic) => bic !== null && own.has(normalizeBic(bic)));
}

/**
 * Whether the Accept header asks for XML: any XML media type with a non-zero quality wins over JSON (the pacs.002
 * is the ISO answer; JSON is the convenience). No Accept, or only other types, gets JSON.
 */
export function wantsXml(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  return accept.split(',').some((range) => {
    const [type = '', ...parameters] = range.split(';').map((part) => part.trim().toLowerCase());
    if (!XML_MEDIA_TYPES.has(type)) return false;
    const q = parameters.find((parameter) => /^q\s*=/.test(parameter));
    return q === undefined || Number(q.slice(q.indexOf('=') + 1).trim()) > 0;
  });
}

/** `"42"` → 42n; undefined for anything but a positive decimal integer that fits a bigint column. */
export function accountIdOf(text: string): bigint | undefined {
  if (!ACCOUNT_ID_TEXT.test(text) || text.length > String(ACCOUNT_ID_MAX).length) return undefined;
  const id = BigInt(text);
  return id <= ACCOUNT_ID_MAX ? id : undefined;
}

function problem(error: PaymentsReadError, description: string): IntakeResponse {
  return problemResponse(PAYMENTS_READ_ERRORS[error].status, error, description);
}

export function json(status: number, body: unknown, extraHeaders: Record<string, string> = {}): IntakeResponse {
  return {
    status,
    headers: { 'cache-control': 'no-store', 'content-type': 'application/json; charset=utf-8', ...extraHeaders },
    body: JSON.stringify(body),
  };
}

/** The partner's view: the internal row id and the sender's client id stay inside; bigints become strings. */
function paymentJson(payment: PaymentView): Record<string, unknown> {
  return {
    uetr: payment.uetr,
    uetrAssigned: payment.uetrAssigned,
    msgId: payment.msgId,
    messageType: payment.messageType,
    instructionId: payment.instructionId,
    endToEndId: payment.endToEndId,
    txId: payment.txId,
    instructingAgent: payment.instructingAgent,
    debtorAgent: payment.debtorAgent,
    creditorAgent: payment.creditorAgent,
    amount: payment.amount,
    route: payment.route,
    status: payment.status,
    statusReason: payment.statusReason,
    sequence: payment.sequence,
    createdAt: payment.createdAt,
    updatedAt: payment.updatedAt,
    history: payment.history.map((event) => ({ ...event, entryId: event.entryId === null ? null : event.entryId.toString() })),
  };
}

function accountJson(account: AccountView): Record<string, unknown> {
  return { id: account.id.toString(), bic: account.bic, kind: account.kind, currency: account.currency, balance: account.balance };
}

function balanceJson(balance: BalanceView): Record<string, unknown> {
  return {
    accountId: balance.accountId.toString(),
    bic: balance.bic,
    kind: balance.kind,
    currency: balance.currency,
    balance: balance.balance,
    asOf: balance.asOf,
  };
}
