/**
 * The operator page's HTML, one function per page, rendered on the server from the views the reads return. Every
 * value goes through `html` (escaped); links carry their path segments and query values URL-encoded and then
 * HTML-escaped. The pages answer "what happened to this payment?": the list finds it by UETR, MsgId, BIC or status,
 * and its page shows its history, its pacs.002, and every webhook delivery and attempt about it.
 */
import type { PaymentView } from '../payments/read-model.ts';
import type { EndpointView } from '../webhooks/endpoints.ts';
import type { AttemptView, DeliveryState, DeliveryView, DeliveryWithAttempts, OperatorEndpointView } from '../webhooks/operations.ts';
import { html, type SafeHtml } from './html.ts';
import { type Balances, type DeadLetter, PAYMENT_STATUSES, type PaymentFilter, type PaymentSummary } from './queries.ts';

export type Section = 'payments' | 'webhooks' | 'balances';

const SECTIONS: readonly { readonly id: Section; readonly label: string; readonly href: string }[] = [
  { id: 'payments', label: 'Payments', href: '/ops/payments' },
  { id: 'webhooks', label: 'Webhooks', href: '/ops/webhooks' },
  { id: 'balances', label: 'Balances', href: '/ops/balances' },
];

/** A full document: the navigation, and a logout button for a browser session. */
export function layout(title: string, section: Section | undefined, body: SafeHtml, options: { session: boolean }): string {
  const nav = SECTIONS.map((s) => html`<a href="${s.href}" class="${s.id === section ? 'current' : ''}">${s.label}</a>`);
  const logout = options.session && html`<form method="post" action="/ops/logout"><button type="submit">Log out</button></form>`;
  return document(title, html`<header><span class="brand">iso20022-gateway · operations</span><nav>${nav}</nav>${logout}</header><main>${body}</main>`);
}

function document(title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} — iso20022-gateway</title><link rel="stylesheet" href="/ops/static/operator.css"></head>
<body>${body}</body></html>
`.__html;
}

export function loginPage(message: string | undefined): string {
  return document(
    'Operator login',
    html`<main><form class="login" method="post" action="/ops/login">
<h1>Operator login</h1>
<p class="muted">The operator token (its SHA-256 is ISOGW_OPERATOR_TOKEN_SHA256).</p>
${message !== undefined && html`<p class="error" role="alert">${message}</p>`}
<label for="token">Token</label><input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button>
</form></main>`,
  );
}

export function messageBody(heading: string, text: string): SafeHtml {
  return html`<h1>${heading}</h1><p>${text}</p><p><a href="/ops/payments">Recent payments</a></p>`;
}

// ---- payments ----------------------------------------------------------------------------------------------------

export function paymentsBody(filter: PaymentFilter, page: { payments: readonly PaymentSummary[]; nextBefore: bigint | undefined }): SafeHtml {
  const statusOptions = PAYMENT_STATUSES.map((s) => html`<option value="${s}"${filter.status === s ? html` selected` : ''}>${s}</option>`);
  const rows = page.payments.map(
    (p) => html`<tr>
<td class="mono"><a href="${paymentHref(p.uetr)}">${p.uetr}</a></td>
<td class="mono">${p.msgId}</td>
<td>${statusBadge(p.status)} ${p.statusReason !== null && html`<span class="mono">${p.statusReason}</span>`}</td>
<td class="num">${p.amount.value} ${p.amount.currency}</td>
<td>${p.route ?? '—'}</td>
<td class="mono">${p.instructingAgent}</td><td class="mono">${p.debtorAgent ?? '—'}</td><td class="mono">${p.creditorAgent ?? '—'}</td>
<td>${time(p.updatedAt)}</td>
</tr>`,
  );
  const next = page.nextBefore !== undefined && html`<a href="${paymentsHref({ ...filter, before: page.nextBefore })}">Older payments →</a>`;
  return html`<h1>Recent payments</h1>
<form class="filters" method="get" action="/ops/payments">
<label>UETR<input name="uetr" value="${filter.uetr ?? ''}" size="38"></label>
<label>MsgId<input name="msgId" value="${filter.msgId ?? ''}"></label>
<label>BIC (any agent)<input name="bic" value="${filter.bic ?? ''}" size="12"></label>
<label>Status<select name="status"><option value="">any</option>${statusOptions}</select></label>
<button type="submit">Filter</button> <a href="/ops/payments">clear</a>
</form>
<table id="payments"><thead><tr><th>UETR</th><th>MsgId</th><th>Status</th><th>Amount</th><th>Route</th><th>Instructing agent</th>
<th>Debtor agent</th><th>Creditor agent</th><th>Updated</th></tr></thead>
<tbody>${rows.length > 0 ? rows : html`<tr><td colspan="9" class="muted">No payment matches.</td></tr>`}</tbody></table>
<div class="pager">${filter.before !== undefined && html`<a href="${paymentsHref({ ...filter, before: undefined })}">← Newest</a> `}${next}</div>`;
}

export function paymentBody(payment: PaymentView, reportXml: string | undefined, deliveries: readonly DeliveryWithAttempts[]): SafeHtml {
  const history = payment.history.map(
    (e) => html`<tr><td class="num">${e.sequence}</td><td>${statusBadge(e.status)}</td><td class="mono">${e.reason ?? ''}</td>
<td>${e.reasonInfo ?? ''}</td><td class="mono">${e.entryId ?? '—'}</td><td>${time(e.at)}</td></tr>`,
  );
  return html`<h1>Payment <span class="mono">${payment.uetr}</span></h1>
<dl class="facts" id="payment-facts">
<dt>Status</dt><dd>${statusBadge(payment.status)} ${payment.statusReason ?? ''}</dd>
<dt>Amount</dt><dd class="mono">${payment.amount.value} ${payment.amount.currency} <span class="muted">(${payment.amount.minor} minor units)</span></dd>
<dt>Route</dt><dd>${payment.route ?? '—'}</dd>
<dt>Instructing agent</dt><dd class="mono">${payment.instructingAgent}</dd>
<dt>Debtor agent</dt><dd class="mono">${payment.debtorAgent ?? '—'}</dd>
<dt>Creditor agent</dt><dd class="mono">${payment.creditorAgent ?? '—'}</dd>
<dt>Sender (client)</dt><dd class="mono">${payment.clientId}</dd>
<dt>Message</dt><dd class="mono">${payment.msgId} · ${payment.messageType}</dd>
<dt>EndToEndId / TxId / InstrId</dt><dd class="mono">${payment.endToEndId} / ${payment.txId ?? '—'} / ${payment.instructionId ?? '—'}</dd>
<dt>UETR</dt><dd>${payment.uetrAssigned ? 'assigned by the gateway' : 'from the message'}</dd>
<dt>Received / updated</dt><dd>${time(payment.createdAt)} / ${time(payment.updatedAt)}</dd>
</dl>
<h2>Status history</h2>
<table id="history"><thead><tr><th>#</th><th>Status</th><th>Reason</th><th>Reason info</th><th>Journal entry</th><th>At</th></tr></thead>
<tbody>${history}</tbody></table>
<h2>Webhook deliveries</h2>
${deliveries.length === 0 ? html`<p class="muted">No webhook delivery (the sender has no endpoint for these events, or the relay has not dispatched them yet).</p>` : deliveries.map(deliveryBlock)}
<h2>Latest pacs.002</h2>
${reportXml === undefined ? html`<p class="muted">None stored.</p>` : html`<pre class="xml" id="pacs002">${reportXml}</pre>`}`;
}

function deliveryBlock(delivery: DeliveryWithAttempts): SafeHtml {
  return html`<section class="delivery">
<p>${statusBadge(delivery.state)} <span class="mono">${delivery.eventType}</span> · event ${delivery.sequence} ·
endpoint <a class="mono" href="${endpointHref(delivery.endpointId)}">${delivery.endpointId}</a> (${delivery.clientId}) ·
<span class="mono">${delivery.webhookId}</span> · ${delivery.attempts} attempt(s)
${delivery.state === 'pending' && html` · next ${time(delivery.nextAttemptAt)}`}</p>
${attemptsTable(delivery.attemptLog)}
</section>`;
}

function attemptsTable(attempts: readonly AttemptView[]): SafeHtml {
  if (attempts.length === 0) return html`<p class="muted">No attempt yet.</p>`;
  const rows = attempts.map(
    (a) => html`<tr><td class="num">${a.attempt}</td><td>${statusBadge(a.outcome)}</td><td class="num">${a.httpStatus ?? '—'}</td>
<td class="error">${a.error ?? ''}</td><td class="num">${a.retryAfterSeconds ?? ''}</td><td>${time(a.startedAt)}</td><td>${time(a.finishedAt)}</td>
<td class="mono">${a.relay}</td></tr>`,
  );
  return html`<table class="attempts"><thead><tr><th>Attempt</th><th>Outcome</th><th>HTTP</th><th>Error</th><th>Retry-After (s)</th>
<th>Started</th><th>Finished</th><th>Relay</th></tr></thead><tbody>${rows}</tbody></table>`;
}

// ---- webhooks ----------------------------------------------------------------------------------------------------

export function webhooksBody(
  endpoints: { endpoints: readonly OperatorEndpointView[]; truncated: boolean },
  dead: { deadLetters: readonly DeadLetter[]; truncated: boolean },
): SafeHtml {
  const endpointRows = endpoints.endpoints.map(
    (e) => html`<tr><td class="mono"><a href="${endpointHref(e.id)}">${e.id}</a></td><td class="mono">${e.clientId}</td><td class="mono">${e.url}</td>
<td>${e.enabled ? 'enabled' : html`<span class="error">disabled (${e.disabledReason ?? '?'})</span>`}</td>
<td class="num">${e.pendingDeliveries}</td>
<td class="num">${e.deadDeliveries > 0 ? html`<a href="${endpointHref(e.id, 'dead')}">${e.deadDeliveries}</a>` : '0'}</td>
<td>${e.eventTypes.join(', ')}</td></tr>`,
  );
  const deadRows = dead.deadLetters.map(
    (d) => html`<tr><td class="num">${d.deliveryId}</td><td class="mono"><a href="${paymentHref(d.uetr)}">${d.uetr}</a></td><td class="mono">${d.eventType}</td>
<td class="mono">${d.clientId}</td><td class="mono">${d.url}</td><td class="num">${d.attempts}</td><td class="num">${d.lastStatus ?? '—'}</td>
<td class="error">${d.lastError ?? ''}</td><td>${d.deadAt === null ? '' : time(d.deadAt)}</td></tr>`,
  );
  return html`<h1>Webhook endpoints</h1>
<table id="endpoints"><thead><tr><th>Endpoint</th><th>Partner</th><th>URL</th><th>State</th><th>Pending</th><th>Dead</th><th>Events</th></tr></thead>
<tbody>${endpointRows.length > 0 ? endpointRows : html`<tr><td colspan="7" class="muted">No endpoint registered.</td></tr>`}</tbody></table>
${endpoints.truncated && html`<p class="muted">More endpoints exist than are listed.</p>`}
<h2>Dead letters</h2>
<p class="muted">Deliveries that used up their retry schedule. A partner (or <code>isogw webhooks redeliver</code>) can send them again.</p>
<table id="dead-letters"><thead><tr><th>Delivery</th><th>Payment</th><th>Event</th><th>Partner</th><th>URL</th><th>Attempts</th><th>Last HTTP</th>
<th>Last error</th><th>Dead since</th></tr></thead>
<tbody>${deadRows.length > 0 ? deadRows : html`<tr><td colspan="9" class="muted">No dead letter.</td></tr>`}</tbody></table>
${dead.truncated && html`<p class="muted">Only the newest dead letters are listed.</p>`}`;
}

export function endpointBody(
  endpoint: EndpointView,
  state: DeliveryState | undefined,
  page: { deliveries: readonly DeliveryView[]; nextBefore: bigint | undefined },
  attempts: ReadonlyMap<bigint, readonly AttemptView[]>,
): SafeHtml {
  const states = (['pending', 'in_flight', 'delivered', 'dead'] as const).map(
    (s) => html` <a href="${endpointHref(endpoint.id, s)}"${s === state ? html` class="current"` : ''}>${s}</a>`,
  );
  const blocks = page.deliveries.map(
    (d) => html`<section class="delivery"><p>${statusBadge(d.state)} <span class="mono">${d.eventType}</span> ·
payment <a class="mono" href="${paymentHref(d.uetr)}">${d.uetr}</a> · event ${d.sequence} · <span class="mono">${d.webhookId}</span> ·
${d.attempts} attempt(s)${d.lastError !== null && html` · <span class="error">${d.lastError}</span>`}</p>
${attemptsTable(attempts.get(d.id) ?? [])}</section>`,
  );
  return html`<h1>Endpoint <span class="mono">${endpoint.id}</span></h1>
<dl class="facts"><dt>Partner</dt><dd class="mono">${endpoint.clientId}</dd><dt>URL</dt><dd class="mono">${endpoint.url}</dd>
<dt>State</dt><dd>${endpoint.enabled ? 'enabled' : `disabled (${endpoint.disabledReason ?? '?'}) since ${endpoint.disabledAt ?? '?'}`}</dd>
<dt>Description</dt><dd>${endpoint.description ?? ''}</dd><dt>Events</dt><dd>${endpoint.eventTypes.join(', ')}</dd></dl>
<p>Deliveries: <a href="${endpointHref(endpoint.id)}">all</a>${states}</p>
${blocks.length > 0 ? blocks : html`<p class="muted">No delivery.</p>`}
<div class="pager">${page.nextBefore !== undefined && html`<a href="${endpointHref(endpoint.id, state, page.nextBefore)}">Older deliveries →</a>`}</div>`;
}

// ---- balances ----------------------------------------------------------------------------------------------------

export function balancesBody(b: Balances): SafeHtml {
  const accounts = b.accounts.map(
    (a) => html`<tr><td class="num">${a.id}</td><td class="mono">${a.bic ?? 'gateway'}</td><td>${a.participantName ?? ''}</td><td>${a.kind}</td>
<td class="num">${a.balance.value}</td><td>${a.currency}</td><td>${a.overdraftAllowed ? 'yes' : ''}</td></tr>`,
  );
  const sums = b.sums.map((s) => html`<tr><td>${s.currency}</td><td class="num ${s.minor === '0' ? '' : 'error'}">${s.value}</td></tr>`);
  const participants = b.participants.map(
    (p) => html`<tr><td class="mono">${p.bic}</td><td>${p.name}</td><td class="num">${p.accounts}</td><td>${time(p.createdAt)}</td></tr>`,
  );
  return html`<h1>Balances</h1><p class="muted">As of ${time(b.asOf)} (one snapshot).</p>
<table id="accounts"><thead><tr><th>Account</th><th>Participant</th><th>Name</th><th>Kind</th><th>Balance</th><th>Currency</th><th>Overdraft</th></tr></thead>
<tbody>${accounts}</tbody></table>
${b.accountsTruncated && html`<p class="muted">More accounts exist than are listed.</p>`}
<h2>Sum per currency</h2><p class="muted">Zero when the ledger balances.</p>
<table id="sums"><thead><tr><th>Currency</th><th>Sum of balances</th></tr></thead><tbody>${sums}</tbody></table>
<h2>Participants</h2>
<table id="participants"><thead><tr><th>BIC</th><th>Name</th><th>Accounts</th><th>Since</th></tr></thead><tbody>${participants}</tbody></table>
${b.participantsTruncated && html`<p class="muted">More participants exist than are listed.</p>`}`;
}

// ---- small parts -------------------------------------------------------------------------------------------------

function statusBadge(status: string): SafeHtml {
  return html`<span class="status status-${status}">${status}</span>`;
}

/** ISO 8601 in UTC, to the second: operators compare it with logs, which are UTC too. */
function time(iso: string): SafeHtml {
  return html`<time datetime="${iso}">${iso.replace('T', ' ').replace(/\.\d{3}Z$/, 'Z')}</time>`;
}

export function paymentHref(uetr: string): string {
  return `/ops/payments/${encodeURIComponent(uetr)}`;
}

export function paymentsHref(filter: PaymentFilter): string {
  const query = new URLSearchParams();
  if (filter.uetr !== undefined) query.set('uetr', filter.uetr);
  if (filter.msgId !== undefined) query.set('msgId', filter.msgId);
  if (filter.bic !== undefined) query.set('bic', filter.bic);
  if (filter.status !== undefined) query.set('status', filter.status);
  if (filter.before !== undefined) query.set('before', filter.before.toString());
  const text = query.toString();
  return text === '' ? '/ops/payments' : `/ops/payments?${text}`;
}

function endpointHref(id: string, state?: DeliveryState, before?: bigint): string {
  const query = new URLSearchParams();
  if (state !== undefined) query.set('state', state);
  if (before !== undefined) query.set('before', before.toString());
  const text = query.toString();
  return `/ops/webhooks/endpoints/${encodeURIComponent(id)}${text === '' ? '' : `?${text}`}`;
}
