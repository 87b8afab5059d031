/**
 * The relay against endpoints that misbehave: 5xx, hangs past the sender's timeout, connection resets, 429 with
 * Retry-After, an endpoint that says 410 Gone, one that never recovers. Whatever they do, no event is lost: every
 * one is delivered eventually (or dead-lettered after the whole schedule, and then the payment's next event goes
 * out), retries carry the same webhook-id and the same bytes, every attempt is logged under its own number, and a
 * payment's events still arrive in sequence order.
 *
 * Payments are booked by production code (checkPacs008 + bookMessage, onward settlement) straight into the database:
 * this file is about delivery, the HTTP intake is covered by webhook-relay.test.ts. Schedules are milliseconds
 * instead of hours, sender timeouts a fraction of a second.
 */
import { createHash } from 'node:crypto';

import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createEndpoint, setEndpointEnabled } from '../../src/webhooks/endpoints.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { fundDevParticipants } from '../support/gateway.ts';
import { startWebhookReceiver, type ReceiverAnswer, type WebhookReceiver } from '../support/webhook-receiver.ts';
import {
  appPool,
  attemptsOf,
  bookFresh,
  deliveriesOf,
  eventually,
  expectedWebhookIds,
  parseWebhookId,
  settle,
  startTestRelay,
} from '../support/webhook-relay.ts';

const ARRIVAL_TIMEOUT_MS = 30_000;

let db: TestDatabase;
let app: pg.Pool;
const receivers: WebhookReceiver[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  await fundDevParticipants(db);
  app = appPool(db.url);
});

afterAll(async () => {
  await Promise.allSettled(receivers.map((receiver) => receiver.close()));
  await app?.end();
  await db?.close();
});

async function receiverWithEndpoint(clientId: string) {
  const hooks = await startWebhookReceiver();
  receivers.push(hooks);
  const created = await createEndpoint(app, { clientId, url: hooks.url }, { allowInsecureEndpoints: true });
  hooks.setSecrets([created.keys.secret]);
  return { hooks, endpointId: created.endpoint.id };
}

/** Every request of a payment's event s comes after a 2xx (or a dead-lettering) of event s - 1. */
function expectOrderPerPayment(hooks: WebhookReceiver, dead: ReadonlySet<string> = new Set()): void {
  const doneUpTo = new Map<string, number>();
  for (const request of hooks.requests) {
    const { uetrHex, sequence } = parseWebhookId(request.id!);
    const done = doneUpTo.get(uetrHex) ?? 0;
    expect(sequence, `${request.id} arrived before sequence ${sequence - 1} was done`).toBeLessThanOrEqual(done + 1);
    if (/^2\d\d/.test(request.answer) || dead.has(request.id!)) doneUpTo.set(uetrHex, Math.max(done, sequence));
  }
}

/** A number from a webhook-id, the same in every run of the relay: chaos that a failing test can reproduce. */
function hashOf(id: string): number {
  return createHash('sha256').update(id).digest().readUInt32BE(0);
}

describe('a misbehaving endpoint', () => {
  it('5xx, hangs, resets and 429 Retry-After: every event arrives in the end, verified, in order, same id and bytes on every attempt', async () => {
    const { hooks, endpointId } = await receiverWithEndpoint('bank-beta');
    await bookFresh(app, 'beta10', 'bank-beta');
    await bookFresh(app, 'beta10', 'bank-beta');
    const expected = await expectedWebhookIds(app, 'bank-beta');
    expect(expected).toHaveLength(40);
    // One event is asked to come back in a second (429 Retry-After: 1) before anything else happens to it.
    const patient = expected[0]!;
    const troubles: ReceiverAnswer[] = [{ status: 500 }, { status: 502, body: 'bad gateway' }, { hang: true }, { reset: true }, { status: 503 }];
    hooks.setBehaviour(({ id, seen }) => {
      if (id === patient) return seen === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 };
      const hash = hashOf(id!);
      // 0 to 3 failures per event, then 200: within the 6 attempts of the schedule below.
      return seen < hash % 4 ? troubles[(hash + seen) % troubles.length]! : { status: 200 };
    });

    const relay = await startTestRelay(db.url, { pool: app, retryScheduleMs: [50, 100, 150, 200, 250] });
    try {
      await hooks.waitFor((r) => new Set(r.delivered().map((request) => request.id)).size >= expected.length, ARRIVAL_TIMEOUT_MS);
    } finally {
      await relay.close();
    }

    // None lost, none unverified, none delivered twice.
    expect(hooks.requests.every((r) => r.verified)).toBe(true);
    expect(hooks.delivered().map((r) => r.id).sort()).toEqual([...expected].sort());
    expect(hooks.requests.some((r) => r.answer === 'hang') && hooks.requests.some((r) => r.answer === 'reset')).toBe(true);
    expectOrderPerPayment(hooks);

    // Every attempt of a delivery: the same webhook-id and the very same bytes, and one numbered row per request.
    const deliveries = await deliveriesOf(app, endpointId);
    const attempts = await attemptsOf(app, endpointId);
    expect(deliveries.every((d) => d.state === 'delivered' && d.last_status === 200 && d.lease_until === null)).toBe(true);
    for (const delivery of deliveries) {
      const requests = hooks.requests.filter((r) => r.id === delivery.webhook_id);
      expect(new Set(requests.map((r) => r.body)).size, delivery.webhook_id).toBe(1);
      const logged = attempts.filter((a) => a.delivery_id === delivery.id);
      expect(logged.map((a) => a.attempt), delivery.webhook_id).toEqual(Array.from({ length: delivery.attempts }, (_, i) => i + 1));
      expect(requests, delivery.webhook_id).toHaveLength(delivery.attempts);
      expect(logged.map((a) => a.outcome)).toEqual([...Array(delivery.attempts - 1).fill('retry'), 'delivered']);
      // Attempts follow one another: each started after the previous one was recorded.
      for (let i = 1; i < logged.length; i += 1) expect(logged[i]!.started_at.getTime()).toBeGreaterThanOrEqual(logged[i - 1]!.finished_at.getTime());
    }
    const errors = new Set(attempts.filter((a) => a.outcome === 'retry').map((a) => a.error?.replace(/:.*$/, '')));
    expect([...errors]).toEqual(expect.arrayContaining(['HTTP 500', 'HTTP 502', 'HTTP 503', 'timeout', 'connection reset']));

    // 429 Retry-After: 1 — logged as asked, and the next attempt not a moment before a second had passed.
    const patientAttempts = attempts.filter((a) => a.webhook_id === patient);
    expect(patientAttempts.map((a) => [a.attempt, a.outcome, a.http_status, a.retry_after_seconds])).toEqual([
      [1, 'retry', 429, 1],
      [2, 'delivered', 200, null],
    ]);
    expect(patientAttempts[1]!.started_at.getTime() - patientAttempts[0]!.finished_at.getTime()).toBeGreaterThanOrEqual(1_000 - 1);
    const patientRequests = hooks.requests.filter((r) => r.id === patient);
    expect(patientRequests[1]!.receivedAtMs - patientRequests[0]!.receivedAtMs).toBeGreaterThanOrEqual(1_000);
  });

  it('that never recovers: dead-lettered with dead_at after the whole schedule, not earlier, and the payment’s next event then goes out', async () => {
    const { hooks, endpointId } = await receiverWithEndpoint('bank-alpha');
    const { payments } = await bookFresh(app, 'alpha1', 'bank-alpha');
    const uetr = payments[0]!.uetr;
    const hex = uetr.replaceAll('-', '');
    const doomed = `evt_${hex}_2`;
    hooks.setBehaviour(({ id }) => (id === doomed ? { status: 500, body: 'we are down' } : { status: 200 }));
    // Settled before the relay runs: event 3 exists all along, and must wait for event 2 to be done with.
    await settle(app, uetr);

    const schedule = [50, 100, 150];
    const relay = await startTestRelay(db.url, { pool: app, retryScheduleMs: schedule });
    try {
      await hooks.waitFor((r) => r.delivered().some((request) => request.id === `evt_${hex}_3`), ARRIVAL_TIMEOUT_MS);
    } finally {
      await relay.close();
    }

    expect(hooks.requests.map((r) => [r.id, r.answer])).toEqual([
      [`evt_${hex}_1`, '200'],
      [doomed, '500'],
      [doomed, '500'],
      [doomed, '500'],
      [doomed, '500'],
      [`evt_${hex}_3`, '200'],
    ]);
    const deliveries = await deliveriesOf(app, endpointId);
    expect(deliveries.map((d) => [d.webhook_id, d.state, d.attempts, d.last_status])).toEqual([
      [`evt_${hex}_1`, 'delivered', 1, 200],
      [doomed, 'dead', 4, 500],
      [`evt_${hex}_3`, 'delivered', 1, 200],
    ]);
    const dead = deliveries[1]!;
    expect(dead.dead_at).toBeInstanceOf(Date);
    expect(dead.delivered_at).toBeNull();
    expect(dead.last_error).toBe('HTTP 500: we are down');
    const logged = (await attemptsOf(app, endpointId)).filter((a) => a.webhook_id === doomed);
    expect(logged.map((a) => a.outcome)).toEqual(['retry', 'retry', 'retry', 'dead']);
    // Each retry waited its step of the schedule (±10 % jitter), never less.
    for (let i = 1; i < logged.length; i += 1) {
      expect(logged[i]!.started_at.getTime() - logged[i - 1]!.finished_at.getTime()).toBeGreaterThanOrEqual(Math.floor(schedule[i - 1]! * 0.9) - 1);
    }
    expect(dead.dead_at!.getTime()).toBe(logged[3]!.finished_at.getTime());
  });

  it('a Retry-After on the last attempt is honoured in between, but does not keep the event alive past the schedule', async () => {
    const { hooks, endpointId } = await receiverWithEndpoint('bank-alpha');
    hooks.setBehaviour(({ id }) => (id?.endsWith('_1') ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 }));
    const { payments } = await bookFresh(app, 'alpha1', 'bank-alpha');
    const id = `evt_${payments[0]!.uetr.replaceAll('-', '')}_1`;
    const relay = await startTestRelay(db.url, { pool: app, retryScheduleMs: [50] });
    try {
      await eventually(async () => (await deliveriesOf(app, endpointId)).some((d) => d.webhook_id === id && d.state === 'dead'), ARRIVAL_TIMEOUT_MS);
    } finally {
      await relay.close();
    }
    const logged = (await attemptsOf(app, endpointId)).filter((a) => a.webhook_id === id);
    expect(logged.map((a) => [a.attempt, a.outcome, a.http_status, a.retry_after_seconds])).toEqual([
      [1, 'retry', 503, 1],
      [2, 'dead', 503, null],
    ]);
    expect(logged[1]!.started_at.getTime() - logged[0]!.finished_at.getTime()).toBeGreaterThanOrEqual(1_000 - 1);
  });

  it('410 Gone: the endpoint is disabled (reason gone), later events wait as pending, and all arrive in order once it is enabled again', async () => {
    const { hooks, endpointId } = await receiverWithEndpoint('bank-alpha');
    hooks.setBehaviour(() => ({ status: 410 }));
    const first = await bookFresh(app, 'alpha1', 'bank-alpha');
    const relay = await startTestRelay(db.url, { pool: app, retryScheduleMs: [50, 100, 150] });
    try {
      await eventually(async () => (await app.query(`select 1 from webhook_endpoints where id = $1 and not enabled`, [endpointId])).rows.length === 1, ARRIVAL_TIMEOUT_MS);
      const { rows } = await app.query<{ disabled_reason: string; disabled_at: Date | null }>('select disabled_reason, disabled_at from webhook_endpoints where id = $1', [endpointId]);
      expect(rows[0]).toMatchObject({ disabled_reason: 'gone', disabled_at: expect.any(Date) });
      const answeredGone = hooks.requests.length;
      expect(hooks.requests.map((r) => r.answer)).toEqual(Array(answeredGone).fill('410'));

      // While it is disabled the events keep coming: the held payment settles, another payment is booked.
      await settle(app, first.payments[0]!.uetr);
      const second = await bookFresh(app, 'alpha1', 'bank-alpha');
      const uetrs = [first.payments[0]!.uetr, second.payments[0]!.uetr];
      const expected = (await expectedWebhookIds(app, 'bank-alpha')).filter((id) => uetrs.some((uetr) => id.includes(uetr.replaceAll('-', ''))));
      expect(expected).toHaveLength(5);
      await eventually(async () => (await deliveriesOf(app, endpointId)).filter((d) => d.state === 'pending').length === 5, ARRIVAL_TIMEOUT_MS);
      // Several polling intervals of the relay: nothing goes to a disabled endpoint.
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect(hooks.requests).toHaveLength(answeredGone);

      hooks.setBehaviour(() => ({ status: 200 }));
      await setEndpointEnabled(app, endpointId, true, 'partner');
      await hooks.waitFor((r) => r.delivered().length >= 5, ARRIVAL_TIMEOUT_MS);
      expect(hooks.delivered().map((r) => r.id).sort()).toEqual([...expected].sort());
    } finally {
      await relay.close();
    }
    expectOrderPerPayment(hooks);
    const deliveries = await deliveriesOf(app, endpointId);
    expect(deliveries.every((d) => d.state === 'delivered')).toBe(true);
    // The 410 did not count against the event: after it, a fresh schedule.
    const gone = (await attemptsOf(app, endpointId)).filter((a) => a.outcome === 'gone');
    expect(gone.length).toBeGreaterThanOrEqual(1);
    for (const attempt of gone) {
      const delivery = deliveries.find((d) => d.id === attempt.delivery_id)!;
      expect(delivery.schedule_start).toBe(attempt.attempt);
      expect(attempt.http_status).toBe(410);
    }
  });
});
