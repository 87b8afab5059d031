/**
 * The webhook relay end to end, on the real money path: payments posted to a real gateway (mTLS + DPoP for
 * bank-alpha, certificate-bound tokens for bank-beta), settled by the production onward-settlement code, relayed by
 * the production relay to real HTTP receivers that verify every signature with the published `standardwebhooks`
 * library. What the partner receives must be exactly what the database recorded: one webhook per status change, in
 * sequence order per payment, with the pacs.002 that reported the change, signed (v1 HMAC and v1a Ed25519), under a
 * webhook-id that never changes. Then two relays over one database: every event exactly once.
 */
import { XmlDocument } from 'libxml2-wasm';
import type pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { dispatchOutbox } from '../../src/webhooks/dispatch.ts';
import { createEndpoint, setEndpointEnabled, signingKeysFor } from '../../src/webhooks/endpoints.ts';
import { verifyAsymmetric, webhookHeaders } from '../../src/webhooks/signing.ts';
import { expectAccepted, type Matrix, readPacs002, sendMatrix, startMatrix, validCertificateBoundRequest, validDpopRequest } from '../support/auth-matrix.ts';
import { schemas } from '../support/fixtures.ts';
import { startWebhookReceiver, type ReceivedRequest, type WebhookReceiver } from '../support/webhook-receiver.ts';
import { appPool, attemptsOf, deliveriesOf, eventually, expectedWebhookIds, parseWebhookId, settle, startTestRelay } from '../support/webhook-relay.ts';

/** Generous for a loaded 2-core box; deliveries normally arrive within a few hundred milliseconds. */
const ARRIVAL_TIMEOUT_MS = 20_000;
const SCHEDULE_MS = [50, 100, 150];

let matrix: Matrix;
/** The gateway's role (isogw_app), as the relay uses it. */
let app: pg.Pool;
const receivers: WebhookReceiver[] = [];
/** bank-alpha's endpoint and its receiver, from the first delivery test. */
let alphaEndpoint: Awaited<ReturnType<typeof endpointFor>>;
let alphaReceiver: WebhookReceiver;

beforeAll(async () => {
  matrix = await startMatrix();
  app = appPool(matrix.gateway.database.url);
});

afterAll(async () => {
  await Promise.allSettled(receivers.map((receiver) => receiver.close()));
  await app?.end();
  await matrix?.close();
});

async function receiver(): Promise<WebhookReceiver> {
  const started = await startWebhookReceiver();
  receivers.push(started);
  return started;
}

async function endpointFor(clientId: string, hooks: WebhookReceiver, eventTypes?: string[]) {
  const created = await createEndpoint(app, { clientId, url: hooks.url, eventTypes }, { allowInsecureEndpoints: true });
  hooks.setSecrets([created.keys.secret]);
  return created;
}

/** bank-alpha's pacs.008 through the gateway: one payment held for the onward leg. */
async function postAlpha(): Promise<string> {
  const { request } = await validDpopRequest(matrix);
  const answer = await sendMatrix(request);
  expectAccepted(answer);
  return answer.body;
}

/** bank-beta's pacs.008 through the gateway: ten payments settled on-us. */
async function postBeta(): Promise<string> {
  const { request } = await validCertificateBoundRequest(matrix);
  const answer = await sendMatrix(request);
  expectAccepted(answer);
  return answer.body;
}

interface WebhookBody {
  type: string;
  timestamp: string;
  data: Record<string, unknown> & { uetr: string; sequence: number; status: string; pacs002: string | null };
}

function bodyOf(request: ReceivedRequest): WebhookBody {
  return JSON.parse(request.body) as WebhookBody;
}

function expectXsdValid(xml: string): void {
  const namespace = /xmlns="urn:iso:std:iso:20022:tech:xsd:(pacs\.002\.001\.\d{2})"/.exec(xml)?.[1];
  expect(namespace).toBeDefined();
  const doc = XmlDocument.fromString(xml);
  try {
    schemas.validatorFor(namespace!).validate(doc);
  } finally {
    doc.dispose();
  }
}

/** For every payment, its events arrive in sequence order: nothing of sequence s before a 2xx for s - 1. */
function expectOrderPerPayment(hooks: WebhookReceiver): void {
  const deliveredUpTo = new Map<string, number>();
  for (const request of hooks.requests) {
    const { uetrHex, sequence } = parseWebhookId(request.id!);
    const done = deliveredUpTo.get(uetrHex) ?? 0;
    expect(sequence, `${request.id} arrived before sequence ${sequence - 1} was delivered`).toBeLessThanOrEqual(done + 1);
    if (/^2\d\d/.test(request.answer)) deliveredUpTo.set(uetrHex, Math.max(done, sequence));
  }
}

describe('dispatch', () => {
  it('stamps an event that no endpoint subscribes to and creates no delivery for it', async () => {
    await postAlpha(); // before any endpoint exists
    const dispatched = await dispatchOutbox(app, { batchRows: 200 });
    expect(dispatched).toBe(2); // RCVD, ACSP
    const { rows } = await matrix.gateway.database.pool.query<{ undispatched: number; deliveries: number }>(
      'select (select count(*)::int from outbox where dispatched_at is null) as undispatched, (select count(*)::int from webhook_deliveries) as deliveries',
    );
    expect(rows[0]).toEqual({ undispatched: 0, deliveries: 0 });
    expect(await dispatchOutbox(app, { batchRows: 200 })).toBe(0);
  });
});

describe('every status change reaches the endpoints of the payment’s sender', () => {
  it('in sequence order, exactly as recorded, with the pacs.002 of the change, signed v1 and v1a, under a stable webhook-id', async () => {
    const alphaHooks = await receiver();
    const betaHooks = await receiver();
    const settledHooks = await receiver();
    const alpha = await endpointFor('bank-alpha', alphaHooks);
    alphaEndpoint = alpha;
    alphaReceiver = alphaHooks;
    await endpointFor('bank-beta', betaHooks);
    await endpointFor('bank-beta', settledHooks, ['payment.settled']);

    const alphaAnswer = await postAlpha();
    const betaAnswer = await postBeta();
    const { rows: held } = await app.query<{ uetr: string }>(
      `select p.uetr from payments p join messages m on m.id = p.message_id where m.client_id = 'bank-alpha' and p.status = 'ACSP' and m.response_body = $1`,
      [alphaAnswer],
    );
    expect(held).toHaveLength(1);
    const heldUetr = held[0]!.uetr;
    await settle(app, heldUetr);

    const relay = await startTestRelay(matrix.gateway.database.url, { pool: app, retryScheduleMs: SCHEDULE_MS });
    try {
      await alphaHooks.waitFor((r) => r.delivered().length >= 3, ARRIVAL_TIMEOUT_MS);
      await betaHooks.waitFor((r) => r.delivered().length >= 20, ARRIVAL_TIMEOUT_MS);
      await settledHooks.waitFor((r) => r.delivered().length >= 10, ARRIVAL_TIMEOUT_MS);
    } finally {
      await relay.close();
    }

    // Only the sender's events, each once, every one verified by the standardwebhooks library.
    const owner = matrix.gateway.database.pool;
    const heldIds = (await expectedWebhookIds(owner, 'bank-alpha')).filter((id) => id.includes(heldUetr.replaceAll('-', '')));
    expect(alphaHooks.requests.map((r) => r.id)).toEqual(heldIds);
    expect(alphaHooks.requests.every((r) => r.verified)).toBe(true);
    expect(betaHooks.requests.map((r) => r.id).sort()).toEqual((await expectedWebhookIds(owner, 'bank-beta')).sort());
    expect(betaHooks.requests.every((r) => r.verified)).toBe(true);
    expect(settledHooks.requests.map((r) => bodyOf(r).type)).toEqual(Array(10).fill('payment.settled'));
    expectOrderPerPayment(alphaHooks);
    expectOrderPerPayment(betaHooks);

    // The held payment's three events, field by field against what the database recorded.
    const { rows: events } = await owner.query<{ sequence: number; status: string; reason: string | null; report_xml: string | null; at: Date; payload: Record<string, unknown> }>(
      `select e.sequence, e.status, e.reason, e.report_xml, e.at, o.payload
         from payment_events e join payments p on p.id = e.payment_id join outbox o on o.event_id = e.id
        where p.uetr = $1 order by e.sequence`,
      [heldUetr],
    );
    expect(events.map((e) => e.status)).toEqual(['RCVD', 'ACSP', 'ACSC']);
    const bodies = alphaHooks.requests.map(bodyOf);
    expect(bodies.map((b) => b.type)).toEqual(['payment.received', 'payment.accepted_in_process', 'payment.settled']);
    for (const [index, body] of bodies.entries()) {
      const event = events[index]!;
      const { pacs002, ...data } = body.data;
      const { type, ...recorded } = event.payload;
      expect(type).toBe(body.type);
      expect(data).toEqual(recorded);
      expect(body.timestamp).toBe(event.at.toISOString());
      expect(data).toMatchObject({ uetr: heldUetr, sequence: index + 1, status: event.status, instructingAgent: 'DEUTDEFFXXX', messageType: 'pacs.008.001.08' });
      expect(data['amount']).toEqual({ currency: 'EUR', minor: expect.stringMatching(/^\d+$/) });
      expect(alphaHooks.requests[index]!.id).toBe(`evt_${heldUetr.replaceAll('-', '')}_${index + 1}`);
      expect(pacs002).toEqual(expect.any(String));
      expectXsdValid(pacs002!);
    }
    // RCVD: a one-transaction report built for the event; ACSP: the answer the partner got to its POST; ACSC: the
    // report the onward settlement wrote.
    expect(readPacs002(bodies[0]!.data.pacs002!).transactionStatuses).toEqual(['RCVD']);
    expect(bodies[0]!.data.pacs002).toContain(`<OrgnlUETR>${heldUetr}</OrgnlUETR>`);
    expect(bodies[1]!.data.pacs002).toBe(alphaAnswer);
    expect(bodies[2]!.data.pacs002).toBe(events[2]!.report_xml);
    expect(readPacs002(bodies[2]!.data.pacs002!).transactionStatuses).toEqual(['ACSC']);

    // bank-beta's ACSC webhooks carry the answer to its message, and name the payment they are about.
    for (const request of betaHooks.requests) {
      const body = bodyOf(request);
      if (body.data.status === 'ACSC') expect(body.data.pacs002).toBe(betaAnswer);
      expect(request.id).toBe(`evt_${body.data.uetr.replaceAll('-', '')}_${body.data.sequence}`);
    }

    // v1a: the Ed25519 signature verifies with only the partner's whpk_ public key.
    for (const request of alphaHooks.requests) {
      expect(request.signature!.split(' ').map((signature) => signature.split(',')[0]).sort()).toEqual(['v1', 'v1a']);
      expect(verifyAsymmetric(alpha.keys.publicKey, request.headers, request.body)).toBe(true);
    }

    // Recorded: one attempt each, delivered, and the endpoint's deliveries all delivered.
    const deliveries = await deliveriesOf(owner, alpha.endpoint.id);
    expect(deliveries.map((d) => [d.sequence, d.state, d.attempts, d.last_status])).toEqual([
      [1, 'delivered', 1, 200],
      [2, 'delivered', 1, 200],
      [3, 'delivered', 1, 200],
    ]);
    const attempts = await attemptsOf(owner, alpha.endpoint.id);
    expect(attempts.map((a) => [a.webhook_id, a.attempt, a.outcome, a.http_status, a.relay])).toEqual(
      heldIds.map((id) => [id, 1, 'delivered', 200, relay.relay.relayId]),
    );
  });

  it('a tampered body, a changed timestamp or a stale one fails verification, with the library and with v1a', async () => {
    const request = alphaReceiver.delivered()[0]!;
    const keys = await signingKeysFor(app, alphaEndpoint.endpoint.id);
    const whpk = alphaEndpoint.keys.publicKey;
    const whsec = alphaEndpoint.keys.secret;
    const library = new Webhook(whsec);
    const now = Math.floor(Date.now() / 1000);
    const fresh = webhookHeaders(keys, request.id!, now, request.body);

    // The original bytes, freshly signed, verify; one changed byte does not.
    expect(library.verify(request.body, fresh)).toEqual(JSON.parse(request.body));
    const tampered = request.body.replace('"DEUTDEFFXXX"', '"DEUTDEFFXXY"');
    expect(tampered).not.toBe(request.body);
    expect(() => library.verify(tampered, fresh)).toThrow(/signature/i);
    expect(verifyAsymmetric(whpk, fresh, request.body)).toBe(true);
    expect(verifyAsymmetric(whpk, fresh, tampered)).toBe(false);

    // The timestamp is signed: moving it (to replay later) breaks the signature.
    const moved = { ...fresh, 'webhook-timestamp': String(now + 1) };
    expect(() => library.verify(request.body, moved)).toThrow(/signature/i);
    expect(verifyAsymmetric(whpk, moved, request.body)).toBe(false);

    // Correctly signed, but 10 minutes old: outside the 5-minute tolerance, refused.
    const stale = webhookHeaders(keys, request.id!, now - 600, request.body);
    expect(() => library.verify(request.body, stale)).toThrow(/too old/i);
    expect(verifyAsymmetric(whpk, stale, request.body)).toBe(false);
  });
});

describe('two relays over one database', () => {
  it('deliver ~100 events, each webhook-id exactly once (no delivery attempt is sent twice), in order per payment', async () => {
    // Only the new endpoint receives from here on: the earlier bank-beta endpoints are paused (their deliveries wait).
    for (const { id } of (await app.query<{ id: string }>(`select id from webhook_endpoints where client_id = 'bank-beta'`)).rows) {
      await setEndpointEnabled(app, id, false, 'operator');
    }
    const hooks = await receiver();
    const endpoint = await endpointFor('bank-beta', hooks);
    const owner = matrix.gateway.database.pool;
    const before = new Set(await expectedWebhookIds(owner, 'bank-beta'));

    const first = await startTestRelay(matrix.gateway.database.url, { relayId: 'relay-a', retryScheduleMs: SCHEDULE_MS });
    const second = await startTestRelay(matrix.gateway.database.url, { relayId: 'relay-b', retryScheduleMs: SCHEDULE_MS });
    try {
      // Five messages of ten payments, posted while both relays run: 50 payments, 100 events.
      await Promise.all(Array.from({ length: 5 }, () => postBeta()));
      const expected = (await expectedWebhookIds(owner, 'bank-beta')).filter((id) => !before.has(id));
      expect(expected).toHaveLength(100);
      await hooks.waitFor((r) => r.delivered().length >= 100, ARRIVAL_TIMEOUT_MS);
      // A moment for anything that would arrive twice to arrive.
      await new Promise((resolve) => setTimeout(resolve, 500));

      expect(hooks.requests.every((r) => r.verified)).toBe(true);
      const ids = hooks.requests.map((r) => r.id!);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.sort()).toEqual(expected.sort());
      expectOrderPerPayment(hooks);
      const deliveries = await deliveriesOf(owner, endpoint.endpoint.id);
      expect(deliveries).toHaveLength(100);
      expect(deliveries.every((d) => d.state === 'delivered' && d.attempts === 1)).toBe(true);
      const attempts = await attemptsOf(owner, endpoint.endpoint.id);
      expect(attempts).toHaveLength(100);
      expect(new Set(attempts.map((a) => a.relay)).size).toBeGreaterThanOrEqual(1);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });
});
