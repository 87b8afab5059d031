/**
 * A relay that dies mid-batch. `isogw relay` runs as a real child process and is SIGKILLed while the receiver holds
 * its requests unanswered: no shutdown hook runs, its claims stay in flight under its lease. A second `isogw relay`
 * must take those deliveries over once the lease has expired — not before — and deliver every event: none skipped,
 * a repeat (the attempt that died may have reached the receiver) only ever under the same webhook-id and bytes, and
 * a payment's events still in order. The attempt the crash cut short leaves no row; the takeover is the next
 * attempt number. And the opposite, a graceful stop: the sends in flight finish and are recorded.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { claimDueDeliveries, type DeliveryClaim, recordOutcome } from '../../src/webhooks/delivery-store.ts';
import { dispatchOutbox } from '../../src/webhooks/dispatch.ts';
import { createEndpoint } from '../../src/webhooks/endpoints.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { fundDevParticipants } from '../support/gateway.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';
import {
  appPool,
  attemptsOf,
  bookFresh,
  deliveriesOf,
  eventually,
  expectedWebhookIds,
  parseWebhookId,
  startRelayProcess,
  startTestRelay,
  type RelayProcess,
} from '../support/webhook-relay.ts';

const ARRIVAL_TIMEOUT_MS = 30_000;
/** The relays' lease: short, so the takeover happens within the test. */
const LEASE_SECONDS = 2;

let db: TestDatabase;
let app: pg.Pool;
const receivers: WebhookReceiver[] = [];
const processes: RelayProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  await fundDevParticipants(db);
  app = appPool(db.url);
});

afterAll(async () => {
  await Promise.allSettled(processes.map((child) => child.kill()));
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

function relayEnv(): Record<string, string> {
  return {
    ISOGW_DATABASE_URL: db.url,
    ISOGW_DATABASE_ROLE: 'isogw_app',
    ISOGW_WEBHOOK_ALLOW_INSECURE: 'true',
    ISOGW_WEBHOOK_RETRY_SCHEDULE_MS: '50,100,150',
  };
}

async function relayProcess(relayId: string): Promise<RelayProcess> {
  const child = await startRelayProcess(relayEnv(), ['--relay-id', relayId, '--lease-seconds', String(LEASE_SECONDS)]);
  processes.push(child);
  return child;
}

describe('a relay killed mid-batch', () => {
  it('leaves its claims to their lease; another relay then delivers every event, none skipped, repeats under the same webhook-id', async () => {
    const { hooks, endpointId } = await receiverWithEndpoint('bank-beta');
    await bookFresh(app, 'beta10', 'bank-beta');
    await bookFresh(app, 'beta10', 'bank-beta');
    const expected = await expectedWebhookIds(app, 'bank-beta');
    expect(expected).toHaveLength(40);
    // The first few go through, then the receiver stops answering: the relay is stuck mid-batch.
    let answered = 0;
    hooks.setBehaviour(() => (answered++ < 5 ? { status: 200 } : { hang: true }));

    const doomed = await relayProcess('doomed-relay');
    await hooks.waitFor((r) => r.delivered().length >= 5 && r.requests.filter((request) => request.answer === 'hang').length >= 3, ARRIVAL_TIMEOUT_MS);
    await doomed.kill();
    const { rows: orphaned } = await app.query<{ id: string; webhook_id: string; attempts: number; lease_until: Date }>(
      `select id, webhook_id, attempts, lease_until from webhook_deliveries where endpoint_id = $1 and state = 'in_flight' and lease_owner = 'doomed-relay'`,
      [endpointId],
    );
    const hung = hooks.requests.filter((r) => r.answer === 'hang');
    // Every request left hanging belongs to a claim the dead relay still holds.
    expect(orphaned.map((d) => d.webhook_id)).toEqual(expect.arrayContaining(hung.map((r) => r.id)));
    expect(doomed.output()).toMatch(/^isogw relay doomed-relay running$/m);

    hooks.setBehaviour(() => ({ status: 200 }));
    const heir = await relayProcess('heir-relay');
    await hooks.waitFor((r) => new Set(r.delivered().map((request) => request.id)).size >= expected.length, ARRIVAL_TIMEOUT_MS);
    expect(await heir.terminate()).toBe(0);

    // Every event delivered, every request verified, nothing but the expected ids.
    expect(hooks.requests.every((r) => r.verified)).toBe(true);
    expect([...new Set(hooks.delivered().map((r) => r.id))].sort()).toEqual([...expected].sort());
    const deliveries = await deliveriesOf(app, endpointId);
    expect(deliveries.every((d) => d.state === 'delivered')).toBe(true);

    // A repeat is the same event: same webhook-id, same bytes.
    for (const request of hung) {
      const again = hooks.delivered().filter((r) => r.id === request.id);
      expect(again, request.id).toHaveLength(1);
      expect(again[0]!.body).toBe(request.body);
    }

    // The takeover: no row for the attempt the crash cut short, the next attempt number, not before the lease ended.
    const attempts = await attemptsOf(app, endpointId);
    for (const claim of orphaned) {
      const logged = attempts.filter((a) => a.delivery_id === claim.id);
      expect(logged.map((a) => [a.attempt, a.relay, a.outcome]), claim.webhook_id).toEqual([[claim.attempts + 1, 'heir-relay', 'delivered']]);
      expect(logged[0]!.started_at.getTime(), claim.webhook_id).toBeGreaterThanOrEqual(claim.lease_until.getTime() - 1);
    }
    // Only 2xx answers were recorded by the dead relay, none of what it never saw answered.
    expect(attempts.filter((a) => a.relay === 'doomed-relay').every((a) => a.outcome === 'delivered')).toBe(true);

    // Order per payment survived the crash: nothing of event 2 before a 2xx for event 1.
    const deliveredUpTo = new Map<string, number>();
    for (const request of hooks.requests) {
      const { uetrHex, sequence } = parseWebhookId(request.id!);
      expect(sequence, request.id).toBeLessThanOrEqual((deliveredUpTo.get(uetrHex) ?? 0) + 1);
      if (request.answer === '200') deliveredUpTo.set(uetrHex, Math.max(deliveredUpTo.get(uetrHex) ?? 0, sequence));
    }
    // One line per attempt on the heir's stdout.
    expect(heir.output()).toMatch(/ delivered evt_[0-9a-f]{32}_[12] attempt \d+ 200 \d+ ms http:\/\/127\.0\.0\.1:\d+\/hooks/);
  });
});

describe('a relay that lost its lease', () => {
  it('records nothing: the relay that took the delivery over is the only one whose outcome counts', async () => {
    const { endpointId } = await receiverWithEndpoint('bank-alpha');
    await bookFresh(app, 'alpha1', 'bank-alpha');
    await dispatchOutbox(app, { batchRows: 200 });
    const [slow] = await claimDueDeliveries(app, { relayId: 'slow-relay', limit: 1, leaseSeconds: 1 });
    expect(slow).toMatchObject({ attempt: 1, step: 1, relayId: 'slow-relay' });
    // Its sequence-2 sibling is not claimable while sequence 1 is in flight.
    expect(await claimDueDeliveries(app, { relayId: 'fast-relay', limit: 10, leaseSeconds: 60 })).toEqual([]);
    let fast: DeliveryClaim | undefined;
    await eventually(async () => {
      [fast] = await claimDueDeliveries(app, { relayId: 'fast-relay', limit: 1, leaseSeconds: 60 });
      return fast !== undefined;
    }, ARRIVAL_TIMEOUT_MS);
    expect(fast).toMatchObject({ deliveryId: slow!.deliveryId, attempt: 2, relayId: 'fast-relay' });
    // The takeover could not have happened before the slow relay's lease ended.
    expect(fast!.claimedAt.getTime() - slow!.claimedAt.getTime()).toBeGreaterThanOrEqual(1_000 - 1);

    const options = { retryScheduleMs: [50], retryAfterMaxSeconds: 60 };
    const delivered = { kind: 'delivered', status: 200, durationMs: 1, excerpt: '' } as const;
    const failed = { kind: 'failed', status: 500, retryAfterSeconds: undefined, error: 'HTTP 500', durationMs: 1, excerpt: '' } as const;
    expect(await recordOutcome(app, fast!, delivered, options)).toEqual({ kind: 'recorded', outcome: 'delivered' });
    expect(await recordOutcome(app, slow!, failed, options)).toEqual({ kind: 'lost_lease' });
    // And a record cannot be repeated: the claim is spent.
    expect(await recordOutcome(app, fast!, failed, options)).toEqual({ kind: 'lost_lease' });

    const [delivery] = await deliveriesOf(app, endpointId);
    expect(delivery).toMatchObject({ id: slow!.deliveryId, state: 'delivered', attempts: 2, last_status: 200, lease_owner: null });
    const attempts = await attemptsOf(app, endpointId);
    expect(attempts.map((a) => [a.attempt, a.relay, a.outcome])).toEqual([[2, 'fast-relay', 'delivered']]);
  });
});

describe('a relay whose database connections are cut', () => {
  it('does not crash: it logs, reopens its LISTEN connection by itself and keeps delivering', async () => {
    const { hooks } = await receiverWithEndpoint('bank-alpha');
    const relay = await startTestRelay(db.url, { retryScheduleMs: [50, 100, 150], relayId: 'cut-relay' });
    try {
      await bookFresh(app, 'alpha1', 'bank-alpha');
      await hooks.waitFor((r) => r.delivered().length >= 2, ARRIVAL_TIMEOUT_MS);

      // What a database restart or a failover does to every connection of the relay (pooled and LISTEN).
      const cut = async () =>
        db.pool.query<{ pid: number }>(
          `select pg_terminate_backend(pid) from pg_stat_activity
            where datname = current_database() and pid <> pg_backend_pid() and application_name in ('isogw', 'isogw-relay')`,
        );
      expect((await cut()).rows.length).toBeGreaterThanOrEqual(1);
      const listening = async () =>
        (await db.pool.query(`select 1 from pg_stat_activity where datname = current_database() and application_name = 'isogw-relay'`)).rows.length === 1;
      // A terminated backend may still be listed for a moment: wait for the relay to have seen the cut AND to
      // listen again.
      const sawCut = () => relay.log.some((entry) => entry.kind === 'error' && /LISTEN/.test(entry.message));
      const deadline = Date.now() + ARRIVAL_TIMEOUT_MS;
      while (!(sawCut() && (await listening()))) {
        if (Date.now() > deadline) throw new Error(`the LISTEN connection was not reopened (cut seen: ${sawCut()})`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }

      // Booked over the owner's connection: the cut also ended this file's own isogw_app connections.
      await bookFresh(db.pool, 'alpha1', 'bank-alpha');
      await hooks.waitFor((r) => r.delivered().length >= 4, ARRIVAL_TIMEOUT_MS);
      expect(hooks.requests.every((r) => r.verified)).toBe(true);
    } finally {
      await relay.close();
    }
  });
});

describe('a relay stopped gracefully', () => {
  it('finishes the sends in flight and records them before stop() resolves', async () => {
    const { hooks, endpointId } = await receiverWithEndpoint('bank-alpha');
    hooks.setBehaviour(() => ({ hang: true }));
    await bookFresh(app, 'alpha1', 'bank-alpha');
    // The sender's response timeout (400 ms) ends the hanging send; stop() must wait for it and record it.
    const relay = await startTestRelay(db.url, { pool: app, retryScheduleMs: [60_000], relayId: 'graceful-relay' });
    await hooks.waitFor((r) => r.requests.length >= 1, ARRIVAL_TIMEOUT_MS);
    await relay.close();
    const [delivery] = (await deliveriesOf(app, endpointId)).filter((d) => d.sequence === 1);
    expect(delivery).toMatchObject({ state: 'pending', attempts: 1, lease_owner: null, lease_until: null, last_error: 'timeout: headers' });
    const attempts = await attemptsOf(app, endpointId);
    expect(attempts.map((a) => [a.attempt, a.relay, a.outcome, a.error])).toEqual([[1, 'graceful-relay', 'retry', 'timeout: headers']]);
    expect(relay.log.filter((entry) => entry.kind === 'attempt' && entry.url === hooks.url)).toHaveLength(1);
  });
});
