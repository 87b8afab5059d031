/**
 * Observability of a real gateway (mTLS, real AS, Postgres, Redis) through its operations listener and its logs:
 * /metrics counts what the partners' requests did (outcomes with reason codes, stage and booking latencies,
 * Idempotency-Key results, DPoP replays, webhook attempts and dead letters, the outbox lag); /health/ready names the
 * dependency that is missing; and the JSON log lines carry the interaction id and the caller's trace from the HTTP
 * request to the booking and on to the webhook relay's attempts, with UETR and MsgId on every line about a payment.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { GatewayConfig } from '../../src/config/gateway-config.ts';
import { SECURITY_LIMITS } from '../../src/security/limits.ts';
import { startGateway } from '../../src/server.ts';
import { DEV_PARTNER_IDS, type DevPartnerId, type Matrix, sendMatrix, validDpopRequest, withHeaders } from '../support/auth-matrix.ts';
import { deleteKeysWithPrefix, startTestAuthorizationServer, type TestAuthorizationServer, TEST_REDIS_URL } from '../support/authz.ts';
import { createTestDatabase } from '../support/database.ts';
import { schemas } from '../support/fixtures.ts';
import { freePort, fundDevParticipants, partnerAgent, type TestGateway } from '../support/gateway.ts';
import { freshPacs008 } from '../support/messages.ts';
import { callApi, expectJson } from '../support/webhook-api.ts';
import { startWebhookReceiver } from '../support/webhook-receiver.ts';
import { eventually } from '../support/webhook-relay.ts';

/** Generous: the relay is woken by NOTIFY, but a loaded CI machine may take its time. */
const ARRIVAL_TIMEOUT_MS = 15_000;

type LogLine = Record<string, unknown> & { msg: string };

/** A pino destination that keeps every line, parsed. */
function logCapture(): { lines: LogLine[]; write(chunk: string): void } {
  const lines: LogLine[] = [];
  return {
    lines,
    write(chunk) {
      for (const line of chunk.split('\n')) if (line !== '') lines.push(JSON.parse(line) as LogLine);
    },
  };
}

interface ObservedGateway extends TestGateway {
  readonly opsUrl: string;
}

/** startTestGateway's gateway, with the operations listener on a free port and info logs into `logs`. */
async function startObservedGateway(
  as: TestAuthorizationServer,
  logs: ReturnType<typeof logCapture>,
  overrides: Partial<GatewayConfig> = {},
): Promise<ObservedGateway> {
  const port = await freePort();
  const database = await createTestDatabase();
  await fundDevParticipants(database);
  const origin = `https://localhost:${port}`;
  const ca = readFileSync(as.pki.caCert, 'utf8');
  const config: GatewayConfig = Object.freeze({
    listen: { host: '127.0.0.1', port },
    externalOrigin: new URL(origin),
    tls: { certificate: readFileSync(as.pki.serverCert, 'utf8'), privateKey: readFileSync(as.pki.serverKey, 'utf8'), clientCa: ca, minVersion: 'TLSv1.3' as const },
    clientCertificate: { source: 'tls' as const },
    authorizationServer: { issuer: as.issuer, jwksUri: new URL(`${as.issuer}/jwks`), ca },
    audience: as.gatewayAudience,
    partnersFile: as.pki.registry,
    redisUrl: TEST_REDIS_URL,
    database: { url: database.url, role: 'isogw_app' },
    limits: SECURITY_LIMITS,
    // The gateway's own relay, dead-lettering at the first failure: the attempt lines and counters come quickly.
    webhooks: { relay: true, allowInsecureEndpoints: true, retryScheduleMs: [] },
    operations: { host: '127.0.0.1', port: 0 },
    logLevel: 'info' as const,
    ...overrides,
  });
  const redisKeyPrefix = `isogw-test:observability:${randomUUID()}:`;
  const gateway = await startGateway(config, { schemas, redisKeyPrefix, logDestination: logs });
  if (gateway.opsUrl === undefined) throw new Error('the operations listener did not start');
  return {
    ...gateway,
    opsUrl: gateway.opsUrl,
    config,
    origin,
    redisKeyPrefix,
    database,
    close: async () => {
      await gateway.close();
      await deleteKeysWithPrefix(as.redis, redisKeyPrefix);
      await database.close();
    },
  };
}

async function get(url: string): Promise<{ status: number; contentType: string; body: string }> {
  const response = await request(url);
  return { status: response.statusCode, contentType: String(response.headers['content-type']), body: await response.body.text() };
}

/** The value of the sample `name` with exactly `labels` in a Prometheus text exposition; undefined when absent. */
function sample(exposition: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of exposition.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
    const wanted = Object.entries(labels);
    if (wanted.length === Object.keys(found).length && wanted.every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return undefined;
}

let as: TestAuthorizationServer;
let gateway: ObservedGateway;
let matrix: Matrix;
const logs = logCapture();

beforeAll(async () => {
  as = await startTestAuthorizationServer();
  gateway = await startObservedGateway(as, logs);
  const agents = Object.fromEntries(DEV_PARTNER_IDS.map((id) => [id, partnerAgent(as, id)])) as Record<DevPartnerId, ReturnType<typeof partnerAgent>>;
  const tracked: { close(): Promise<unknown> }[] = [];
  matrix = {
    as,
    gateway,
    agents,
    track: (resource) => {
      tracked.push(resource);
      return resource;
    },
    close: async () => {
      await Promise.allSettled(tracked.map((resource) => resource.close()));
      await gateway.close();
      await Promise.all(Object.values(agents).map((agent) => agent.close()));
      await as.close();
    },
  };
});

afterAll(async () => {
  await matrix?.close();
});

describe('/metrics on the operations listener', () => {
  it('counts intake outcomes with their reason codes, stage and booking latencies, Idempotency-Key results and DPoP replays', async () => {
    const accepted = await validDpopRequest(matrix);
    const first = await sendMatrix(accepted.request);
    expect(first.status).toBe(200);
    // A caller that is not tracing gets no traceparent back.
    expect(first.headers['traceparent']).toBeUndefined();
    // The same bytes, the same proof: the jti was seen, so the request is refused before the intake reads anything.
    expect((await sendMatrix(accepted.request)).status).toBe(401);
    // The same key and body under a fresh token and proof: the stored answer again.
    const retry = await validDpopRequest(matrix, { headers: { 'idempotency-key': String(accepted.request.headers['idempotency-key']) }, body: accepted.request.body });
    const replayed = await sendMatrix(retry.request);
    expect(replayed.status).toBe(200);
    expect(replayed.headers['idempotent-replayed']).toBe('true');
    const ctrlSumWrong = freshPacs008('alpha1').xml.replace('<CtrlSum>48732.65</CtrlSum>', '<CtrlSum>48732.66</CtrlSum>');
    expect((await sendMatrix((await validDpopRequest(matrix, { body: ctrlSumWrong })).request)).status).toBe(422);
    expect((await sendMatrix((await validDpopRequest(matrix, { body: 'not a payment' })).request)).status).toBe(400);

    const scrape = await get(`${gateway.opsUrl}/metrics`);
    expect(scrape.status).toBe(200);
    expect(scrape.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = scrape.body;
    const requests = (outcome: string, reason: string) => sample(text, 'isogw_intake_requests_total', { outcome, reason });
    expect(requests('accepted', '')).toBe(1);
    expect(requests('refused', 'invalid_dpop_proof')).toBe(1);
    expect(requests('replayed', '')).toBe(1);
    expect(requests('rejected', 'AM10')).toBe(1);
    expect(requests('invalid', 'unreadable_message')).toBe(1);
    expect(sample(text, 'isogw_dpop_replay_rejections_total')).toBe(1);
    expect(sample(text, 'isogw_idempotency_total', { result: 'miss' })).toBe(1);
    expect(sample(text, 'isogw_idempotency_total', { result: 'hit' })).toBe(1);
    expect(sample(text, 'isogw_idempotency_total', { result: 'reused' })).toBe(0);
    // Every request starts with authentication; only the two bookable-looking messages get as far as posting.
    expect(sample(text, 'isogw_intake_stage_seconds_count', { stage: 'authenticate' })).toBe(5);
    expect(sample(text, 'isogw_intake_stage_seconds_count', { stage: 'post' })).toBe(2);
    expect(sample(text, 'isogw_ledger_booking_seconds_count')).toBe(1);
    expect(sample(text, 'isogw_ledger_booking_seconds_bucket', { le: '+Inf' })).toBe(1);
    const lag = sample(text, 'isogw_outbox_lag_seconds');
    expect(lag).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'isogw_webhook_dead_letters_total')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
  });

  it('answers only GET on its three paths', async () => {
    expect((await get(`${gateway.opsUrl}/payments`)).status).toBe(404);
    const post = await request(`${gateway.opsUrl}/metrics`, { method: 'POST', body: '' });
    await post.body.text();
    expect(post.statusCode).toBe(405);
    expect(post.headers['allow']).toBe('GET, HEAD');
  });
});

describe('/health on the operations listener', () => {
  it('is live, and ready when Postgres, Redis and the AS key set answer', async () => {
    expect(JSON.parse((await get(`${gateway.opsUrl}/health/live`)).body)).toEqual({ status: 'live' });
    const ready = await get(`${gateway.opsUrl}/health/ready`);
    expect(ready.status, ready.body).toBe(200);
    const report = JSON.parse(ready.body) as { status: string; checks: Record<string, { ok: boolean }> };
    expect(report.status).toBe('ready');
    expect(Object.keys(report.checks).sort()).toEqual(['jwks', 'postgres', 'redis']);
    expect(Object.values(report.checks).every((check) => check.ok)).toBe(true);
  });

  it('is 503 naming redis when Redis cannot be reached, and still live', async () => {
    const closedPort = await freePort();
    const redisless = await startObservedGateway(as, logCapture(), { redisUrl: `redis://127.0.0.1:${closedPort}`, webhooks: { relay: false, allowInsecureEndpoints: true } });
    try {
      const ready = await get(`${redisless.opsUrl}/health/ready`);
      expect(ready.status, ready.body).toBe(503);
      const report = JSON.parse(ready.body) as { status: string; checks: Record<string, { ok: boolean; error?: string }> };
      expect(report.status).toBe('not_ready');
      expect(report.checks['redis']?.ok).toBe(false);
      expect(report.checks['redis']?.error).toEqual(expect.any(String));
      expect(report.checks['postgres']?.ok).toBe(true);
      expect(report.checks['jwks']?.ok).toBe(true);
      expect((await get(`${redisless.opsUrl}/health/live`)).status).toBe(200);
    } finally {
      await redisless.close();
    }
  });
});

describe('correlation in the logs', () => {
  const interactionId = randomUUID();
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const parentSpanId = '00f067aa0ba902b7';
  let uetr: string;
  let msgId: string;

  it("answers with the request's interaction id and a traceparent for our span in the caller's trace", async () => {
    const message = freshPacs008('alpha1');
    msgId = message.messageId;
    uetr = /<UETR>([^<]+)<\/UETR>/.exec(message.xml)![1]!;
    const { request: built } = await validDpopRequest(matrix, { body: message.xml });
    const answer = await sendMatrix(withHeaders(built, { 'x-fapi-interaction-id': interactionId, traceparent: `00-${traceId}-${parentSpanId}-01` }));
    expect(answer.status).toBe(200);
    expect(answer.headers['x-fapi-interaction-id']).toBe(interactionId);
    const traceparent = String(answer.headers['traceparent']);
    expect(traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(traceparent).not.toContain(parentSpanId);
  });

  it('puts the interaction id, the trace-id, UETR and MsgId on the booking line and the intake line', () => {
    const booking = logs.lines.find((line) => line.msg === 'payment held' && line['uetr'] === uetr);
    expect(booking, 'booking line').toMatchObject({ level: 30, interactionId, traceId, msgId, booking: 'held', transaction: 1 });
    const answered = logs.lines.find((line) => line.msg === 'intake answered' && line['interactionId'] === interactionId);
    expect(answered, 'intake line').toMatchObject({ traceId, msgId, outcome: 'accepted', status: 200, stage: 'post', clientId: 'bank-alpha', uetrs: [uetr] });
    expect(answered!['spanId']).toBe(booking!['spanId']);
  });

  it('stores the interaction id with the message', async () => {
    const { rows } = await gateway.database.pool.query<{ correlation_id: string }>('select correlation_id from messages where msg_id = $1', [msgId]);
    expect(rows).toEqual([{ correlation_id: interactionId }]);
  });

  it("logs each webhook attempt with the webhook-id, UETR, MsgId and the originating request's interaction id, and counts dead letters", async () => {
    const receiver = matrix.track(await startWebhookReceiver());
    receiver.setBehaviour(() => ({ status: 500 }));
    expectJson(await callApi(matrix, 'bank-alpha', 'POST', '/webhooks/endpoints', { body: { url: receiver.url } }), 201);
    const message = freshPacs008('alpha1');
    const paymentUetr = /<UETR>([^<]+)<\/UETR>/.exec(message.xml)![1]!;
    const correlation = randomUUID();
    const { request: built } = await validDpopRequest(matrix, { body: message.xml });
    expect((await sendMatrix(withHeaders(built, { 'x-fapi-interaction-id': correlation }))).status).toBe(200);

    // RCVD, then ACSP: each fails once with a 500 and, with an empty retry schedule, is dead-lettered.
    const attempts = () => logs.lines.filter((line) => line.msg === 'webhook attempt dead' && line['uetr'] === paymentUetr);
    await eventually(() => attempts().length === 2, ARRIVAL_TIMEOUT_MS, () => JSON.stringify(logs.lines.filter((line) => String(line.msg).startsWith('webhook'))));
    for (const line of attempts()) {
      expect(line).toMatchObject({ level: 50, component: 'webhook-relay', msgId: message.messageId, correlationId: correlation, status: 500, outcome: 'dead' });
      expect(line['webhookId']).toMatch(new RegExp(`^evt_${paymentUetr.replaceAll('-', '')}_\\d+$`));
    }
    expect(attempts().map((line) => line['eventType']).sort()).toEqual(['payment.accepted_in_process', 'payment.received']);

    const text = (await get(`${gateway.opsUrl}/metrics`)).body;
    expect(sample(text, 'isogw_webhook_dead_letters_total')).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'isogw_webhook_attempts_total', { outcome: 'dead' })).toBeGreaterThanOrEqual(2);
  });
});
