/**
 * Relays are woken by committed bookings, not by a trigger inside them (payments/outbox-wakeup.ts, migration 0005):
 * a relay whose polling interval is a minute still delivers a fresh booking's events at once, so the wake-up after
 * the commit is what reached it. And the booking transaction itself notifies nothing any more.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createEndpoint } from '../../src/webhooks/endpoints.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { fundDevParticipants } from '../support/gateway.ts';
import { appPool, bookFresh, startTestRelay, type TestRelay } from '../support/webhook-relay.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

/** Far longer than the test waits: a delivery can only come from a notification. */
const POLL_INTERVAL_MS = 120_000;
const ARRIVAL_TIMEOUT_MS = 15_000;

let db: TestDatabase;
let app: pg.Pool;
let hooks: WebhookReceiver;
let relay: TestRelay;

beforeAll(async () => {
  db = await createTestDatabase();
  await fundDevParticipants(db);
  app = appPool(db.url);
  hooks = await startWebhookReceiver();
  const created = await createEndpoint(app, { clientId: 'bank-alpha', url: hooks.url }, { allowInsecureEndpoints: true });
  hooks.setSecrets([created.keys.secret]);
  relay = await startTestRelay(db.url, { limits: { pollIntervalMs: POLL_INTERVAL_MS } });
});

afterAll(async () => {
  await relay?.close();
  await hooks?.close();
  await app?.end();
  await db?.close();
});

describe('relay wake-ups', () => {
  it('a committed booking wakes a relay that would otherwise sleep for two minutes', async () => {
    // Let the relay finish its first round and go to sleep.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const { payments } = await bookFresh(app, 'alpha1', 'bank-alpha');
    await hooks.waitFor((r) => r.delivered().length >= 2, ARRIVAL_TIMEOUT_MS);
    const uetrs = hooks.delivered().map((r) => (r.payload as { data: { uetr: string } }).data.uetr);
    expect(uetrs).toEqual([payments[0]!.uetr, payments[0]!.uetr]);
  });

  it('the booking transaction notifies nothing: the outbox has no notify trigger any more', async () => {
    const { rows } = await db.pool.query<{ tgname: string }>(
      `select tgname from pg_trigger where tgrelid = 'outbox'::regclass and not tgisinternal order by tgname`,
    );
    expect(rows.map((row) => row.tgname)).toEqual(['outbox_dispatch_once', 'outbox_no_delete', 'outbox_no_truncate']);
  });
});
