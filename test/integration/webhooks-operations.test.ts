/**
 * Sending events again, pausing and resuming endpoints — by partners through the API and by operators through
 * `isogw webhooks` — against a real gateway, a real relay (run a round at a time) and real receivers that verify
 * with the published standardwebhooks library.
 *
 * Dead deliveries are made the way production makes them: a relay whose retry schedule has no step (the first
 * failure is the last) sends to a receiver answering 500. A delivery "in flight" is the one state set by SQL as the
 * owner (a relay mid-send cannot be paused from a test), and put back afterwards.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { main } from '../../src/cli/main.ts';
import { runWebhooks } from '../../src/cli/webhooks.ts';
import { deliveriesOfEndpoint, type DeliveryView } from '../../src/webhooks/operations.ts';
import { expectAccepted, type Matrix, sendMatrix, startMatrix, validDpopRequest } from '../support/auth-matrix.ts';
import { freshPacs008 } from '../support/messages.ts';
import { callApi, expectJson, expectProblem, relayUntil, type TestRelay, testRelay } from '../support/webhook-api.ts';
import { answerOk, startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

let matrix: Matrix;
let relay: TestRelay;

beforeAll(async () => {
  matrix = await startMatrix();
  relay = matrix.track(testRelay(matrix.gateway));
});

afterAll(async () => {
  await matrix?.close();
});

/** A receiver of its own and a bank-alpha endpoint pointing at it, subscribed to every event type. */
async function endpointWithReceiver(): Promise<{ id: string; receiver: WebhookReceiver }> {
  const receiver = matrix.track(await startWebhookReceiver());
  const created = expectJson(await callApi(matrix, 'bank-alpha', 'POST', '/webhooks/endpoints', { body: { url: receiver.url } }), 201);
  receiver.setSecrets([created.signing.secret]);
  return { id: created.endpoint.id, receiver };
}

/** bank-alpha's 1-transaction pacs.008 through the intake: a payment with two events (RCVD, ACSP). */
async function bookPayment(): Promise<string> {
  const { xml } = freshPacs008('alpha1');
  expectAccepted(await sendMatrix((await validDpopRequest(matrix, { body: xml })).request));
  return /<UETR>([^<]+)<\/UETR>/.exec(xml)![1]!;
}

async function deliveriesOf(endpointId: string, state?: DeliveryView['state']): Promise<DeliveryView[]> {
  return (await deliveriesOfEndpoint(matrix.gateway.database.pool, endpointId, { limit: 100, state })).deliveries;
}

async function paymentDeliveries(uetr: string): Promise<any[]> {
  return expectJson(await callApi(matrix, 'bank-alpha', 'GET', `/payments/${uetr}/webhooks`), 200).deliveries;
}

/** The operator command in process, as the owner; stdout and stderr lines. */
async function isogw(...args: string[]): Promise<{ status: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const status = await runWebhooks(args, { out: (line) => out.push(line), err: (line) => err.push(line) }, { DATABASE_URL: matrix.gateway.database.url });
  return { status, out, err };
}

describe('POST /webhooks/deliveries/{id}/redeliver', () => {
  let endpoint: { id: string; receiver: WebhookReceiver };
  let uetr: string;

  beforeAll(async () => {
    endpoint = await endpointWithReceiver();
    uetr = await bookPayment();
    await relayUntil(relay, async () => (await deliveriesOf(endpoint.id, 'delivered')).length === 2);
  });

  it('sends a delivered event again: same webhook-id and bytes, attempts numbered on, a fresh schedule', async () => {
    const [first] = (await paymentDeliveries(uetr)).filter((d) => d.endpointId === endpoint.id);
    expect(first).toMatchObject({ sequence: 1, state: 'delivered', attempts: 1 });

    const accepted = expectJson(await callApi(matrix, 'bank-alpha', 'POST', `/webhooks/deliveries/${first.id}/redeliver`), 202);
    expect(accepted.delivery).toMatchObject({ id: first.id, webhookId: first.webhookId, state: 'pending', attempts: 1, deliveredAt: null, deadAt: null });
    expect(Date.parse(accepted.delivery.nextAttemptAt)).toBeLessThanOrEqual(Date.now() + 1_000);
    const { rows } = await matrix.gateway.database.pool.query('select schedule_start, attempts from webhook_deliveries where id = $1', [first.id]);
    expect(rows[0]).toEqual({ schedule_start: 1, attempts: 1 });

    await relayUntil(relay, () => endpoint.receiver.requests.filter((r) => r.id === first.webhookId).length === 2);
    const sent = endpoint.receiver.requests.filter((r) => r.id === first.webhookId);
    expect(sent.every((r) => r.verified)).toBe(true);
    expect(sent[1]!.body).toBe(sent[0]!.body);

    const after = (await paymentDeliveries(uetr)).find((d) => d.id === first.id);
    expect(after).toMatchObject({ state: 'delivered', attempts: 2, webhookId: first.webhookId });
    expect(after.attemptLog.map((a: { attempt: number; outcome: string; httpStatus: number }) => [a.attempt, a.outcome, a.httpStatus])).toEqual([
      [1, 'delivered', 200],
      [2, 'delivered', 200],
    ]);
  });

  it('refuses a delivery in flight with 409 delivery_in_flight and leaves it to its relay', async () => {
    const [delivery] = await deliveriesOf(endpoint.id, 'delivered');
    const pool = matrix.gateway.database.pool;
    await pool.query(`update webhook_deliveries set state = 'in_flight', lease_owner = 'another relay', lease_until = now() + interval '1 hour' where id = $1`, [
      delivery!.id.toString(),
    ]);
    try {
      expectProblem(await callApi(matrix, 'bank-alpha', 'POST', `/webhooks/deliveries/${delivery!.id}/redeliver`), 409, 'delivery_in_flight');
      const { rows } = await pool.query('select state, lease_owner, attempts from webhook_deliveries where id = $1', [delivery!.id.toString()]);
      expect(rows[0]).toEqual({ state: 'in_flight', lease_owner: 'another relay', attempts: delivery!.attempts });
    } finally {
      await pool.query(`update webhook_deliveries set state = 'delivered', lease_owner = null, lease_until = null where id = $1`, [delivery!.id.toString()]);
    }
  });

  it('answers another partner’s delivery, an unknown one and a malformed id with the same 404 delivery_not_found', async () => {
    const [delivery] = await deliveriesOf(endpoint.id, 'delivered');
    const foreign = await callApi(matrix, 'bank-beta', 'POST', `/webhooks/deliveries/${delivery!.id}/redeliver`);
    expectProblem(foreign, 404, 'delivery_not_found');
    for (const id of ['9000000000000000000', '0', '-1', 'abc', '99999999999999999999', '1.0']) {
      expect((await callApi(matrix, 'bank-alpha', 'POST', `/webhooks/deliveries/${id}/redeliver`)).body, id).toBe(foreign.body);
    }
    expect((await deliveriesOf(endpoint.id)).find((d) => d.id === delivery!.id)?.state).toBe('delivered');
  });

  it('takes no arguments: a body with a field is refused with 400 unknown_field', async () => {
    const [delivery] = await deliveriesOf(endpoint.id, 'delivered');
    expectProblem(await callApi(matrix, 'bank-alpha', 'POST', `/webhooks/deliveries/${delivery!.id}/redeliver`, { body: { force: true } }), 400, 'unknown_field');
    expect(expectJson(await callApi(matrix, 'bank-alpha', 'POST', `/webhooks/deliveries/${delivery!.id}/redeliver`, { body: {} }), 202).delivery.state).toBe('pending');
  });
});

describe('dead deliveries and POST /webhooks/endpoints/{id}/redeliver-dead', () => {
  let failing: { id: string; receiver: WebhookReceiver };
  let lastChance: TestRelay;
  let uetr: string;

  beforeAll(async () => {
    failing = await endpointWithReceiver();
    failing.receiver.setBehaviour(() => ({ status: 500, body: 'down for maintenance' }));
    // No retry step: the first failure is the last one.
    lastChance = matrix.track(testRelay(matrix.gateway, { retryScheduleMs: [] }));
    uetr = await bookPayment();
    await relayUntil(lastChance, async () => (await deliveriesOf(failing.id, 'dead')).length === 2);
  });

  it('lists them as dead, with the endpoint’s answer', async () => {
    const dead = expectJson(await callApi(matrix, 'bank-alpha', 'GET', `/webhooks/endpoints/${failing.id}/deliveries`, { query: '?state=dead' }), 200).deliveries;
    expect(dead).toHaveLength(2);
    for (const delivery of dead) {
      expect(delivery).toMatchObject({ uetr, state: 'dead', attempts: 1, lastStatus: 500, nextAttemptAt: null, deadAt: expect.any(String) });
      expect(delivery.lastError).toContain('HTTP 500');
    }
  });

  it('puts every dead delivery back to pending, and the relay delivers them with their attempts numbered on', async () => {
    failing.receiver.setBehaviour(answerOk);
    const answer = expectJson(await callApi(matrix, 'bank-alpha', 'POST', `/webhooks/endpoints/${failing.id}/redeliver-dead`), 202);
    expect(answer).toEqual({ redelivered: 2, more: false });
    expect((await deliveriesOf(failing.id)).map((d) => [d.state, d.attempts, d.deadAt])).toEqual([
      ['pending', 1, null],
      ['pending', 1, null],
    ]);

    await relayUntil(relay, async () => (await deliveriesOf(failing.id, 'delivered')).length === 2);
    const deliveries = (await paymentDeliveries(uetr)).filter((d) => d.endpointId === failing.id);
    expect(deliveries.map((d) => d.sequence)).toEqual([1, 2]);
    for (const delivery of deliveries) {
      expect(delivery.attemptLog.map((a: { attempt: number; outcome: string; httpStatus: number }) => [a.attempt, a.outcome, a.httpStatus])).toEqual([
        [1, 'dead', 500],
        [2, 'delivered', 200],
      ]);
      const sent = failing.receiver.requests.filter((r) => r.id === delivery.webhookId);
      expect(sent).toHaveLength(2);
      expect(sent[1]!.body).toBe(sent[0]!.body);
    }
    // In event order, the second time too.
    const verified = failing.receiver.delivered().map((r) => (r.payload as { data: { sequence: number } }).data.sequence);
    expect(verified).toEqual([1, 2]);
  });

  it('answers 202 with nothing to do when nothing is dead', async () => {
    expect(expectJson(await callApi(matrix, 'bank-alpha', 'POST', `/webhooks/endpoints/${failing.id}/redeliver-dead`), 202)).toEqual({ redelivered: 0, more: false });
  });
});

describe('pausing and resuming an endpoint through PATCH', () => {
  it('holds every event while disabled (none lost) and delivers them in order once enabled', async () => {
    const paused = await endpointWithReceiver();
    expectJson(await callApi(matrix, 'bank-alpha', 'PATCH', `/webhooks/endpoints/${paused.id}`, { body: { enabled: false } }), 200);
    const uetr = await bookPayment();
    // Rounds until the payment's events are dispatched into (held) deliveries, and a few more: nothing is sent.
    await relayUntil(relay, async () => (await deliveriesOf(paused.id)).length === 2);
    for (let round = 0; round < 3; round += 1) await relay.runOnce();
    expect(paused.receiver.requests).toEqual([]);
    expect((await deliveriesOf(paused.id)).map((d) => [d.state, d.attempts])).toEqual([
      ['pending', 0],
      ['pending', 0],
    ]);

    expectJson(await callApi(matrix, 'bank-alpha', 'PATCH', `/webhooks/endpoints/${paused.id}`, { body: { enabled: true } }), 200);
    await relayUntil(relay, () => paused.receiver.delivered().length === 2);
    expect(paused.receiver.delivered().map((r) => (r.payload as { data: { uetr: string; sequence: number } }).data)).toMatchObject([
      { uetr, sequence: 1 },
      { uetr, sequence: 2 },
    ]);
  });
});

describe('isogw webhooks (operators, as the owner)', () => {
  let endpoint: { id: string; receiver: WebhookReceiver };
  let uetr: string;

  beforeAll(async () => {
    endpoint = await endpointWithReceiver();
    uetr = await bookPayment();
    await relayUntil(relay, async () => (await deliveriesOf(endpoint.id, 'delivered')).length === 2);
  });

  it('lists endpoints as a table and as JSON, all or one partner’s', async () => {
    const table = await isogw('list', '--client', 'bank-alpha');
    expect(table.status).toBe(0);
    expect(table.out[0]).toMatch(/^ENDPOINT\s+CLIENT\s+STATE\s+PENDING\s+DEAD\s+EVENTS\s+URL$/);
    const row = table.out.find((line) => line.startsWith(endpoint.id));
    expect(row).toMatch(new RegExp(`^${endpoint.id}\\s+bank-alpha\\s+enabled\\s+0\\s+0\\s+all\\s+${endpoint.receiver.url}$`));

    const json = await isogw('list', '--json');
    expect(json.status).toBe(0);
    const listed = JSON.parse(json.out.join('\n')) as { endpoints: { id: string; clientId: string; pendingDeliveries: number }[]; truncated: boolean };
    expect(listed.truncated).toBe(false);
    expect(listed.endpoints.find((e) => e.id === endpoint.id)).toMatchObject({ clientId: 'bank-alpha', pendingDeliveries: 0, deadDeliveries: 0, enabled: true });
    expect((await isogw('list', '--client', 'nobody')).out).toEqual(['no webhook endpoints for nobody']);
  });

  it('shows a payment’s deliveries with their attempts, and an endpoint’s', async () => {
    const shown = await isogw('deliveries', '--payment', uetr.toUpperCase());
    expect(shown.status).toBe(0);
    expect(shown.out[0]).toMatch(/^DELIVERY\s+UETR\s+SEQ\s+EVENT\s+STATE\s+ATTEMPTS\s+WHEN\s+ENDPOINT\s+WEBHOOK-ID$/);
    const mine = shown.out.filter((line) => line.includes(endpoint.id));
    expect(mine).toHaveLength(2);
    expect(mine[0]).toMatch(new RegExp(`^\\d+\\s+${uetr}\\s+1\\s+payment\\.received\\s+delivered\\s+1\\s+delivered \\S+\\s+${endpoint.id}`));
    expect(shown.out.some((line) => /^ {4}attempt 1 {2}\S+ {2}delivered {2}HTTP 200 {2}\(.+\)$/.test(line))).toBe(true);

    const json = JSON.parse((await isogw('deliveries', '--endpoint', endpoint.id, '--json')).out.join('\n')) as { deliveries: any[]; nextBefore: string | null };
    expect(json.nextBefore).toBeNull();
    expect(json.deliveries.map((d) => [d.sequence, d.state, d.attemptLog.length])).toEqual([
      [2, 'delivered', 1],
      [1, 'delivered', 1],
    ]);
    expect((await isogw('deliveries', '--endpoint', endpoint.id, '--state', 'dead')).out).toEqual([`no dead deliveries for endpoint ${endpoint.id}`]);
    const paged = await isogw('deliveries', '--endpoint', endpoint.id, '--limit', '1');
    expect(paged.out.at(-1)).toMatch(/^\(more: --before \d+\)$/);
  });

  it('disables an endpoint for good (the partner cannot undo it) and enables it again', async () => {
    const disabled = await isogw('disable', '--endpoint', endpoint.id);
    expect(disabled).toMatchObject({ status: 0, err: [] });
    expect(disabled.out[0]).toMatch(new RegExp(`^endpoint ${endpoint.id} \\(bank-alpha\\) is disabled \\(operator, \\S+\\)$`));
    expectProblem(await callApi(matrix, 'bank-alpha', 'PATCH', `/webhooks/endpoints/${endpoint.id}`, { body: { enabled: true } }), 409, 'endpoint_disabled_by_operator');

    const enabled = await isogw('enable', '--endpoint', endpoint.id, '--json');
    expect(enabled.status).toBe(0);
    expect(JSON.parse(enabled.out[0]!).endpoint).toMatchObject({ id: endpoint.id, enabled: true, disabledReason: null });
  });

  it('redelivers one delivery, and an endpoint’s dead ones', async () => {
    const [delivery] = await deliveriesOf(endpoint.id, 'delivered');
    const one = await isogw('redeliver', '--delivery', delivery!.id.toString());
    expect(one.status).toBe(0);
    expect(one.out).toEqual([`delivery ${delivery!.id} (${delivery!.webhookId}) is pending again, due now, with a fresh retry schedule`]);
    expect((await deliveriesOf(endpoint.id, 'pending')).map((d) => d.id)).toEqual([delivery!.id]);

    await matrix.gateway.database.pool.query(`update webhook_deliveries set state = 'dead', dead_at = now() where id = $1`, [delivery!.id.toString()]);
    const dead = await isogw('redeliver', '--endpoint', endpoint.id, '--dead');
    expect(dead).toMatchObject({ status: 0, out: [`1 dead deliveries of endpoint ${endpoint.id} are pending again`] });
    await relayUntil(relay, async () => (await deliveriesOf(endpoint.id, 'delivered')).length === 2);
  });

  it('refuses what does not exist with exit status 1, changing nothing', async () => {
    const missing = await isogw('redeliver', '--delivery', '9000000000000000000');
    expect(missing).toMatchObject({ status: 1, out: [] });
    expect(missing.err[0]).toMatch(/no delivery 9000000000000000000; nothing was changed/);
    for (const args of [['enable', '--endpoint', randomUUID()], ['redeliver', '--endpoint', randomUUID(), '--dead'], ['deliveries', '--endpoint', randomUUID()], ['deliveries', '--payment', randomUUID()]]) {
      expect((await isogw(...args)).status, args.join(' ')).toBe(1);
    }
  });

  it.each([
    [['redeliver', '--endpoint', '00000000-0000-4000-8000-000000000000'], /add --dead/],
    [['redeliver'], /needs --delivery ID, or --endpoint ID --dead/],
    [['redeliver', '--delivery', '1', '--endpoint', '00000000-0000-4000-8000-000000000000'], /not both/],
    [['deliveries'], /exactly one of --payment UETR and --endpoint/],
    [['deliveries', '--payment', 'nope'], /not a UETR/],
    [['deliveries', '--endpoint', 'nope'], /not an endpoint id/],
    [['deliveries', '--endpoint', '00000000-0000-4000-8000-000000000000', '--state', 'lost'], /--state must be one of/],
    [['deliveries', '--endpoint', '00000000-0000-4000-8000-000000000000', '--limit', '101'], /--limit must be a whole number from 1 to 100/],
    [['deliveries', '--payment', '00000000-0000-4000-8000-000000000000', '--state', 'dead'], /--state goes with --endpoint/],
    [['disable'], /needs --endpoint/],
    [['list', '--dead'], /takes no --dead/],
    [['list', 'extra'], /unexpected argument "extra"/],
    [['frobnicate'], /unknown webhooks subcommand "frobnicate"/],
  ])('exits 2 on the usage error %j, with one line and the usage', async (args, message) => {
    const out: string[] = [];
    const err: string[] = [];
    const status = await main(['webhooks', ...args], { out: (line) => out.push(line), err: (line) => err.push(line) });
    expect(status).toBe(2);
    expect(err.join('\n')).toMatch(message);
    expect(err.join('\n')).toMatch(/usage: isogw/);
  });

  it('prints its usage on --help and needs DATABASE_URL', async () => {
    const help = await runWebhooks(['--help'], { out: () => {}, err: () => {} }, {});
    expect(help).toBe(0);
    await expect(runWebhooks(['list'], { out: () => {}, err: () => {} }, {})).rejects.toThrow(/DATABASE_URL is required/);
  });

  it('as the real executable: exit 3 when the database cannot be reached, no stack trace', () => {
    const bin = fileURLToPath(new URL('../../bin/isogw.js', import.meta.url));
    const run = spawnSync(process.execPath, [bin, 'webhooks', 'list'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere' },
    });
    expect(run.status).toBe(3);
    expect(run.stderr).toMatch(/^isogw webhooks list: the database failed: /);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});
