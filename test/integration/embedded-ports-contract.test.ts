/**
 * The Redis-backed ports and their in-memory stand-ins (src/embedded/) pass the same contract, case for case: the
 * DPoP replay store, the Idempotency-Key fast path and the authorization server's oidc-provider adapter. This is
 * what lets the embedded default say "the same code paths above the ports": whatever the gateway and the AS do on
 * Redis, they do on memory too (for a single instance). Then the bounds only memory has: a full store refuses
 * instead of forgetting.
 */
import { randomUUID } from 'node:crypto';

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RedisAdapter, redisAdapterFactory } from '../../src/authz/redis-adapter.ts';
import { ExpiringMap } from '../../src/embedded/expiring-map.ts';
import { createMemoryIdempotencyFastPath } from '../../src/embedded/memory-idempotency.ts';
import { MemoryOidcStore, OidcStoreFull } from '../../src/embedded/memory-oidc-adapter.ts';
import { createMemoryReplayStore } from '../../src/embedded/memory-replay-store.ts';
import { createIdempotencyFastPath } from '../../src/idempotency/index.ts';
import { createRedisReplayStore, ReplayStoreUnavailable } from '../../src/security/replay-store.ts';
import { deleteKeysWithPrefix, TEST_REDIS_URL } from '../support/authz.ts';
import { CONTRACT_RESPONSE, idempotencyContract, type IdempotencyFastPathSubject } from '../support/idempotency-contract.ts';
import { oidcAdapterContract, type OidcAdapterSubject } from '../support/oidc-adapter-contract.ts';
import { replayStoreContract, type ReplayStoreSubject } from '../support/replay-store-contract.ts';

/** Answer every Redis call long before a test would hang. */
const TEST_TIMEOUT_MS = 2_000;
const filePrefix = `isogw-test:embedded-contract:${randomUUID()}:`;
/** A namespace of its own per call, so every store a test creates starts empty. */
const freshPrefix = (): string => `${filePrefix}${randomUUID()}:`;

let redis: Redis;

beforeAll(() => {
  redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  await deleteKeysWithPrefix(redis, filePrefix);
  await redis.quit();
});

const replayStores: ReplayStoreSubject[] = [
  { name: 'Redis', create: () => createRedisReplayStore(redis, { keyPrefix: freshPrefix(), timeoutMs: TEST_TIMEOUT_MS }) },
  { name: 'memory', create: () => createMemoryReplayStore() },
];

const idempotencyPaths: IdempotencyFastPathSubject[] = [
  { name: 'Redis', create: (options = {}) => createIdempotencyFastPath(redis, { keyPrefix: freshPrefix(), timeoutMs: TEST_TIMEOUT_MS, ...options }) },
  { name: 'memory', create: (options = {}) => createMemoryIdempotencyFastPath(options) },
];

const oidcAdapters: OidcAdapterSubject[] = [
  {
    name: 'Redis',
    open: (options = {}) => {
      const keyPrefix = freshPrefix();
      return {
        adapter: (model) => new RedisAdapter(model, { redis, keyPrefix, ...options }),
        sibling: () => redisAdapterFactory({ redis, keyPrefix, ...options }),
        ttlSeconds: async (model, id) => {
          const ttl = await redis.ttl(`${keyPrefix}${model}:${id}`);
          return ttl < 0 ? undefined : ttl;
        },
      };
    },
  },
  {
    name: 'memory',
    open: (options = {}) => {
      const store = new MemoryOidcStore(options);
      return { adapter: store.adapterFactory, sibling: () => store.adapterFactory, ttlSeconds: async (model, id) => store.ttlSeconds(model, id) };
    },
  },
];

describe.each(replayStores)('ReplayStore on $name', (subject) => replayStoreContract(subject));
describe.each(idempotencyPaths)('IdempotencyFastPath on $name', (subject) => idempotencyContract(subject));
describe.each(oidcAdapters)('oidc-provider adapter on $name', (subject) => oidcAdapterContract(subject));

describe('the in-memory stores when full', () => {
  it('replay store: refuses (fails closed) rather than forget a live jti, and has room again once jtis expire', async () => {
    let nowMs = 1_000_000;
    const store = createMemoryReplayStore({ entriesMax: 2, now: () => nowMs });
    expect(await store.claimOnce('a', 60)).toBe(true);
    expect(await store.claimOnce('b', 60)).toBe(true);
    await expect(store.claimOnce('c', 60)).rejects.toBeInstanceOf(ReplayStoreUnavailable);
    // The jtis it holds are still refused: nothing was evicted to make room.
    expect(await store.claimOnce('a', 60)).toBe(false);
    nowMs += 60_000;
    expect(await store.claimOnce('c', 60)).toBe(true);
  });

  it('idempotency fast path: answers unavailable (the ledger decides) and keeps what it holds', async () => {
    const path = createMemoryIdempotencyFastPath({ entriesMax: 1 });
    const first = await path.claim('bank-alpha', 'k1', 'f');
    expect(first.kind).toBe('claimed');
    expect((await path.claim('bank-alpha', 'k2', 'f')).kind).toBe('unavailable');
    if (first.kind !== 'claimed') return;
    // Completing the record it holds replaces it in place: no room needed.
    expect(await path.complete('bank-alpha', 'k1', first.token, 'f', CONTRACT_RESPONSE)).toBe(true);
    expect(await path.claim('bank-alpha', 'k1', 'f')).toEqual({ kind: 'completed', response: CONTRACT_RESPONSE });
  });

  it('oidc adapter: refuses new records and replay claims (the request fails) rather than evict one', async () => {
    const store = new MemoryOidcStore({ recordsMax: 1 });
    const replay = store.adapterFactory('ReplayDetection');
    expect(await replay.find('jti-1')).toBeUndefined();
    await expect(replay.find('jti-2')).rejects.toBeInstanceOf(OidcStoreFull);
    await expect(store.adapterFactory('AccessToken').upsert('at', { kind: 'AccessToken' }, 60)).rejects.toBeInstanceOf(OidcStoreFull);
    expect(await replay.find('jti-1')).toBeDefined();
  });
});

describe('ExpiringMap', () => {
  it('hides an entry the moment its lifetime ends and reports what is left of it until then', () => {
    let nowMs = 0;
    const map = new ExpiringMap<string>({ entriesMax: 10, now: () => nowMs });
    map.set('k', 'v', 1_000);
    nowMs = 999;
    expect(map.get('k')).toBe('v');
    expect(map.ttlMs('k')).toBe(1);
    nowMs = 1_000;
    expect(map.get('k')).toBeUndefined();
    expect(map.ttlMs('k')).toBeUndefined();
  });

  it('replace keeps the lifetime and never brings back an expired entry', () => {
    let nowMs = 0;
    const map = new ExpiringMap<string>({ entriesMax: 10, now: () => nowMs });
    map.set('k', 'v1', 1_000);
    nowMs = 400;
    expect(map.replace('k', 'v2')).toBe(true);
    expect(map.ttlMs('k')).toBe(600);
    nowMs = 1_000;
    expect(map.replace('k', 'v3')).toBe(false);
    expect(map.get('k')).toBeUndefined();
  });

  it('holds at most entriesMax live entries, dropping expired ones to make room', () => {
    let nowMs = 0;
    const map = new ExpiringMap<number>({ entriesMax: 2, now: () => nowMs });
    expect(map.set('a', 1, 10)).toBe(true);
    expect(map.setIfAbsent('b', 2, 100)).toBe('set');
    expect(map.set('c', 3, 100)).toBe(false);
    expect(map.setIfAbsent('c', 3, 100)).toBe('full');
    // Overwriting a key it holds needs no room.
    expect(map.set('b', 22, 100)).toBe(true);
    nowMs = 10;
    expect(map.setIfAbsent('c', 3, 100)).toBe('set');
    expect(map.size).toBe(2);
  });

  it('refuses lifetimes and sizes that are not positive integers', () => {
    expect(() => new ExpiringMap({ entriesMax: 0 })).toThrow(RangeError);
    const map = new ExpiringMap({ entriesMax: 1 });
    expect(() => map.set('k', 1, 0)).toThrow(RangeError);
    expect(() => map.setIfAbsent('k', 1, 1.5)).toThrow(RangeError);
  });
});
