/**
 * The whole story through public doors only: gateway instances that run their own relay (as production does), a
 * partner registering an endpoint over the API, posting pacs.008 over mutual TLS with a DPoP-bound token, and
 * receiving every status change of its payments, signed and in order, at a real receiver that verifies with the
 * published standardwebhooks library. Then the gateway closes while a delivery hangs: close() waits for the send and
 * records it, so nothing is left claimed by a process that is gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type RunningGateway, startGateway } from '../../src/server.ts';
import { type Matrix, expectAccepted, sendMatrix, startMatrix, validDpopRequest } from '../support/auth-matrix.ts';
import { schemas } from '../support/fixtures.ts';
import { freshPacs008 } from '../support/messages.ts';
import { callApi, expectJson } from '../support/webhook-api.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const ARRIVAL_TIMEOUT_MS = 20_000;

let matrix: Matrix;
let receiver: WebhookReceiver;
/** A second instance of the gateway on the same database and Redis, running the relay; the matrix's runs none. */
let relayInstance: RunningGateway;

beforeAll(async () => {
  matrix = await startMatrix();
  receiver = matrix.track(await startWebhookReceiver());
  relayInstance = await startGateway(
    {
      ...matrix.gateway.config,
      listen: { host: '127.0.0.1', port: 0 },
      webhooks: { relay: true, allowInsecureEndpoints: true, retryScheduleMs: [100, 200] },
    },
    { schemas, redisKeyPrefix: matrix.gateway.redisKeyPrefix },
  );
});

afterAll(async () => {
  await relayInstance?.close();
  await matrix?.close();
});

interface Delivered {
  readonly type: string;
  readonly data: { readonly uetr: string; readonly sequence: number; readonly status: string; readonly pacs002: string | null };
}

describe('a gateway with its relay', () => {
  it('delivers RCVD then the decisive status of every payment a partner posts to the endpoint it registered', async () => {
    const created = expectJson(await callApi(matrix, 'bank-alpha', 'POST', '/webhooks/endpoints', { body: { url: receiver.url } }), 201);
    receiver.setSecrets([created.signing.secret]);

    const uetrs: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const { xml } = freshPacs008('alpha1');
      const { request } = await validDpopRequest(matrix, { body: xml });
      expectAccepted(await sendMatrix(request));
      uetrs.push(/<UETR>([^<]+)<\/UETR>/.exec(xml)![1]!);
    }

    await receiver.waitFor((r) => r.delivered().length >= 6, ARRIVAL_TIMEOUT_MS);
    const delivered = receiver.delivered();
    expect(delivered.every((r) => r.verified)).toBe(true);
    for (const uetr of uetrs) {
      const events = delivered.map((r) => r.payload as Delivered).filter((p) => p.data.uetr === uetr);
      // alpha1 pays a creditor agent that is not a participant: held for the onward leg.
      expect(events.map((p) => [p.data.sequence, p.type, p.data.status])).toEqual([
        [1, 'payment.received', 'RCVD'],
        [2, 'payment.accepted_in_process', 'ACSP'],
      ]);
      expect(events[1]!.data.pacs002).toContain('<TxSts>ACSP</TxSts>');
    }
    // Nothing was sent twice, and nothing is left undelivered.
    const ids = delivered.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    // The receiver answers before the relay records the outcome: wait for the records.
    const states = async () =>
      (await matrix.gateway.database.pool.query<{ state: string; n: number }>(
        'select state, count(*)::int as n from webhook_deliveries group by state order by state',
      )).rows;
    const deadline = Date.now() + ARRIVAL_TIMEOUT_MS;
    while ((await states()).some((row) => row.state !== 'delivered') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(await states()).toEqual([{ state: 'delivered', n: 6 }]);
  });

  it('closes gracefully while a delivery hangs: the attempt is recorded, no claim is left behind', async () => {
    receiver.setBehaviour(() => ({ hang: true }));
    const { xml } = freshPacs008('alpha1');
    const { request } = await validDpopRequest(matrix, { body: xml });
    expectAccepted(await sendMatrix(request));
    const before = receiver.requests.length;
    await receiver.waitFor((r) => r.requests.length > before, ARRIVAL_TIMEOUT_MS);

    // The sender's headers timeout ends the hanging send; close() waits for it and records the attempt.
    await relayInstance.close();
    const pool = matrix.gateway.database.pool;
    const { rows: deliveries } = await pool.query<{ sequence: number; state: string; attempts: number; lease_owner: string | null }>(
      `select sequence, state, attempts, lease_owner from webhook_deliveries where state <> 'delivered' order by sequence`,
    );
    // RCVD was tried once and waits for its retry; ACSP was never sent: it waits behind RCVD (per-payment order).
    expect(deliveries).toEqual([
      { sequence: 1, state: 'pending', attempts: 1, lease_owner: null },
      { sequence: 2, state: 'pending', attempts: 0, lease_owner: null },
    ]);
    const { rows: attempts } = await pool.query<{ outcome: string; error: string }>(
      `select a.outcome, a.error from webhook_attempts a join webhook_deliveries d on d.id = a.delivery_id where d.state <> 'delivered'`,
    );
    expect(attempts).toHaveLength(1);
    expect(attempts[0]!.outcome).toBe('retry');
    expect(attempts[0]!.error).toMatch(/timeout/i);
  });
});
