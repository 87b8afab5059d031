/**
 * The partners' webhook API through a real gateway (mutual TLS, real tokens, DPoP- and certificate-bound): endpoints
 * created, listed, changed, paused and resumed; secrets shown once and rotated with an overlap during which old and
 * new both verify (with the published standardwebhooks library); deliveries listed page by page and per payment;
 * every refusal's exact shape — bad bodies, missing scope, another partner's endpoint, too many endpoints, an http
 * URL on a production gateway, the database down.
 */
import { randomUUID } from 'node:crypto';

import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { WEBHOOK_API_BODY_LIMITS } from '../../src/routes/webhooks-json-body.ts';
import { setEndpointEnabled, signingKeysFor } from '../../src/webhooks/endpoints.ts';
import { WEBHOOK_EVENT_TYPES } from '../../src/webhooks/event-types.ts';
import { WEBHOOK_LIMITS } from '../../src/webhooks/limits.ts';
import { verifyAsymmetric, webhookHeaders } from '../../src/webhooks/signing.ts';
import { type DevPartnerId, expectAccepted, expectRefused, type Matrix, sendMatrix, startMatrix, validCertificateBoundRequest, validDpopRequest } from '../support/auth-matrix.ts';
import { type GatewayAnswer, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { freshPacs008 } from '../support/messages.ts';
import { type ApiCall, callApi, expectJson, expectProblem, relayUntil, type TestRelay, testRelay } from '../support/webhook-api.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

let matrix: Matrix;
let receiver: WebhookReceiver;
let relay: TestRelay;

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

beforeAll(async () => {
  matrix = await startMatrix();
  receiver = matrix.track(await startWebhookReceiver());
  relay = matrix.track(testRelay(matrix.gateway));
});

afterAll(async () => {
  await matrix?.close();
});

const call = (partner: DevPartnerId, method: string, path: string, options: ApiCall = {}) => callApi(matrix, partner, method, path, options);

async function createEndpoint(partner: DevPartnerId, body: Record<string, unknown> = {}): Promise<{ endpoint: any; signing: { secret: string; publicKey: string } }> {
  return expectJson(await call(partner, 'POST', '/webhooks/endpoints', { body: { url: receiver.url, ...body } }), 201);
}

async function endpointCount(): Promise<number> {
  const { rows } = await matrix.gateway.database.pool.query<{ n: number }>('select count(*)::int as n from webhook_endpoints');
  return rows[0]!.n;
}

/** Books a fresh pacs.008 through the intake: bank-alpha's 1-transaction message, or bank-beta's 10 to bank-gamma. */
async function bookPayment(partner: 'bank-alpha' | 'bank-beta'): Promise<string[]> {
  const { xml } = freshPacs008(partner === 'bank-alpha' ? 'alpha1' : 'beta10');
  const { request } = partner === 'bank-alpha' ? await validDpopRequest(matrix, { body: xml }) : await validCertificateBoundRequest(matrix, { body: xml });
  expectAccepted(await sendMatrix(request));
  return [...xml.matchAll(/<UETR>([^<]+)<\/UETR>/g)].map((match) => match[1]!);
}

describe('POST /webhooks/endpoints', () => {
  it('registers an endpoint for every event type, answers 201 with its Location and its signing secrets', async () => {
    const answer = await call('bank-alpha', 'POST', '/webhooks/endpoints', { body: { url: receiver.url } });
    const body = expectJson(answer, 201);
    expect(body).toEqual({
      endpoint: {
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        url: receiver.url,
        eventTypes: [...WEBHOOK_EVENT_TYPES],
        description: null,
        enabled: true,
        disabledReason: null,
        disabledAt: null,
        createdAt: expect.stringMatching(ISO_TIME),
        updatedAt: expect.stringMatching(ISO_TIME),
      },
      signing: { secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/), publicKey: expect.stringMatching(/^whpk_[A-Za-z0-9+/]{43}=$/) },
    });
    expect(answer.headers.location).toBe(`/webhooks/endpoints/${body.endpoint.id}`);
  });

  it('keeps the event types asked for (known ones, in the catalogue’s order, once each) and the description', async () => {
    const { endpoint } = await createEndpoint('bank-alpha', {
      eventTypes: ['payment.rejected', 'payment.settled', 'payment.rejected'],
      description: 'Zahlungsstatus → Treasury',
    });
    expect(endpoint).toMatchObject({ eventTypes: ['payment.settled', 'payment.rejected'], description: 'Zahlungsstatus → Treasury' });
  });

  it('never shows the secrets again: not in the list, not in the endpoint', async () => {
    const { endpoint, signing } = await createEndpoint('bank-alpha');
    const list = await call('bank-alpha', 'GET', '/webhooks/endpoints');
    const one = await call('bank-alpha', 'GET', `/webhooks/endpoints/${endpoint.id}`);
    expect(expectJson(one, 200)).toEqual({ endpoint });
    const listed = expectJson(list, 200).endpoints as { id: string }[];
    expect(listed.find((e) => e.id === endpoint.id)).toEqual(endpoint);
    for (const answer of [list, one]) {
      expect(answer.body).not.toContain(signing.secret.slice('whsec_'.length));
      expect(answer.body).not.toContain(signing.publicKey.slice('whpk_'.length));
      expect(answer.body).not.toMatch(/whsec_|whpk_|secret/i);
    }
  });

  it.each([
    ['no url', {}, 'invalid_url', 'url is required'],
    ['a url that is not a string', { url: 42 }, 'invalid_url', 'url must be a string'],
    ['an ftp url', { url: 'ftp://hooks.bank.example/x' }, 'invalid_url', 'https'],
    ['plain http to a non-loopback host', { url: 'http://hooks.bank.example/x' }, 'invalid_url', 'loopback'],
    ['a url with a password', { url: 'https://user:pw@hooks.bank.example/x' }, 'invalid_url', 'password'],
    ['a url longer than 2048 characters', { url: `https://hooks.bank.example/${'a'.repeat(2048)}` }, 'invalid_url', '2048'],
    ['no event type', { url: 'https://hooks.bank.example/x', eventTypes: [] }, 'invalid_event_types', 'at least one'],
    ['an unknown event type', { url: 'https://hooks.bank.example/x', eventTypes: ['payment.settled', 'payment.exploded'] }, 'invalid_event_types', '"payment.exploded"'],
    ['event types that are not a list', { url: 'https://hooks.bank.example/x', eventTypes: 'payment.settled' }, 'invalid_event_types', 'array'],
    ['a description of 257 characters', { url: 'https://hooks.bank.example/x', description: 'é'.repeat(257) }, 'invalid_description', '256'],
    ['a description that is a number', { url: 'https://hooks.bank.example/x', description: 7 }, 'invalid_description', 'string or null'],
    ['a misspelt field', { url: 'https://hooks.bank.example/x', evenTypes: ['payment.settled'] }, 'unknown_field', '"evenTypes"'],
    ['a field it does not take', { url: 'https://hooks.bank.example/x', enabled: false }, 'unknown_field', '"enabled"'],
  ])('refuses %s with 400 %s and registers nothing', async (_name, body, error, because) => {
    const before = await endpointCount();
    const description = expectProblem(await call('bank-alpha', 'POST', '/webhooks/endpoints', { body }), 400, error);
    expect(description).toContain(because);
    expect(await endpointCount()).toBe(before);
  });

  it.each([
    ['no body', undefined, {}, 400, 'invalid_json'],
    ['a body that is not JSON', '{"url": ', {}, 400, 'invalid_json'],
    ['a JSON array', '[]', {}, 400, 'invalid_json'],
    ['JSON null', 'null', {}, 400, 'invalid_json'],
    ['text/plain', '{"url":"https://hooks.bank.example/x"}', { 'content-type': 'text/plain' }, 415, 'unsupported_media_type'],
    ['JSON with another charset', '{"url":"https://hooks.bank.example/x"}', { 'content-type': 'application/json; charset=iso-8859-1' }, 415, 'unsupported_media_type'],
    ['a body without a content type', '{"url":"https://hooks.bank.example/x"}', { 'content-type': undefined }, 415, 'unsupported_media_type'],
    ['a body over the size limit', JSON.stringify({ url: 'https://hooks.bank.example/x', description: 'x'.repeat(WEBHOOK_API_BODY_LIMITS.bodyBytesMax) }), {}, 413, 'payload_too_large'],
  ])('refuses %s (%s) and registers nothing', async (_name, body, headers, status, error) => {
    const before = await endpointCount();
    expectProblem(await call('bank-alpha', 'POST', '/webhooks/endpoints', { body, headers }), status, error);
    expect(await endpointCount()).toBe(before);
  });

  it('accepts application/json; charset=utf-8', async () => {
    const answer = await call('bank-alpha', 'POST', '/webhooks/endpoints', { body: { url: receiver.url }, headers: { 'content-type': 'Application/JSON; charset="UTF-8"' } });
    expectJson(answer, 201);
  });
});

describe('scopes and authentication', () => {
  let alphaEndpoint: string;

  beforeAll(async () => {
    alphaEndpoint = (await createEndpoint('bank-alpha')).endpoint.id;
  });

  it('refuses every change to bank-gamma (payments:read only) with 403 insufficient_scope, before reading the body', async () => {
    const before = await endpointCount();
    const changes: [string, string, unknown][] = [
      ['POST', '/webhooks/endpoints', { url: receiver.url }],
      ['POST', '/webhooks/endpoints', 'not even JSON'],
      ['PATCH', `/webhooks/endpoints/${alphaEndpoint}`, { enabled: false }],
      ['POST', `/webhooks/endpoints/${alphaEndpoint}/rotate-secret`, {}],
      ['POST', `/webhooks/endpoints/${alphaEndpoint}/redeliver-dead`, undefined],
      ['POST', '/webhooks/deliveries/1/redeliver', undefined],
    ];
    for (const [method, path, body] of changes) {
      const answer = await call('bank-gamma', method, path, { body });
      expectRefused(answer, { status: 403, error: 'insufficient_scope', scheme: 'DPoP', because: 'payments:write' });
      expect(answer.headers['www-authenticate']).toContain('scope="payments:write"');
    }
    expect(await endpointCount()).toBe(before);
  });

  it('lets bank-gamma read (its own, empty, list)', async () => {
    expect(expectJson(await call('bank-gamma', 'GET', '/webhooks/endpoints'), 200)).toEqual({ endpoints: [] });
  });

  it('refuses a read to a token without payments:read with 403 insufficient_scope', async () => {
    for (const path of ['/webhooks/endpoints', `/webhooks/endpoints/${alphaEndpoint}`, `/webhooks/endpoints/${alphaEndpoint}/deliveries`, `/payments/${randomUUID()}/webhooks`]) {
      const answer = await call('bank-alpha', 'GET', path, { scope: 'payments:write' });
      expectRefused(answer, { status: 403, error: 'insufficient_scope', scheme: 'DPoP', because: 'payments:read' });
    }
  });

  it('refuses a request without credentials with 401 and both challenges', async () => {
    const answer = await call('bank-alpha', 'POST', '/webhooks/endpoints', { body: { url: receiver.url }, headers: { authorization: undefined } });
    expectRefused(answer, { status: 401, scheme: 'both' });
  });
});

describe('one partner’s endpoints are invisible to another', () => {
  let alpha: { endpoint: any; signing: unknown };

  beforeAll(async () => {
    alpha = await createEndpoint('bank-alpha', { description: 'alpha only' });
  });

  it('answers bank-beta about bank-alpha’s endpoint exactly as about one that does not exist, and changes nothing', async () => {
    const id = alpha.endpoint.id as string;
    const probes: [string, string, unknown][] = [
      ['GET', '', undefined],
      ['PATCH', '', { enabled: false }],
      ['PATCH', '', { url: 'https://evil.example/steal' }],
      ['POST', '/rotate-secret', {}],
      ['GET', '/deliveries', undefined],
      ['POST', '/redeliver-dead', undefined],
    ];
    for (const [method, suffix, body] of probes) {
      const foreign = await call('bank-beta', method, `/webhooks/endpoints/${id}${suffix}`, { body });
      const unknown = await call('bank-beta', method, `/webhooks/endpoints/${randomUUID()}${suffix}`, { body });
      const malformed = await call('bank-beta', method, `/webhooks/endpoints/not-a-uuid${suffix}`, { body });
      expectProblem(foreign, 404, 'endpoint_not_found');
      expect(foreign.body, `${method} ${suffix}`).toBe(unknown.body);
      expect(malformed.body, `${method} ${suffix}`).toBe(unknown.body);
    }
    const listed = expectJson(await call('bank-beta', 'GET', '/webhooks/endpoints'), 200).endpoints as { id: string }[];
    expect(listed.map((e) => e.id)).not.toContain(id);
    expect(expectJson(await call('bank-alpha', 'GET', `/webhooks/endpoints/${id}`), 200)).toEqual({ endpoint: alpha.endpoint });
    expect(await signingKeysFor(matrix.gateway.database.pool, id)).toHaveLength(2);
  });
});

describe('PATCH /webhooks/endpoints/{id}', () => {
  let id: string;

  beforeAll(async () => {
    id = (await createEndpoint('bank-beta', { description: 'to be changed' })).endpoint.id;
  });

  it('changes the url, the event types and the description (null clears it), and only those', async () => {
    const changed = expectJson(
      await call('bank-beta', 'PATCH', `/webhooks/endpoints/${id}`, { body: { url: `${receiver.url}/v2`, eventTypes: ['payment.rejected'], description: null } }),
      200,
    ).endpoint;
    expect(changed).toMatchObject({ id, url: `${receiver.url}/v2`, eventTypes: ['payment.rejected'], description: null, enabled: true });
    const again = expectJson(await call('bank-beta', 'PATCH', `/webhooks/endpoints/${id}`, { body: { description: 'back' } }), 200).endpoint;
    expect(again).toMatchObject({ url: `${receiver.url}/v2`, eventTypes: ['payment.rejected'], description: 'back' });
    expect(Date.parse(again.updatedAt)).toBeGreaterThanOrEqual(Date.parse(changed.updatedAt));
  });

  it('pauses the endpoint for the partner (reason partner) and resumes it', async () => {
    const paused = expectJson(await call('bank-beta', 'PATCH', `/webhooks/endpoints/${id}`, { body: { enabled: false } }), 200).endpoint;
    expect(paused).toMatchObject({ enabled: false, disabledReason: 'partner', disabledAt: expect.stringMatching(ISO_TIME) });
    const resumed = expectJson(await call('bank-beta', 'PATCH', `/webhooks/endpoints/${id}`, { body: { enabled: true } }), 200).endpoint;
    expect(resumed).toMatchObject({ enabled: true, disabledReason: null, disabledAt: null });
  });

  it('refuses an empty change, a non-boolean enabled, a bad url and an unknown field, changing nothing', async () => {
    const before = expectJson(await call('bank-beta', 'GET', `/webhooks/endpoints/${id}`), 200);
    expectProblem(await call('bank-beta', 'PATCH', `/webhooks/endpoints/${id}`, { body: {} }), 400, 'nothing_to_change');
    expectProblem(await call('bank-beta', 'PATCH', `/webhooks/endpoints/${id}`, { body: { enabled: 'false' } }), 400, 'invalid_enabled');
    // A valid description with an invalid url: all or nothing.
    expectProblem(await call('bank-beta', 'PATCH', `/webhooks/endpoints/${id}`, { body: { description: 'new', url: 'not a url' } }), 400, 'invalid_url');
    expectProblem(await call('bank-beta', 'PATCH', `/webhooks/endpoints/${id}`, { body: { description: 'new', enabled: false, secret: 'x' } }), 400, 'unknown_field');
    expectProblem(await call('bank-beta', 'PATCH', `/webhooks/endpoints/${id}`), 400, 'invalid_json');
    expect(expectJson(await call('bank-beta', 'GET', `/webhooks/endpoints/${id}`), 200)).toEqual(before);
  });

  it('will not let the partner enable or disable an endpoint its operators disabled, but lets it change the rest', async () => {
    await setEndpointEnabled(matrix.gateway.database.pool, id, false, 'operator');
    for (const enabled of [true, false]) {
      expectProblem(await call('bank-beta', 'PATCH', `/webhooks/endpoints/${id}`, { body: { enabled } }), 409, 'endpoint_disabled_by_operator');
    }
    const changed = expectJson(await call('bank-beta', 'PATCH', `/webhooks/endpoints/${id}`, { body: { description: 'while stopped' } }), 200).endpoint;
    expect(changed).toMatchObject({ description: 'while stopped', enabled: false, disabledReason: 'operator' });
    await setEndpointEnabled(matrix.gateway.database.pool, id, true, 'operator');
  });
});

describe('POST /webhooks/endpoints/{id}/rotate-secret', () => {
  let rotating: { endpoint: { id: string }; signing: { secret: string; publicKey: string } };

  beforeAll(async () => {
    rotating = await createEndpoint('bank-alpha');
  });

  it.each([[-1], [1.5], ['60'], [WEBHOOK_LIMITS.rotationOverlapMaxSeconds + 1], [null]])('refuses overlapSeconds %j with 400 invalid_overlap', async (overlapSeconds) => {
    const keys = await signingKeysFor(matrix.gateway.database.pool, rotating.endpoint.id);
    expectProblem(await call('bank-alpha', 'POST', `/webhooks/endpoints/${rotating.endpoint.id}/rotate-secret`, { body: { overlapSeconds } }), 400, 'invalid_overlap');
    expect(await signingKeysFor(matrix.gateway.database.pool, rotating.endpoint.id)).toEqual(keys);
  });

  it('rotates with the default overlap of 24 h when no body is sent', async () => {
    const before = Date.now();
    const rotated = expectJson(await call('bank-alpha', 'POST', `/webhooks/endpoints/${rotating.endpoint.id}/rotate-secret`), 200);
    expect(rotated).toEqual({
      signing: { secret: expect.stringMatching(/^whsec_/), publicKey: expect.stringMatching(/^whpk_/), previousKeysExpireAt: expect.stringMatching(ISO_TIME) },
    });
    expect(rotated.signing.secret).not.toBe(rotating.signing.secret);
    const expiresInMs = Date.parse(rotated.signing.previousKeysExpireAt) - before;
    expect(expiresInMs).toBeGreaterThanOrEqual(WEBHOOK_LIMITS.rotationOverlapDefaultSeconds * 1000 - 60_000);
    expect(expiresInMs).toBeLessThanOrEqual(WEBHOOK_LIMITS.rotationOverlapDefaultSeconds * 1000 + 60_000);
    expect(await signingKeysFor(matrix.gateway.database.pool, rotating.endpoint.id)).toHaveLength(4);
  });

  it('during the overlap a real delivery verifies with the old secret alone and with the new one alone (v1 and v1a); after it, only with the new', async () => {
    const own = matrix.track(await startWebhookReceiver());
    const { endpoint, signing: old } = await createEndpoint('bank-alpha', { url: own.url, eventTypes: ['payment.received'] });
    const fresh = expectJson(await call('bank-alpha', 'POST', `/webhooks/endpoints/${endpoint.id}/rotate-secret`, { body: { overlapSeconds: 3600 } }), 200).signing as {
      secret: string;
      publicKey: string;
    };

    own.setSecrets([old.secret]);
    await bookPayment('bank-alpha');
    await relayUntil(relay, () => own.requests.length > 0);
    const [delivery] = own.requests;
    expect(own.requests).toHaveLength(1);
    expect(delivery!.verified, delivery!.verifyError).toBe(true);
    // The same bytes, verified independently with each secret alone and each public key alone.
    expect(() => new Webhook(old.secret).verify(delivery!.body, delivery!.headers)).not.toThrow();
    expect(() => new Webhook(fresh.secret).verify(delivery!.body, delivery!.headers)).not.toThrow();
    expect(verifyAsymmetric(old.publicKey, delivery!.headers, delivery!.body)).toBe(true);
    expect(verifyAsymmetric(fresh.publicKey, delivery!.headers, delivery!.body)).toBe(true);
    expect(delivery!.signature?.split(' ').map((s) => s.split(',')[0]).sort()).toEqual(['v1', 'v1', 'v1a', 'v1a']);

    // A second rotation without overlap: the previous keys stop signing at once (the first ones with them).
    const last = expectJson(await call('bank-alpha', 'POST', `/webhooks/endpoints/${endpoint.id}/rotate-secret`, { body: { overlapSeconds: 0 } }), 200).signing;
    const keys = await signingKeysFor(matrix.gateway.database.pool, endpoint.id, new Date(Date.now() + 1_000));
    expect(keys.map((k) => k.scheme).sort()).toEqual(['v1', 'v1a']);
    const body = '{"type":"test"}';
    const headers = webhookHeaders(keys, `evt_${randomUUID()}`, Math.floor(Date.now() / 1000), body);
    expect(() => new Webhook(last.secret).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(fresh.secret).verify(body, headers)).toThrow();
    expect(() => new Webhook(old.secret).verify(body, headers)).toThrow();
    expect(verifyAsymmetric(last.publicKey, headers, body)).toBe(true);
    expect(verifyAsymmetric(fresh.publicKey, headers, body)).toBe(false);
  });
});

describe('GET /webhooks/endpoints/{id}/deliveries and GET /payments/{uetr}/webhooks', () => {
  let endpoint: string;
  let secret: string;
  let uetrs: string[];

  beforeAll(async () => {
    // A dedicated endpoint for bank-beta's payments; every other bank-beta endpoint is paused so only this one receives.
    for (const existing of expectJson(await call('bank-beta', 'GET', '/webhooks/endpoints'), 200).endpoints as { id: string; enabled: boolean }[]) {
      if (existing.enabled) await call('bank-beta', 'PATCH', `/webhooks/endpoints/${existing.id}`, { body: { enabled: false } });
    }
    const created = await createEndpoint('bank-beta', { eventTypes: ['payment.received', 'payment.settled'] });
    endpoint = created.endpoint.id;
    secret = created.signing.secret;
    receiver.setSecrets([secret]);
    uetrs = await bookPayment('bank-beta'); // 10 payments, each RCVD then ACSC (on-us to bank-gamma)
    await relayUntil(relay, async () => {
      const { rows } = await matrix.gateway.database.pool.query<{ n: number }>(
        `select count(*)::int as n from webhook_deliveries where endpoint_id = $1 and state = 'delivered'`,
        [endpoint],
      );
      return rows[0]!.n === 20;
    });
  });

  it('lists the endpoint’s deliveries newest first, in keyset pages that meet without gap or overlap', async () => {
    const all = expectJson(await call('bank-beta', 'GET', `/webhooks/endpoints/${endpoint}/deliveries`, { query: '?limit=100' }), 200);
    expect(all.nextBefore).toBeNull();
    const ids = (all.deliveries as { id: string }[]).map((d) => BigInt(d.id));
    expect(ids).toHaveLength(20);
    expect([...ids].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0))).toEqual(ids);
    const first = all.deliveries[0];
    expect(first).toEqual({
      id: expect.stringMatching(/^[1-9][0-9]*$/),
      endpointId: endpoint,
      webhookId: expect.any(String),
      eventType: expect.stringMatching(/^payment\.(received|settled)$/),
      uetr: expect.any(String),
      sequence: expect.any(Number),
      state: 'delivered',
      attempts: 1,
      nextAttemptAt: null,
      lastStatus: 200,
      lastError: null,
      deliveredAt: expect.stringMatching(ISO_TIME),
      deadAt: null,
      createdAt: expect.stringMatching(ISO_TIME),
    });
    expect(uetrs).toContain(first.uetr);

    const pages: string[] = [];
    let query = '?limit=7';
    for (let page = 0; page < 5; page += 1) {
      const answer = expectJson(await call('bank-beta', 'GET', `/webhooks/endpoints/${endpoint}/deliveries`, { query }), 200);
      pages.push(...(answer.deliveries as { id: string }[]).map((d) => d.id));
      if (answer.nextBefore === null) break;
      query = `?limit=7&before=${answer.nextBefore}`;
    }
    expect(pages).toEqual(ids.map(String));
  });

  it('filters by state', async () => {
    const dead = expectJson(await call('bank-beta', 'GET', `/webhooks/endpoints/${endpoint}/deliveries`, { query: '?state=dead' }), 200);
    expect(dead).toEqual({ deliveries: [], nextBefore: null });
    const delivered = expectJson(await call('bank-beta', 'GET', `/webhooks/endpoints/${endpoint}/deliveries`, { query: '?state=delivered&limit=3' }), 200);
    expect(delivered.deliveries).toHaveLength(3);
    expect(delivered.nextBefore).toBe(delivered.deliveries[2].id);
  });

  it.each(['?state=lost', '?limit=0', `?limit=${101}`, '?limit=ten', '?before=abc', '?before=0', '?state=dead&state=pending', '?page=2'])(
    'refuses the query %s with 400 invalid_query',
    async (query) => {
      expectProblem(await call('bank-beta', 'GET', `/webhooks/endpoints/${endpoint}/deliveries`, { query }), 400, 'invalid_query');
    },
  );

  it('shows the sender a payment’s deliveries in event order, each with its attempts', async () => {
    const uetr = uetrs[3]!;
    const body = expectJson(await call('bank-beta', 'GET', `/payments/${uetr.toUpperCase()}/webhooks`), 200);
    expect(body.uetr).toBe(uetr);
    expect(body.deliveries.map((d: { sequence: number; eventType: string }) => [d.sequence, d.eventType])).toEqual([
      [1, 'payment.received'],
      [2, 'payment.settled'],
    ]);
    for (const delivery of body.deliveries) {
      expect(delivery).toMatchObject({ endpointId: endpoint, uetr, state: 'delivered', attempts: 1 });
      expect(delivery.attemptLog).toEqual([
        {
          attempt: 1,
          startedAt: expect.stringMatching(ISO_TIME),
          finishedAt: expect.stringMatching(ISO_TIME),
          outcome: 'delivered',
          httpStatus: 200,
          error: null,
          retryAfterSeconds: null,
        },
      ]);
      const received = receiver.requests.find((r) => r.id === delivery.webhookId);
      expect(received?.verified).toBe(true);
    }
  });

  it('shows the creditor agent (bank-gamma, who may see the payment) none of the sender’s deliveries', async () => {
    expect(expectJson(await call('bank-gamma', 'GET', `/payments/${uetrs[0]}/webhooks`), 200)).toEqual({ uetr: uetrs[0], deliveries: [] });
  });

  it('answers a payment the caller may not see exactly like one that does not exist, and a malformed UETR with 400', async () => {
    const [alphaUetr] = await bookPayment('bank-alpha');
    const foreign = await call('bank-gamma', 'GET', `/payments/${alphaUetr}/webhooks`);
    const unknown = await call('bank-gamma', 'GET', `/payments/${randomUUID()}/webhooks`);
    expectProblem(foreign, 404, 'payment_not_found');
    expect(foreign.body).toBe(unknown.body);
    expectProblem(await call('bank-alpha', 'GET', '/payments/not-a-uuid/webhooks'), 400, 'invalid_uetr');
  });
});

describe('limits', () => {
  it(`refuses the ${WEBHOOK_LIMITS.endpointsPerPartner + 1}th endpoint of a partner with 409 too_many_endpoints (disabled ones count)`, async () => {
    const existing = (expectJson(await call('bank-beta', 'GET', '/webhooks/endpoints'), 200).endpoints as unknown[]).length;
    for (let n = existing; n < WEBHOOK_LIMITS.endpointsPerPartner; n += 1) await createEndpoint('bank-beta');
    const before = await endpointCount();
    const description = expectProblem(await call('bank-beta', 'POST', '/webhooks/endpoints', { body: { url: receiver.url } }), 409, 'too_many_endpoints');
    expect(description).toContain(String(WEBHOOK_LIMITS.endpointsPerPartner));
    expect(await endpointCount()).toBe(before);
  });
});

describe('on a production gateway (allowInsecureEndpoints false)', () => {
  let production: TestGateway;

  beforeAll(async () => {
    production = matrix.track(await startTestGateway(matrix.as, { webhooks: { relay: false, allowInsecureEndpoints: false } }));
  });

  it('refuses plain http even to loopback, and internal hosts, with 400 invalid_url', async () => {
    for (const url of ['http://127.0.0.1:8080/hooks', 'https://127.0.0.1/hooks', 'https://localhost/hooks', 'https://169.254.169.254/latest', 'https://intranet/hooks']) {
      expectProblem(await call('bank-alpha', 'POST', '/webhooks/endpoints', { body: { url }, gateway: production }), 400, 'invalid_url');
    }
  });

  it('accepts a public https URL', async () => {
    const { endpoint } = expectJson(await call('bank-alpha', 'POST', '/webhooks/endpoints', { body: { url: 'https://hooks.bank.example/iso20022' }, gateway: production }), 201);
    expect(endpoint.url).toBe('https://hooks.bank.example/iso20022');
  });
});

describe('when the database cannot be reached', () => {
  let blind: TestGateway;

  beforeAll(async () => {
    // Nothing listens on port 1: every query fails to connect.
    blind = matrix.track(await startTestGateway(matrix.as, { database: { url: 'postgres://postgres@127.0.0.1:1/nowhere', role: undefined } }));
  });

  it('answers reads and changes with 503 webhooks_unavailable and Retry-After, never a 500', async () => {
    const id = randomUUID();
    const requests: [DevPartnerId, string, string, unknown][] = [
      ['bank-alpha', 'GET', '/webhooks/endpoints', undefined],
      ['bank-alpha', 'GET', `/webhooks/endpoints/${id}`, undefined],
      ['bank-alpha', 'POST', '/webhooks/endpoints', { url: 'http://127.0.0.1:9/hooks' }],
      ['bank-beta', 'PATCH', `/webhooks/endpoints/${id}`, { enabled: false }],
      ['bank-alpha', 'POST', `/webhooks/endpoints/${id}/rotate-secret`, undefined],
      ['bank-alpha', 'GET', `/webhooks/endpoints/${id}/deliveries`, undefined],
      ['bank-alpha', 'POST', `/webhooks/endpoints/${id}/redeliver-dead`, undefined],
      ['bank-alpha', 'POST', '/webhooks/deliveries/7/redeliver', undefined],
      ['bank-alpha', 'GET', `/payments/${id}/webhooks`, undefined],
    ];
    for (const [partner, method, path, body] of requests) {
      const answer: GatewayAnswer = await call(partner, method, path, { body, gateway: blind });
      expectProblem(answer, 503, 'webhooks_unavailable');
      expect(answer.headers['retry-after'], `${method} ${path}`).toBe('5');
    }
  });
});
