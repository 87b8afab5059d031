/**
 * The oidc-provider adapter contract against a real Redis: what oidc-provider stores must come back as stored,
 * expire when told, be consumable, destroyable and revocable by grant, and a replay-detection id must look new to
 * exactly one caller, however many ask at once.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  RECORD_BYTES_MAX,
  RECORD_ID_CHARS_MAX,
  RecordRejectedError,
  RedisAdapter,
  redisAdapterFactory,
  REPLAY_CLAIM_TTL_SECONDS,
} from '../../src/authz/redis-adapter.ts';
import { deleteKeysWithPrefix, TEST_REDIS_URL } from '../support/authz.ts';

let redis: Redis;
const keyPrefix = `isogw-test:authz-adapter:${randomUUID()}:`;
const adapterFor = (model: string) => new RedisAdapter(model, { redis, keyPrefix });

beforeAll(() => {
  redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  await deleteKeysWithPrefix(redis, keyPrefix);
  await redis.quit();
});

describe('RedisAdapter', () => {
  it('returns an upserted payload from find', async () => {
    const adapter = adapterFor('AccessToken');
    const payload = { jti: 'at-1', kind: 'AccessToken', clientId: 'bank-alpha', scope: 'payments:read', exp: 1 };
    await adapter.upsert('at-1', payload, 60);
    expect(await adapter.find('at-1')).toEqual(payload);
  });

  it('returns undefined for an id it never stored', async () => {
    expect(await adapterFor('AccessToken').find('never-stored')).toBeUndefined();
  });

  it('keeps models apart under the same id', async () => {
    await adapterFor('AccessToken').upsert('shared-id', { kind: 'AccessToken' }, 60);
    expect(await adapterFor('RefreshToken').find('shared-id')).toBeUndefined();
  });

  it('stores every record with the lifetime it was given', async () => {
    await adapterFor('AccessToken').upsert('ttl-1', { kind: 'AccessToken' }, 120);
    const ttl = await redis.ttl(`${keyPrefix}AccessToken:ttl-1`);
    expect(ttl).toBeGreaterThan(110);
    expect(ttl).toBeLessThanOrEqual(120);
  });

  it('forgets a record once its lifetime has passed', async () => {
    const adapter = adapterFor('AccessToken');
    await adapter.upsert('short-lived', { kind: 'AccessToken' }, 1);
    await sleep(1_200);
    expect(await adapter.find('short-lived')).toBeUndefined();
  });

  it('refuses a record without a lifetime or with one beyond the maximum', async () => {
    const adapter = new RedisAdapter('AccessToken', { redis, keyPrefix, recordTtlMaxSeconds: 600 });
    await expect(adapter.upsert('no-ttl', { kind: 'AccessToken' })).rejects.toBeInstanceOf(RecordRejectedError);
    await expect(adapter.upsert('long-ttl', { kind: 'AccessToken' }, 601)).rejects.toBeInstanceOf(RecordRejectedError);
    expect(await redis.exists(`${keyPrefix}AccessToken:no-ttl`, `${keyPrefix}AccessToken:long-ttl`)).toBe(0);
  });

  it('refuses a payload larger than the maximum', async () => {
    const payload = { kind: 'AccessToken', extra: { blob: 'x'.repeat(RECORD_BYTES_MAX) } };
    await expect(adapterFor('AccessToken').upsert('too-big', payload, 60)).rejects.toBeInstanceOf(RecordRejectedError);
  });

  it('answers an over-long id with "not found" without asking Redis to store it', async () => {
    const adapter = adapterFor('AccessToken');
    const id = 'x'.repeat(RECORD_ID_CHARS_MAX + 1);
    expect(await adapter.find(id)).toBeUndefined();
    await expect(adapter.upsert(id, { kind: 'AccessToken' }, 60)).rejects.toBeInstanceOf(RecordRejectedError);
  });

  it('marks a record consumed and keeps its payload and lifetime', async () => {
    const adapter = adapterFor('AuthorizationCode');
    await adapter.upsert('code-1', { kind: 'AuthorizationCode', clientId: 'bank-alpha' }, 60);
    const before = Math.floor(Date.now() / 1000);
    await adapter.consume('code-1');
    const found = await adapter.find('code-1');
    expect(found).toMatchObject({ kind: 'AuthorizationCode', clientId: 'bank-alpha' });
    expect(found?.consumed).toBeGreaterThanOrEqual(before);
    expect(await redis.ttl(`${keyPrefix}AuthorizationCode:code-1`)).toBeGreaterThan(0);
  });

  it('does not create a record when consuming an id it does not hold', async () => {
    await adapterFor('AuthorizationCode').consume('missing-code');
    expect(await redis.exists(`${keyPrefix}AuthorizationCode:missing-code`)).toBe(0);
  });

  it('forgets a consumed mark when the record is written again', async () => {
    const adapter = adapterFor('AuthorizationCode');
    await adapter.upsert('code-2', { kind: 'AuthorizationCode' }, 60);
    await adapter.consume('code-2');
    await adapter.upsert('code-2', { kind: 'AuthorizationCode' }, 60);
    expect(await adapter.find('code-2')).not.toHaveProperty('consumed');
  });

  it('destroys a record', async () => {
    const adapter = adapterFor('AccessToken');
    await adapter.upsert('doomed', { kind: 'AccessToken', grantId: 'grant-d' }, 60);
    await adapter.destroy('doomed');
    expect(await adapter.find('doomed')).toBeUndefined();
    expect(await redis.sismember(`${keyPrefix}grant:grant-d`, `${keyPrefix}AccessToken:doomed`)).toBe(0);
  });

  it('revokes every record of a grant across models and leaves other grants alone', async () => {
    const accessTokens = adapterFor('AccessToken');
    const refreshTokens = adapterFor('RefreshToken');
    await accessTokens.upsert('g1-at', { kind: 'AccessToken', grantId: 'grant-1' }, 60);
    await refreshTokens.upsert('g1-rt', { kind: 'RefreshToken', grantId: 'grant-1' }, 600);
    await accessTokens.upsert('g2-at', { kind: 'AccessToken', grantId: 'grant-2' }, 60);

    await accessTokens.revokeByGrantId('grant-1');

    expect(await accessTokens.find('g1-at')).toBeUndefined();
    expect(await refreshTokens.find('g1-rt')).toBeUndefined();
    expect(await accessTokens.find('g2-at')).toBeDefined();
    expect(await redis.exists(`${keyPrefix}grant:grant-1`)).toBe(0);
  });

  it('keeps a grant index at least as long as its longest-lived record', async () => {
    await adapterFor('RefreshToken').upsert('g3-rt', { kind: 'RefreshToken', grantId: 'grant-3' }, 600);
    await adapterFor('AccessToken').upsert('g3-at', { kind: 'AccessToken', grantId: 'grant-3' }, 60);
    expect(await redis.ttl(`${keyPrefix}grant:grant-3`)).toBeGreaterThan(590);
  });

  it('finds a session by uid and a device code by user code', async () => {
    await adapterFor('Session').upsert('session-1', { kind: 'Session', uid: 'uid-1' }, 60);
    await adapterFor('DeviceCode').upsert('device-1', { kind: 'DeviceCode', userCode: 'ABCD-EFGH' }, 60);
    expect(await adapterFor('Session').findByUid('uid-1')).toMatchObject({ uid: 'uid-1' });
    expect(await adapterFor('DeviceCode').findByUserCode('ABCD-EFGH')).toMatchObject({ userCode: 'ABCD-EFGH' });
    expect(await adapterFor('Session').findByUid('uid-unknown')).toBeUndefined();
  });

  it('treats the first lookup of a replay-detection id as new and every later one as seen', async () => {
    const adapter = adapterFor('ReplayDetection');
    expect(await adapter.find('jti-hash-1')).toBeUndefined();
    expect(await adapter.find('jti-hash-1')).toMatchObject({ jti: 'jti-hash-1', kind: 'ReplayDetection' });
  });

  it('lets exactly one of many concurrent lookups of a replay-detection id see it as new', async () => {
    const adapter = adapterFor('ReplayDetection');
    const found = await Promise.all(Array.from({ length: 20 }, () => adapter.find('jti-hash-race')));
    expect(found.filter((payload) => payload === undefined)).toHaveLength(1);
  });

  it('bounds an unsaved replay-detection claim by its own lifetime', async () => {
    await adapterFor('ReplayDetection').find('jti-hash-unsaved');
    const ttl = await redis.ttl(`${keyPrefix}ReplayDetection:jti-hash-unsaved`);
    expect(ttl).toBeGreaterThan(REPLAY_CLAIM_TTL_SECONDS - 10);
    expect(ttl).toBeLessThanOrEqual(REPLAY_CLAIM_TTL_SECONDS);
  });

  it('replaces a replay-detection claim with the saved record and its lifetime', async () => {
    const adapter = adapterFor('ReplayDetection');
    expect(await adapter.find('jti-hash-saved')).toBeUndefined();
    await adapter.upsert('jti-hash-saved', { jti: 'jti-hash-saved', kind: 'ReplayDetection', iss: 'bank-alpha' }, 30);
    expect(await adapter.find('jti-hash-saved')).toMatchObject({ iss: 'bank-alpha' });
    expect(await redis.ttl(`${keyPrefix}ReplayDetection:jti-hash-saved`)).toBeLessThanOrEqual(30);
  });

  it('shares replay detection between adapters built by different factories on the same prefix', async () => {
    const first = redisAdapterFactory({ redis, keyPrefix })('ReplayDetection');
    const second = redisAdapterFactory({ redis, keyPrefix })('ReplayDetection');
    expect(await first.find('jti-hash-shared')).toBeUndefined();
    await first.upsert('jti-hash-shared', { kind: 'ReplayDetection', iss: 'bank-alpha' }, 60);
    expect(await second.find('jti-hash-shared')).toEqual({ kind: 'ReplayDetection', iss: 'bank-alpha' });
  });
});
