/**
 * The Idempotency-Key fast path against a real Redis: one claim wins however many race, a retry with the same body
 * waits or gets the stored response byte for byte, a different body is a conflict, only the claim holder can
 * complete or release, a dead claim expires, and a Redis that is down, slow or holding garbage is reported as
 * 'unavailable' (false for complete/release) without ever throwing.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  createIdempotencyFastPath,
  IDEMPOTENCY_IN_FLIGHT_SECONDS,
  IDEMPOTENCY_RETENTION_SECONDS,
  type ClaimOutcome,
  type IdempotencyFastPath,
  type StoredResponse,
} from '../../src/idempotency/redis-fast-path.ts';
import { deleteKeysWithPrefix, TEST_REDIS_URL } from '../support/authz.ts';

const keyPrefix = `test:idem:${randomUUID()}:`;
const SCOPE = 'bank-alpha';
const FINGERPRINT = 'fingerprint-of-body-a';
const OTHER_FINGERPRINT = 'fingerprint-of-body-b';
/** Answer every call long before a test would hang; the bound on "slow Redis" is its own test. */
const TEST_TIMEOUT_MS = 2_000;

const RESPONSE: StoredResponse = {
  status: 201,
  headers: { 'content-type': 'application/xml; charset=utf-8', location: '/payments/42', 'x-request-id': 'r-1' },
  body: '<?xml version="1.0" encoding="UTF-8"?>\n<Document><Nm>Zoë Müller — Ærøskøbing 株式会社 💶</Nm></Document>',
};

let redis: Redis;
let fastPath: IdempotencyFastPath;

beforeAll(() => {
  redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  fastPath = createIdempotencyFastPath(redis, { keyPrefix, timeoutMs: TEST_TIMEOUT_MS });
});

afterAll(async () => {
  await deleteKeysWithPrefix(redis, keyPrefix);
  await redis.quit();
});

/** A fresh Idempotency-Key per test, so tests never see each other's state. */
const newKey = (): string => `key-${randomUUID()}`;

async function claimToken(path: IdempotencyFastPath, key: string, fingerprint = FINGERPRINT): Promise<string> {
  const outcome = await path.claim(SCOPE, key, fingerprint);
  if (outcome.kind !== 'claimed') throw new Error(`expected claimed, got ${outcome.kind}`);
  return outcome.token;
}

/** A fast path under a prefix of its own, so SCAN finds exactly the keys one test wrote. */
function isolatedFastPath(): { path: IdempotencyFastPath; prefix: string } {
  const prefix = `${keyPrefix}${randomUUID()}:`;
  return { path: createIdempotencyFastPath(redis, { keyPrefix: prefix, timeoutMs: TEST_TIMEOUT_MS }), prefix };
}

/** Every key under the prefix: SCAN to the end of the cursor (one page only covers part of a busy keyspace). */
async function keysUnder(prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return found;
}

describe('IdempotencyFastPath on Redis', () => {
  it('lets the first request with a key go ahead', async () => {
    const outcome = await fastPath.claim(SCOPE, newKey(), FINGERPRINT);
    expect(outcome).toEqual({ kind: 'claimed', token: expect.any(String) });
  });

  it('answers in_flight to the same key and body while the first request runs', async () => {
    const key = newKey();
    await claimToken(fastPath, key);
    expect(await fastPath.claim(SCOPE, key, FINGERPRINT)).toEqual({ kind: 'in_flight' });
  });

  it('answers conflict to the same key with a different body, in flight or completed', async () => {
    const key = newKey();
    const token = await claimToken(fastPath, key);
    expect(await fastPath.claim(SCOPE, key, OTHER_FINGERPRINT)).toEqual({ kind: 'conflict' });
    expect(await fastPath.complete(SCOPE, key, token, FINGERPRINT, RESPONSE)).toBe(true);
    expect(await fastPath.claim(SCOPE, key, OTHER_FINGERPRINT)).toEqual({ kind: 'conflict' });
  });

  it('replays a completed response exactly: status, headers and non-ASCII body', async () => {
    const key = newKey();
    const token = await claimToken(fastPath, key);
    expect(await fastPath.complete(SCOPE, key, token, FINGERPRINT, RESPONSE)).toBe(true);

    const replay = await fastPath.claim(SCOPE, key, FINGERPRINT);
    expect(replay).toEqual({ kind: 'completed', response: RESPONSE });
    if (replay.kind !== 'completed') return;
    expect(Buffer.from(replay.response.body, 'utf8').equals(Buffer.from(RESPONSE.body, 'utf8'))).toBe(true);
    // Every retry gets the same answer, not only the first.
    expect(await fastPath.claim(SCOPE, key, FINGERPRINT)).toEqual({ kind: 'completed', response: RESPONSE });
  });

  it('keeps a claim for inFlightSeconds and a completed response for retentionSeconds', async () => {
    const { path, prefix } = isolatedFastPath();
    const key = newKey();
    const token = await claimToken(path, key);
    const [name] = await keysUnder(prefix);
    if (name === undefined) throw new Error('claim stored nothing');
    const inFlightTtl = await redis.ttl(name);
    expect(inFlightTtl).toBeGreaterThan(0);
    expect(inFlightTtl).toBeLessThanOrEqual(IDEMPOTENCY_IN_FLIGHT_SECONDS);

    await path.complete(SCOPE, key, token, FINGERPRINT, RESPONSE);
    expect(await redis.ttl(name)).toBeGreaterThan(IDEMPOTENCY_RETENTION_SECONDS - 10);
  });

  it('does not let a stale token complete over the claim that replaced it', async () => {
    const key = newKey();
    const staleToken = await claimToken(fastPath, key);
    expect(await fastPath.release(SCOPE, key, staleToken)).toBe(true);
    const currentToken = await claimToken(fastPath, key);

    expect(await fastPath.complete(SCOPE, key, staleToken, FINGERPRINT, RESPONSE)).toBe(false);
    expect(await fastPath.claim(SCOPE, key, FINGERPRINT)).toEqual({ kind: 'in_flight' });

    const currentResponse = { ...RESPONSE, status: 200 };
    expect(await fastPath.complete(SCOPE, key, currentToken, FINGERPRINT, currentResponse)).toBe(true);
    expect(await fastPath.claim(SCOPE, key, FINGERPRINT)).toEqual({ kind: 'completed', response: currentResponse });
  });

  it('does not complete twice, nor under a fingerprint other than the claimed one', async () => {
    const key = newKey();
    const token = await claimToken(fastPath, key);
    expect(await fastPath.complete(SCOPE, key, token, OTHER_FINGERPRINT, RESPONSE)).toBe(false);
    expect(await fastPath.complete(SCOPE, key, token, FINGERPRINT, RESPONSE)).toBe(true);
    expect(await fastPath.complete(SCOPE, key, token, FINGERPRINT, { ...RESPONSE, status: 500 })).toBe(false);
    expect(await fastPath.claim(SCOPE, key, FINGERPRINT)).toEqual({ kind: 'completed', response: RESPONSE });
  });

  it('does not complete a claim that has expired', async () => {
    const path = createIdempotencyFastPath(redis, { keyPrefix, inFlightSeconds: 1, timeoutMs: TEST_TIMEOUT_MS });
    const key = newKey();
    const token = await claimToken(path, key);
    await sleep(1_200);
    expect(await path.complete(SCOPE, key, token, FINGERPRINT, RESPONSE)).toBe(false);
    expect((await path.claim(SCOPE, key, FINGERPRINT)).kind).toBe('claimed');
  });

  it('lets the next request claim a released key', async () => {
    const key = newKey();
    const token = await claimToken(fastPath, key);
    expect(await fastPath.release(SCOPE, key, token)).toBe(true);
    expect((await fastPath.claim(SCOPE, key, FINGERPRINT)).kind).toBe('claimed');
  });

  it('ignores a release with another token', async () => {
    const key = newKey();
    await claimToken(fastPath, key);
    expect(await fastPath.release(SCOPE, key, randomUUID())).toBe(false);
    expect(await fastPath.claim(SCOPE, key, FINGERPRINT)).toEqual({ kind: 'in_flight' });
  });

  it('keeps a completed response when its own claim token releases it', async () => {
    const key = newKey();
    const token = await claimToken(fastPath, key);
    await fastPath.complete(SCOPE, key, token, FINGERPRINT, RESPONSE);
    expect(await fastPath.release(SCOPE, key, token)).toBe(false);
    expect(await fastPath.claim(SCOPE, key, FINGERPRINT)).toEqual({ kind: 'completed', response: RESPONSE });
  });

  it('lets exactly one of 50 concurrent claims of one key through', async () => {
    const key = newKey();
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => fastPath.claim(SCOPE, key, FINGERPRINT)));
    const kinds = outcomes.map((outcome) => outcome.kind);
    expect(kinds.filter((kind) => kind === 'claimed')).toHaveLength(1);
    expect(kinds.filter((kind) => kind === 'in_flight')).toHaveLength(49);
  });

  it('gives up the claim of a request that died once inFlightSeconds have passed', async () => {
    const path = createIdempotencyFastPath(redis, { keyPrefix, inFlightSeconds: 1, timeoutMs: TEST_TIMEOUT_MS });
    const key = newKey();
    await claimToken(path, key);
    expect(await path.claim(SCOPE, key, FINGERPRINT)).toEqual({ kind: 'in_flight' });
    await sleep(1_200);
    expect((await path.claim(SCOPE, key, FINGERPRINT)).kind).toBe('claimed');
  });

  it('keeps partners apart under the same Idempotency-Key', async () => {
    const key = newKey();
    await claimToken(fastPath, key);
    expect((await fastPath.claim('bank-beta', key, FINGERPRINT)).kind).toBe('claimed');
  });

  it('stores no trace of the raw key in the key name, and the partner as a cluster hash tag', async () => {
    const { path, prefix } = isolatedFastPath();
    const rawKey = `raw-${randomUUID()}`;
    await claimToken(path, rawKey);
    const names = await keysUnder(prefix);
    expect(names).toHaveLength(1);
    const [name] = names;
    expect(name).not.toContain(rawKey);
    expect(name).not.toContain(rawKey.slice(4, 12));
    expect(name).toMatch(new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}idem:\\{${SCOPE}\\}:[A-Za-z0-9_-]{43}$`));
    expect(await redis.get(name ?? '')).not.toContain(rawKey);
  });

  it('reports an unreadable stored record as unavailable and leaves it alone', async () => {
    const { path, prefix } = isolatedFastPath();
    const key = newKey();
    const token = await claimToken(path, key);
    const [name] = await keysUnder(prefix);
    if (name === undefined) throw new Error('claim stored nothing');

    for (const garbage of ['not json', '{"state":"completed","token":"t","fingerprint":"fingerprint-of-body-a"}', '[]']) {
      await redis.set(name, garbage, 'EX', 60);
      const outcome = await path.claim(SCOPE, key, FINGERPRINT);
      expect(outcome.kind).toBe('unavailable');
      expect(await path.complete(SCOPE, key, token, FINGERPRINT, RESPONSE)).toBe(false);
      expect(await path.release(SCOPE, key, token)).toBe(false);
      expect(await redis.get(name)).toBe(garbage);
    }
  });

  it('refuses options Redis could not honour', () => {
    expect(() => createIdempotencyFastPath(redis, { keyPrefix: '' })).toThrow(TypeError);
    expect(() => createIdempotencyFastPath(redis, { keyPrefix, inFlightSeconds: 0.5 })).toThrow(RangeError);
    expect(() => createIdempotencyFastPath(redis, { keyPrefix, retentionSeconds: 0 })).toThrow(RangeError);
  });
});

describe('IdempotencyFastPath without a working Redis', () => {
  let downRedis: Redis;
  let silentServer: Server;
  const silentSockets = new Set<Socket>();
  let silentRedis: Redis;

  beforeAll(async () => {
    downRedis = new Redis({
      host: '127.0.0.1',
      port: await closedPort(),
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    downRedis.on('error', () => {}); // connection refused is the point of these tests

    // Accepts connections and never answers a byte: a Redis that is up but hopelessly slow.
    silentServer = createServer((socket) => {
      silentSockets.add(socket);
      socket.on('close', () => silentSockets.delete(socket));
    });
    await new Promise<void>((resolve) => silentServer.listen(0, '127.0.0.1', resolve));
    silentRedis = new Redis({ host: '127.0.0.1', port: portOf(silentServer), maxRetriesPerRequest: 0, retryStrategy: () => null });
    silentRedis.on('error', () => {});
  });

  afterAll(async () => {
    downRedis.disconnect();
    silentRedis.disconnect();
    for (const socket of silentSockets) socket.destroy();
    await new Promise<void>((resolve) => silentServer.close(() => resolve()));
  });

  it('answers unavailable and false when Redis refuses connections, without throwing', async () => {
    const path = createIdempotencyFastPath(downRedis, { keyPrefix, timeoutMs: TEST_TIMEOUT_MS });
    const key = newKey();
    const outcome: ClaimOutcome = await path.claim(SCOPE, key, FINGERPRINT);
    expect(outcome.kind).toBe('unavailable');
    if (outcome.kind === 'unavailable') {
      expect(outcome.error).toBeInstanceOf(Error);
      // The Redis error, not the timer: a refused connection is reported at once.
      expect(outcome.error.cause).toBeInstanceOf(Error);
    }
    expect(await path.complete(SCOPE, key, randomUUID(), FINGERPRINT, RESPONSE)).toBe(false);
    expect(await path.release(SCOPE, key, randomUUID())).toBe(false);
  });

  it('answers unavailable within its timeout when Redis does not answer', async () => {
    const path = createIdempotencyFastPath(silentRedis, { keyPrefix, timeoutMs: 100 });
    const key = newKey();
    const started = performance.now();
    const outcome = await path.claim(SCOPE, key, FINGERPRINT);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(outcome.kind).toBe('unavailable');
    if (outcome.kind === 'unavailable') expect(outcome.error.message).toMatch(/100 ms/);
    expect(await path.complete(SCOPE, key, randomUUID(), FINGERPRINT, RESPONSE)).toBe(false);
    expect(await path.release(SCOPE, key, randomUUID())).toBe(false);
  });
});

/** A loopback port nothing listens on (bound once by us, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = portOf(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function portOf(server: Server): number {
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('server has no port');
  return address.port;
}
