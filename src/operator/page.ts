/**
 * The operator's page (issue 7 §6): a small read-only web site on the operations listener, under /ops/, that answers
 * "what happened to this payment?" — recent payments (filter by UETR, MsgId, BIC, status), a payment's status
 * history, its pacs.002 and every webhook delivery and attempt about it, webhook endpoints with their pending and
 * dead counts, the dead letters, and every account's balance with the participants.
 *
 *   GET  /ops/, /ops/payments[?uetr&msgId&bic&status&before]   recent payments, newest first, keyset pages
 *   GET  /ops/payments/{uetr}                                   one payment: history, deliveries + attempts, pacs.002
 *   GET  /ops/webhooks                                          endpoints with pending/dead counts; dead letters
 *   GET  /ops/webhooks/endpoints/{id}[?state&before]            one endpoint's deliveries with their attempts
 *   GET  /ops/balances                                          accounts, sums per currency, participants
 *   GET  /ops/api/…                                             the same four views as JSON (Bearer token only)
 *   GET  /ops/login, POST /ops/login, POST /ops/logout          the browser session (auth.ts explains the design)
 *   GET  /ops/static/operator.css                               the stylesheet (public: it holds nothing)
 *
 * Read-only: nothing here writes to the database; only the login and logout POSTs exist besides GET and HEAD, and
 * any other method on a page is 405. Pages are rendered fully on the server with no script, under a CSP of
 * default-src 'self' (so not even an injected inline script or style could run), X-Frame-Options DENY and no-store:
 * what they show (balances, partners' URLs) must not linger in caches. Every value from the database is escaped
 * (html.ts). When no operator token is configured, the listener never routes here: /ops/* is a 404.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import type pg from 'pg';

import { createPaymentReads, UUID_TEXT } from '../payments/read-model.ts';
import { getEndpoint } from '../webhooks/endpoints.ts';
import {
  attemptsOfDeliveries,
  deliveriesOfEndpoint,
  deliveriesOfPayment,
  deliveryIdOf,
  type DeliveryState,
  endpointsForOperators,
  isDeliveryState,
} from '../webhooks/operations.ts';
import { createOperatorAuth, type OperatorAuth } from './auth.ts';
import type { SafeHtml } from './html.ts';
import { OPERATOR_LIMITS } from './limits.ts';
import { balances, deadLetters, PAYMENT_STATUSES, type PaymentFilter, recentPayments } from './queries.ts';
import { OPERATOR_STYLESHEET } from './stylesheet.ts';
import {
  balancesBody,
  endpointBody,
  layout,
  loginPage,
  messageBody,
  paymentBody,
  paymentsBody,
  type Section,
  webhooksBody,
} from './views.ts';

export interface OperatorPageOptions {
  /** The gateway's pool (the app role: it may read everything shown here). */
  readonly pool: pg.Pool;
  /** SHA-256 of the operator token (32 bytes). */
  readonly tokenSha256: Uint8Array;
  readonly now?: () => Date;
}

export interface OperatorPage {
  /** Answers a request whose path is /ops or under /ops/. */
  handle(request: IncomingMessage, response: ServerResponse): Promise<void>;
}

/** Headers on every answer under /ops/. */
const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy': "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  // same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on the login form's POST, which the
  // login's cross-site check could not tell from a foreign one. Nothing leaks to other sites either way.
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
});

const REALM = 'Bearer realm="isogw-operator"';

/** What a view loads: the data (for JSON) and its page (for HTML), or why there is none. */
type Loaded =
  | { readonly kind: 'view'; readonly title: string; readonly section: Section; readonly data: unknown; readonly body: SafeHtml }
  | { readonly kind: 'problem'; readonly status: 400 | 404; readonly error: string; readonly description: string };

/** A problem the caller caused (a bad filter, an unknown id): never a 500. */
function problem(status: 400 | 404, description: string): Loaded {
  return { kind: 'problem', status, error: status === 400 ? 'invalid_request' : 'not_found', description };
}

export function createOperatorPage(options: OperatorPageOptions): OperatorPage {
  const auth = createOperatorAuth(options.tokenSha256);
  const now = options.now ?? (() => new Date());
  const reads = createPaymentReads(options.pool);
  const pool = options.pool;

  /** The view at `path` (under /ops or /ops/api, prefix removed), or undefined when no view lives there. */
  function route(path: string, query: URLSearchParams): (() => Promise<Loaded>) | undefined {
    if (path === '' || path === '/' || path === '/payments') return () => paymentsView(query);
    if (path === '/webhooks') return webhooksView;
    if (path === '/balances') return balancesView;
    const payment = /^\/payments\/([^/]+)$/.exec(path);
    if (payment !== null) return () => paymentView(decoded(payment[1]!));
    const endpoint = /^\/webhooks\/endpoints\/([^/]+)$/.exec(path);
    if (endpoint !== null) return () => endpointView(decoded(endpoint[1]!), query);
    return undefined;
  }

  async function paymentsView(query: URLSearchParams): Promise<Loaded> {
    const filter = paymentFilterOf(query);
    if (typeof filter === 'string') return problem(400, filter);
    const page = await recentPayments(pool, filter);
    return { kind: 'view', title: 'Payments', section: 'payments', data: page, body: paymentsBody(filter, page) };
  }

  async function paymentView(uetr: string): Promise<Loaded> {
    const payment = UUID_TEXT.test(uetr) ? await reads.paymentByUetr(uetr) : undefined;
    if (payment === undefined) return problem(404, `No payment has UETR ${uetr}.`);
    const [reportXml, deliveries] = await Promise.all([reads.latestReportXml(payment.paymentId), deliveriesOfPayment(pool, payment.uetr)]);
    return {
      kind: 'view',
      title: `Payment ${payment.uetr}`,
      section: 'payments',
      data: { payment, reportXml: reportXml ?? null, deliveries },
      body: paymentBody(payment, reportXml, deliveries),
    };
  }

  async function webhooksView(): Promise<Loaded> {
    const [endpoints, dead] = await Promise.all([endpointsForOperators(pool), deadLetters(pool)]);
    return { kind: 'view', title: 'Webhooks', section: 'webhooks', data: { ...endpoints, ...dead }, body: webhooksBody(endpoints, dead) };
  }

  async function endpointView(id: string, query: URLSearchParams): Promise<Loaded> {
    const stateText = query.get('state') || undefined;
    if (stateText !== undefined && !isDeliveryState(stateText)) return problem(400, 'state must be pending, in_flight, delivered or dead.');
    const state = stateText as DeliveryState | undefined;
    const beforeText = query.get('before') || undefined;
    const before = beforeText === undefined ? undefined : deliveryIdOf(beforeText);
    if (beforeText !== undefined && before === undefined) return problem(400, 'before must be a delivery id.');
    const endpoint = await getEndpoint(pool, id);
    if (endpoint === undefined) return problem(404, `No webhook endpoint has id ${id}.`);
    const page = await deliveriesOfEndpoint(pool, endpoint.id, { state, before, limit: OPERATOR_LIMITS.endpointDeliveriesPageSize });
    const attempts = await attemptsOfDeliveries(pool, page.deliveries.map((d) => d.id));
    return {
      kind: 'view',
      title: `Endpoint ${endpoint.id}`,
      section: 'webhooks',
      data: { endpoint, deliveries: page.deliveries.map((d) => ({ ...d, attemptLog: attempts.get(d.id) ?? [] })), nextBefore: page.nextBefore ?? null },
      body: endpointBody(endpoint, state, page, attempts),
    };
  }

  async function balancesView(): Promise<Loaded> {
    const data = await balances(pool);
    return { kind: 'view', title: 'Balances', section: 'balances', data, body: balancesBody(data) };
  }

  async function login(request: IncomingMessage, response: ServerResponse): Promise<void> {
    // Browsers send Origin on a form POST: one from another site is a login CSRF attempt, refused.
    const origin = request.headers.origin;
    if (origin !== undefined && origin !== `http://${request.headers.host ?? ''}`) {
      return send(response, request, 403, 'text/html; charset=utf-8', loginPage('This form must be sent from the operator page itself.'));
    }
    if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(request.headers['content-type'] ?? '')) {
      return send(response, request, 415, 'text/html; charset=utf-8', loginPage('The login form is sent as application/x-www-form-urlencoded.'));
    }
    const body = await readBody(request, OPERATOR_LIMITS.loginBodyBytesMax);
    if (body === undefined) return send(response, request, 413, 'text/html; charset=utf-8', loginPage('The login form is too large.'));
    const token = new URLSearchParams(body).get('token') ?? '';
    if (!auth.tokenMatches(token)) {
      response.setHeader('www-authenticate', REALM);
      return send(response, request, 401, 'text/html; charset=utf-8', loginPage('That is not the operator token.'));
    }
    // A fixed target: nothing in the request chooses where the browser goes next (no open redirect).
    response.setHeader('set-cookie', auth.sessionCookie(auth.newSession(now())));
    response.setHeader('location', '/ops/payments');
    return send(response, request, 303, 'text/plain; charset=utf-8', 'Logged in.');
  }

  return {
    async handle(request, response) {
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.setHeader(name, value);
      const url = new URL(request.url ?? '/', 'http://ops.invalid');
      const path = url.pathname;
      const method = request.method ?? 'GET';
      const read = method === 'GET' || method === 'HEAD';

      if (path === '/ops/static/operator.css') {
        if (!read) return methodNotAllowed(response, request, 'GET, HEAD');
        return send(response, request, 200, 'text/css; charset=utf-8', OPERATOR_STYLESHEET);
      }
      if (path === '/ops/login') {
        if (method === 'POST') return login(request, response);
        if (!read) return methodNotAllowed(response, request, 'GET, HEAD, POST');
        return send(response, request, 200, 'text/html; charset=utf-8', loginPage(undefined));
      }
      if (path === '/ops/logout') {
        if (method !== 'POST') return methodNotAllowed(response, request, 'POST');
        response.setHeader('set-cookie', auth.sessionCookie(undefined));
        response.setHeader('location', '/ops/login');
        return send(response, request, 303, 'text/plain; charset=utf-8', 'Logged out.');
      }

      const api = path === '/ops/api' || path.startsWith('/ops/api/');
      const view = route(path.slice(api ? '/ops/api'.length : '/ops'.length), url.searchParams);
      if (view === undefined) {
        return api
          ? sendJson(response, request, 404, { error: 'not_found', error_description: 'No such operator view.' })
          : send(response, request, 404, 'text/html; charset=utf-8', layout('Not found', undefined, messageBody('Not found', 'No such page.'), { session: false }));
      }
      if (!read) return methodNotAllowed(response, request, 'GET, HEAD');

      // The JSON API takes the Bearer token only; pages take it or a session cookie.
      const credential = auth.credentialOf(request, now(), !api);
      if (credential === 'none' || credential === 'invalid_token') {
        const invalid = credential === 'invalid_token';
        response.setHeader('www-authenticate', invalid ? `${REALM}, error="invalid_token"` : REALM);
        if (api) return sendJson(response, request, 401, { error: invalid ? 'invalid_token' : 'unauthorized', error_description: 'The operator token is required.' });
        return send(response, request, 401, 'text/html; charset=utf-8', loginPage(invalid ? 'That is not the operator token.' : undefined));
      }

      const loaded = await view();
      if (loaded.kind === 'problem') {
        if (api) return sendJson(response, request, loaded.status, { error: loaded.error, error_description: loaded.description });
        const title = loaded.status === 404 ? 'Not found' : 'Bad request';
        return send(response, request, loaded.status, 'text/html; charset=utf-8', layout(title, undefined, messageBody(title, loaded.description), { session: credential === 'session' }));
      }
      if (api) return sendJson(response, request, 200, loaded.data);
      return send(response, request, 200, 'text/html; charset=utf-8', layout(loaded.title, loaded.section, loaded.body, { session: credential === 'session' }));
    },
  };
}

/** The list's filter from the query string, or what is wrong with it. Empty fields mean "any". */
function paymentFilterOf(query: URLSearchParams): PaymentFilter | string {
  const max = OPERATOR_LIMITS.filterValueCharsMax;
  const value = (name: string) => query.get(name)?.trim() || undefined;
  const uetr = value('uetr');
  const msgId = value('msgId');
  const bic = value('bic');
  const status = value('status');
  const beforeText = value('before');
  for (const [name, text] of [['uetr', uetr], ['msgId', msgId], ['bic', bic]] as const) {
    if (text !== undefined && text.length > max) return `${name} is at most ${max} characters.`;
  }
  if (status !== undefined && !(PAYMENT_STATUSES as readonly string[]).includes(status)) return `status must be one of ${PAYMENT_STATUSES.join(', ')}.`;
  // Payment ids are bigint identities; a keyset cursor is one of them.
  const before = beforeText === undefined ? undefined : deliveryIdOf(beforeText);
  if (beforeText !== undefined && before === undefined) return 'before must be a payment position from a previous page.';
  return { uetr, msgId, bic, status: status as PaymentFilter['status'], before };
}

/** A path segment decoded; malformed escapes stay as they are (and then name nothing: a 404, not a 500). */
function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The body as text, or undefined when it exceeds `bytesMax` (reading stops there). */
async function readBody(request: IncomingMessage, bytesMax: number): Promise<string | undefined> {
  const declared = Number(request.headers['content-length'] ?? '0');
  if (declared > bytesMax) return undefined;
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of request) {
    bytes += (chunk as Buffer).length;
    if (bytes > bytesMax) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function methodNotAllowed(response: ServerResponse, request: IncomingMessage, allow: string): void {
  response.setHeader('allow', allow);
  sendJson(response, request, 405, { error: 'method_not_allowed', error_description: `This path answers ${allow}.` });
}

function sendJson(response: ServerResponse, request: IncomingMessage, status: number, body: unknown): void {
  // bigint ids and minor units as decimal text: JSON numbers would lose their precision.
  const text = JSON.stringify(body, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
  send(response, request, status, 'application/json; charset=utf-8', text);
}

function send(response: ServerResponse, request: IncomingMessage, status: number, contentType: string, body: string): void {
  response.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  response.end(request.method === 'HEAD' ? undefined : body);
}
