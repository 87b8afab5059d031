/**
 * The webhook endpoint store against a real database, as the gateway's own role (isogw_app: only the grants of
 * migrations/0003_webhooks.sql): registration with keys revealed once, the per-partner limit under concurrency,
 * validation, enable/disable reasons, and key rotation with its overlap — checked by the standardwebhooks library.
 */
import { randomUUID } from 'node:crypto';

import type pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createDatabasePool } from '../../src/db/pool.ts';
import {
  createEndpoint,
  EndpointRefused,
  getEndpoint,
  listEndpoints,
  rotateSigningKeys,
  setEndpointEnabled,
  signingKeysFor,
  updateEndpoint,
} from '../../src/webhooks/endpoints.ts';
import { WEBHOOK_EVENT_TYPES } from '../../src/webhooks/event-types.ts';
import { WEBHOOK_LIMITS } from '../../src/webhooks/limits.ts';
import { verifyAsymmetric, webhookHeaders } from '../../src/webhooks/signing.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

const production = { allowInsecureEndpoints: false };
const development = { allowInsecureEndpoints: true };
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const BODY = '{"type":"payment.settled"}';

let database: TestDatabase;
/** The gateway's role, with the gateway's pool settings. */
let app: pg.Pool;

const client = () => `partner-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  database = await createTestDatabase();
  app = createDatabasePool({ url: database.url, role: 'isogw_app', poolConnectionsMax: 12 });
});

afterAll(async () => {
  await app?.end();
  await database?.close();
});

async function refusal(promise: Promise<unknown>): Promise<EndpointRefused> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EndpointRefused);
  return error as EndpointRefused;
}

describe('createEndpoint', () => {
  it('registers an endpoint subscribed to every event type and reveals its keys once', async () => {
    const clientId = client();
    const { endpoint, keys } = await createEndpoint(app, { clientId, url: 'https://hooks.example.com/isogw', description: 'settlement desk' }, production);
    expect(endpoint).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      clientId,
      url: 'https://hooks.example.com/isogw',
      eventTypes: [...WEBHOOK_EVENT_TYPES],
      description: 'settlement desk',
      enabled: true,
      disabledReason: null,
      disabledAt: null,
      createdAt: expect.stringMatching(ISO_TIMESTAMP),
      updatedAt: expect.stringMatching(ISO_TIMESTAMP),
    });
    expect(keys.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(keys.publicKey).toMatch(/^whpk_[A-Za-z0-9+/]{43}=$/);
    expect(keys.previousKeysExpireAt).toBeNull();
    // the view never carries a secret
    expect(JSON.stringify(await getEndpoint(app, endpoint.id))).not.toContain(keys.secret.slice(6, 20));
  });

  it('stores one v1 and one v1a key, and signing with them verifies with the revealed secret and public key', async () => {
    const { endpoint, keys } = await createEndpoint(app, { clientId: client(), url: 'https://hooks.example.com/a' }, production);
    const signingKeys = await signingKeysFor(app, endpoint.id);
    expect(signingKeys.map((k) => k.scheme).sort()).toEqual(['v1', 'v1a']);
    const headers = webhookHeaders(signingKeys, 'msg_1', Math.floor(Date.now() / 1000), BODY);
    expect(new Webhook(keys.secret).verify(BODY, headers)).toEqual(JSON.parse(BODY));
    expect(verifyAsymmetric(keys.publicKey, headers, BODY)).toBe(true);
  });

  it('gives each endpoint its own keys', async () => {
    const clientId = client();
    const a = await createEndpoint(app, { clientId, url: 'https://hooks.example.com/a' }, production);
    const b = await createEndpoint(app, { clientId, url: 'https://hooks.example.com/b' }, production);
    expect(a.keys.secret).not.toBe(b.keys.secret);
    expect(a.keys.publicKey).not.toBe(b.keys.publicKey);
  });

  it('keeps the event types given, without duplicates, in the canonical order', async () => {
    const { endpoint } = await createEndpoint(
      app,
      { clientId: client(), url: 'https://hooks.example.com/a', eventTypes: ['payment.rejected', 'payment.settled', 'payment.rejected'] },
      production,
    );
    expect(endpoint.eventTypes).toEqual(['payment.settled', 'payment.rejected']);
  });

  it('stores the normalised URL', async () => {
    const { endpoint } = await createEndpoint(app, { clientId: client(), url: 'HTTPS://Hooks.Example.COM:443/a' }, production);
    expect(endpoint.url).toBe('https://hooks.example.com/a');
  });

  it.each([
    ['http://hooks.example.com/', 'invalid_url', /https/],
    ['https://10.0.0.1/', 'invalid_url', /not a public/],
    ['https://localhost/', 'invalid_url', /internal/],
    ['not a url', 'invalid_url', /absolute/],
  ])('refuses %s as %s', async (url, code, message) => {
    const error = await refusal(createEndpoint(app, { clientId: client(), url }, production));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it('allows http to a loopback host in development only', async () => {
    const { endpoint } = await createEndpoint(app, { clientId: client(), url: 'http://127.0.0.1:9999/hooks' }, development);
    expect(endpoint.url).toBe('http://127.0.0.1:9999/hooks');
    expect((await refusal(createEndpoint(app, { clientId: client(), url: 'http://127.0.0.1:9999/hooks' }, production))).code).toBe('invalid_url');
  });

  it('refuses unknown and empty event types', async () => {
    const unknown = await refusal(createEndpoint(app, { clientId: client(), url: 'https://hooks.example.com/', eventTypes: ['payment.settled', 'payment.exploded'] }, production));
    expect(unknown.code).toBe('invalid_event_types');
    expect(unknown.message).toContain('"payment.exploded"');
    expect((await refusal(createEndpoint(app, { clientId: client(), url: 'https://hooks.example.com/', eventTypes: [] }, production))).code).toBe('invalid_event_types');
  });

  it('refuses a description over 256 characters (counted as characters, not UTF-16 units)', async () => {
    const clientId = client();
    const emoji = await createEndpoint(app, { clientId, url: 'https://hooks.example.com/', description: '💶'.repeat(256) }, production);
    expect(emoji.endpoint.description).toBe('💶'.repeat(256));
    expect((await refusal(createEndpoint(app, { clientId, url: 'https://hooks.example.com/', description: 'x'.repeat(257) }, production))).code).toBe('invalid_description');
  });

  it('writes nothing when it refuses', async () => {
    const clientId = client();
    await refusal(createEndpoint(app, { clientId, url: 'http://hooks.example.com/' }, production));
    expect(await listEndpoints(app, clientId)).toEqual([]);
  });

  it(`refuses a partner's endpoint beyond ${WEBHOOK_LIMITS.endpointsPerPartner}`, async () => {
    const clientId = client();
    for (let i = 0; i < WEBHOOK_LIMITS.endpointsPerPartner; i += 1) {
      await createEndpoint(app, { clientId, url: `https://hooks.example.com/${i}` }, production);
    }
    const error = await refusal(createEndpoint(app, { clientId, url: 'https://hooks.example.com/one-too-many' }, production));
    expect(error.code).toBe('too_many_endpoints');
    // another partner is not affected
    await createEndpoint(app, { clientId: client(), url: 'https://hooks.example.com/other' }, production);
    // disabled endpoints still count: disabling is not deleting
    const [first] = await listEndpoints(app, clientId);
    await setEndpointEnabled(app, first!.id, false, 'partner');
    expect((await refusal(createEndpoint(app, { clientId, url: 'https://hooks.example.com/again' }, production))).code).toBe('too_many_endpoints');
  });

  it('cannot exceed the limit with concurrent registrations', async () => {
    const clientId = client();
    const attempts = 15;
    const results = await Promise.allSettled(
      Array.from({ length: attempts }, (_, i) => createEndpoint(app, { clientId, url: `https://hooks.example.com/race/${i}` }, production)),
    );
    const created = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(created).toHaveLength(WEBHOOK_LIMITS.endpointsPerPartner);
    expect(refused.map((r) => (r.reason as EndpointRefused).code)).toEqual(Array(attempts - WEBHOOK_LIMITS.endpointsPerPartner).fill('too_many_endpoints'));
    const { rows } = await database.pool.query<{ n: number }>(`select count(*)::int as n from webhook_endpoints where client_id = $1`, [clientId]);
    expect(rows[0]!.n).toBe(WEBHOOK_LIMITS.endpointsPerPartner);
  });

  it("runs inside a caller's transaction on a client: rolled back with it", async () => {
    const clientId = client();
    const connection = await app.connect();
    try {
      await connection.query('begin');
      const { endpoint } = await createEndpoint(connection, { clientId, url: 'https://hooks.example.com/tx' }, production);
      expect(await getEndpoint(connection, endpoint.id)).toBeDefined();
      await connection.query('rollback');
      expect(await getEndpoint(app, endpoint.id)).toBeUndefined();
      expect(await signingKeysFor(app, endpoint.id)).toEqual([]);
    } finally {
      connection.release();
    }
  });

  it('commits on its own on a client outside a transaction', async () => {
    const clientId = client();
    const connection = await app.connect();
    try {
      const { endpoint } = await createEndpoint(connection, { clientId, url: 'https://hooks.example.com/autocommit' }, production);
      expect(await getEndpoint(app, endpoint.id)).toMatchObject({ id: endpoint.id });
      expect(await signingKeysFor(app, endpoint.id)).toHaveLength(2);
    } finally {
      connection.release();
    }
  });
});

describe('listEndpoints and getEndpoint', () => {
  it("lists only the partner's own endpoints, oldest first", async () => {
    const alpha = client();
    const beta = client();
    const a1 = await createEndpoint(app, { clientId: alpha, url: 'https://alpha.example.com/1' }, production);
    await createEndpoint(app, { clientId: beta, url: 'https://beta.example.com/1' }, production);
    const a2 = await createEndpoint(app, { clientId: alpha, url: 'https://alpha.example.com/2' }, production);
    expect((await listEndpoints(app, alpha)).map((e) => e.id)).toEqual([a1.endpoint.id, a2.endpoint.id]);
    expect((await listEndpoints(app, beta)).map((e) => e.url)).toEqual(['https://beta.example.com/1']);
    expect(await listEndpoints(app, client())).toEqual([]);
  });

  it('gets an endpoint by id; an unknown id or one that is not a UUID is undefined, not an error', async () => {
    const { endpoint } = await createEndpoint(app, { clientId: client(), url: 'https://hooks.example.com/' }, production);
    expect(await getEndpoint(app, endpoint.id)).toEqual(endpoint);
    expect(await getEndpoint(app, endpoint.id.toUpperCase())).toEqual(endpoint);
    expect(await getEndpoint(app, randomUUID())).toBeUndefined();
    expect(await getEndpoint(app, 'not-a-uuid')).toBeUndefined();
    expect(await getEndpoint(app, "1' or '1'='1")).toBeUndefined();
  });
});

describe('updateEndpoint', () => {
  it('changes only what is given and moves updated_at', async () => {
    const { endpoint } = await createEndpoint(app, { clientId: client(), url: 'https://hooks.example.com/old', description: 'keep me' }, production);
    const changed = await updateEndpoint(app, endpoint.id, { url: 'https://hooks.example.com/new', eventTypes: ['payment.settled'] }, production);
    expect(changed).toMatchObject({ url: 'https://hooks.example.com/new', eventTypes: ['payment.settled'], description: 'keep me', createdAt: endpoint.createdAt });
    expect(Date.parse(changed!.updatedAt)).toBeGreaterThanOrEqual(Date.parse(endpoint.updatedAt));
    expect(await updateEndpoint(app, endpoint.id, { description: null }, production)).toMatchObject({ description: null, url: 'https://hooks.example.com/new' });
    expect(await updateEndpoint(app, endpoint.id, { description: 'back' }, production)).toMatchObject({ description: 'back' });
  });

  it('answers the endpoint unchanged when nothing is given', async () => {
    const { endpoint } = await createEndpoint(app, { clientId: client(), url: 'https://hooks.example.com/' }, production);
    expect(await updateEndpoint(app, endpoint.id, {}, production)).toEqual(endpoint);
  });

  it('validates like createEndpoint, and changes nothing when it refuses', async () => {
    const { endpoint } = await createEndpoint(app, { clientId: client(), url: 'https://hooks.example.com/' }, production);
    expect((await refusal(updateEndpoint(app, endpoint.id, { url: 'https://169.254.169.254/', description: 'x' }, production))).code).toBe('invalid_url');
    expect((await refusal(updateEndpoint(app, endpoint.id, { eventTypes: ['nope'] }, production))).code).toBe('invalid_event_types');
    expect((await refusal(updateEndpoint(app, endpoint.id, { eventTypes: [] }, production))).code).toBe('invalid_event_types');
    expect((await refusal(updateEndpoint(app, endpoint.id, { description: 'x'.repeat(300) }, production))).code).toBe('invalid_description');
    expect(await getEndpoint(app, endpoint.id)).toEqual(endpoint);
  });

  it('is undefined for an unknown endpoint', async () => {
    expect(await updateEndpoint(app, randomUUID(), { description: 'x' }, production)).toBeUndefined();
    expect(await updateEndpoint(app, 'nope', { description: 'x' }, production)).toBeUndefined();
  });
});

describe('setEndpointEnabled', () => {
  it('disables with a reason and a time, and enabling clears both', async () => {
    const { endpoint } = await createEndpoint(app, { clientId: client(), url: 'https://hooks.example.com/' }, production);
    const disabled = await setEndpointEnabled(app, endpoint.id, false, 'gone');
    expect(disabled).toMatchObject({ enabled: false, disabledReason: 'gone', disabledAt: expect.stringMatching(ISO_TIMESTAMP) });
    const enabled = await setEndpointEnabled(app, endpoint.id, true, 'partner');
    expect(enabled).toMatchObject({ enabled: true, disabledReason: null, disabledAt: null });
  });

  it('keeps the first reason when an endpoint already disabled is disabled again', async () => {
    const { endpoint } = await createEndpoint(app, { clientId: client(), url: 'https://hooks.example.com/' }, production);
    const first = await setEndpointEnabled(app, endpoint.id, false, 'operator');
    const again = await setEndpointEnabled(app, endpoint.id, false, 'gone');
    expect(again).toEqual(first);
    expect(again).toMatchObject({ disabledReason: 'operator' });
  });

  it('changes nothing when enabling an enabled endpoint', async () => {
    const { endpoint } = await createEndpoint(app, { clientId: client(), url: 'https://hooks.example.com/' }, production);
    expect(await setEndpointEnabled(app, endpoint.id, true, 'partner')).toEqual(endpoint);
  });

  it('is undefined for an unknown endpoint', async () => {
    expect(await setEndpointEnabled(app, randomUUID(), false, 'operator')).toBeUndefined();
    expect(await setEndpointEnabled(app, 'x', false, 'operator')).toBeUndefined();
  });
});

describe('rotateSigningKeys', () => {
  const HOUR_S = 60 * 60;

  it('signs with old and new keys until the overlap ends, then with the new ones only', async () => {
    const { endpoint, keys: old } = await createEndpoint(app, { clientId: client(), url: 'https://hooks.example.com/' }, production);
    const now = new Date();
    const rotated = await rotateSigningKeys(app, endpoint.id, HOUR_S, now);
    expect(rotated).toMatchObject({ secret: expect.stringMatching(/^whsec_/), publicKey: expect.stringMatching(/^whpk_/) });
    expect(rotated!.secret).not.toBe(old.secret);
    expect(rotated!.previousKeysExpireAt).toBe(new Date(now.getTime() + HOUR_S * 1000).toISOString());

    const during = await signingKeysFor(app, endpoint.id, new Date(now.getTime() + HOUR_S * 1000 - 1000));
    expect(during.map((k) => k.scheme)).toEqual(['v1a', 'v1', 'v1a', 'v1']);
    const body = BODY;
    const headers = webhookHeaders(during, 'msg_rotation', Math.floor(Date.now() / 1000), body);
    // a receiver that knows only the old secret still verifies; so does one that switched
    expect(new Webhook(old.secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(new Webhook(rotated!.secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(verifyAsymmetric(old.publicKey, headers, body)).toBe(true);
    expect(verifyAsymmetric(rotated!.publicKey, headers, body)).toBe(true);

    const after = await signingKeysFor(app, endpoint.id, new Date(now.getTime() + HOUR_S * 1000 + 1000));
    expect(after).toHaveLength(2);
    const afterHeaders = webhookHeaders(after, 'msg_after', Math.floor(Date.now() / 1000), body);
    expect(() => new Webhook(old.secret).verify(body, afterHeaders)).toThrow(/No matching signature/);
    expect(new Webhook(rotated!.secret).verify(body, afterHeaders)).toEqual(JSON.parse(body));
    expect(verifyAsymmetric(old.publicKey, afterHeaders, body)).toBe(false);
  });

  it('lists the newest keys first', async () => {
    const { endpoint } = await createEndpoint(app, { clientId: client(), url: 'https://hooks.example.com/' }, production);
    const rotated = await rotateSigningKeys(app, endpoint.id, HOUR_S);
    const [newest, second] = await signingKeysFor(app, endpoint.id);
    expect(newest!.scheme).toBe('v1a');
    expect(second!.scheme).toBe('v1');
    const onlyNewest = webhookHeaders([second!], 'msg', Math.floor(Date.now() / 1000), BODY);
    expect(new Webhook(rotated!.secret).verify(BODY, onlyNewest)).toEqual(JSON.parse(BODY));
  });

  it('with overlap 0 retires the old keys at once', async () => {
    const { endpoint, keys: old } = await createEndpoint(app, { clientId: client(), url: 'https://hooks.example.com/' }, production);
    const now = new Date();
    await rotateSigningKeys(app, endpoint.id, 0, now);
    const keys = await signingKeysFor(app, endpoint.id, now);
    expect(keys).toHaveLength(2);
    const headers = webhookHeaders(keys, 'msg', Math.floor(Date.now() / 1000), BODY);
    expect(() => new Webhook(old.secret).verify(BODY, headers)).toThrow();
  });

  it('keeps the earlier expiry of keys already expiring when rotated again', async () => {
    const { endpoint, keys: first } = await createEndpoint(app, { clientId: client(), url: 'https://hooks.example.com/' }, production);
    const now = new Date();
    // first rotation: the first keys sign for 7 days; the second, an hour later, asks for only 1 hour
    const second = await rotateSigningKeys(app, endpoint.id, WEBHOOK_LIMITS.rotationOverlapMaxSeconds, now);
    const later = new Date(now.getTime() + HOUR_S * 1000);
    const third = await rotateSigningKeys(app, endpoint.id, HOUR_S, later);
    expect(third!.previousKeysExpireAt).toBe(new Date(later.getTime() + HOUR_S * 1000).toISOString());
    const within = await signingKeysFor(app, endpoint.id, new Date(later.getTime() + 30 * 60 * 1000));
    expect(within).toHaveLength(6);
    // after the hour, neither the first nor the second keys sign, although the first were given 7 days
    const after = await signingKeysFor(app, endpoint.id, new Date(later.getTime() + HOUR_S * 1000 + 1000));
    expect(after).toHaveLength(2);
    const headers = webhookHeaders(after, 'msg', Math.floor(Date.now() / 1000), BODY);
    expect(new Webhook(third!.secret).verify(BODY, headers)).toEqual(JSON.parse(BODY));
    for (const retired of [first.secret, second!.secret]) expect(() => new Webhook(retired).verify(BODY, headers)).toThrow();
  });

  it('is undefined for an unknown endpoint, and refuses an overlap out of range as a programmer error', async () => {
    expect(await rotateSigningKeys(app, randomUUID(), HOUR_S)).toBeUndefined();
    expect(await rotateSigningKeys(app, 'nope', HOUR_S)).toBeUndefined();
    const { endpoint } = await createEndpoint(app, { clientId: client(), url: 'https://hooks.example.com/' }, production);
    await expect(rotateSigningKeys(app, endpoint.id, -1)).rejects.toThrow(RangeError);
    await expect(rotateSigningKeys(app, endpoint.id, WEBHOOK_LIMITS.rotationOverlapMaxSeconds + 1)).rejects.toThrow(RangeError);
    await expect(rotateSigningKeys(app, endpoint.id, 1.5)).rejects.toThrow(RangeError);
  });

  it('concurrent rotations leave exactly one current pair', async () => {
    const { endpoint } = await createEndpoint(app, { clientId: client(), url: 'https://hooks.example.com/' }, production);
    await Promise.all(Array.from({ length: 4 }, () => rotateSigningKeys(app, endpoint.id, HOUR_S)));
    const { rows } = await database.pool.query<{ scheme: string }>(`select scheme from webhook_signing_keys where endpoint_id = $1 and expires_at is null`, [endpoint.id]);
    expect(rows.map((r) => r.scheme).sort()).toEqual(['v1', 'v1a']);
  });

  it('has no keys for an unknown endpoint or an id that is not a UUID', async () => {
    expect(await signingKeysFor(app, randomUUID())).toEqual([]);
    expect(await signingKeysFor(app, 'nope')).toEqual([]);
  });
});
