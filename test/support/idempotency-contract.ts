/**
 * What every Idempotency-Key fast path must do, whatever holds the records (Redis for any number of gateways,
 * memory for the embedded single instance): one claim wins however many race, a retry with the same body waits or
 * gets the stored response exactly, a different body is a conflict, only the claim holder can complete or release,
 * claims and completed responses expire after their lifetimes, and options it could not honour are refused.
 *
 * The cases are those of test/integration/idempotency-redis.test.ts that do not look inside Redis; that file keeps
 * the Redis-only ones (key names, unreadable records, a Redis that is down or slow).
 *
 * @example
 * describe.each(subjects)('IdempotencyFastPath on $name', (subject) => idempotencyContract(subject));
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { expect, it } from 'vitest';

import type { IdempotencyFastPath, StoredResponse } from '../../src/idempotency/index.ts';

export interface IdempotencyFastPathSubject {
  readonly name: string;
  /** A fast path with a namespace of its own (called inside tests, after the file's beforeAll). */
  create(options?: { inFlightSeconds?: number; retentionSeconds?: number }): IdempotencyFastPath;
}

const SCOPE = 'bank-alpha';
const FINGERPRINT = 'fingerprint-of-body-a';
const OTHER_FINGERPRINT = 'fingerprint-of-body-b';

export const CONTRACT_RESPONSE: StoredResponse = {
  status: 201,
  headers: { 'content-type': 'application/xml; charset=utf-8', location: '/payments/42', 'x-request-id': 'r-1' },
  body: '<?xml version="1.0" encoding="UTF-8"?>\n<Document><Nm>Zoë Müller — Ærøskøbing 株式会社 💶</Nm></Document>',
};
const RESPONSE = CONTRACT_RESPONSE;

/** A fresh Idempotency-Key per test, so tests never see each other's state. */
const newKey = (): string => `key-${randomUUID()}`;

async function claimToken(path: IdempotencyFastPath, key: string, fingerprint = FINGERPRINT): Promise<string> {
  const outcome = await path.claim(SCOPE, key, fingerprint);
  if (outcome.kind !== 'claimed') throw new Error(`expected claimed, got ${outcome.kind}`);
  return outcome.token;
}

export function idempotencyContract(subject: IdempotencyFastPathSubject): void {
  it('lets the first request with a key go ahead', async () => {
    const outcome = await subject.create().claim(SCOPE, newKey(), FINGERPRINT);
    expect(outcome).toEqual({ kind: 'claimed', token: expect.any(String) });
  });

  it('answers in_flight to the same key and body while the first request runs', async () => {
    const fastPath = subject.create();
    const key = newKey();
    await claimToken(fastPath, key);
    expect(await fastPath.claim(SCOPE, key, FINGERPRINT)).toEqual({ kind: 'in_flight' });
  });

  it('answers conflict to the same key with a different body, in flight or completed', async () => {
    const fastPath = subject.create();
    const key = newKey();
    const token = await claimToken(fastPath, key);
    expect(await fastPath.claim(SCOPE, key, OTHER_FINGERPRINT)).toEqual({ kind: 'conflict' });
    expect(await fastPath.complete(SCOPE, key, token, FINGERPRINT, RESPONSE)).toBe(true);
    expect(await fastPath.claim(SCOPE, key, OTHER_FINGERPRINT)).toEqual({ kind: 'conflict' });
  });

  it('replays a completed response exactly: status, headers and non-ASCII body', async () => {
    const fastPath = subject.create();
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

  it('replays what was stored, not what the caller did to its objects afterwards', async () => {
    const fastPath = subject.create();
    const key = newKey();
    const token = await claimToken(fastPath, key);
    const response = { status: 200, headers: { 'x-a': '1' } as Record<string, string>, body: 'stored' };
    await fastPath.complete(SCOPE, key, token, FINGERPRINT, response);
    response.headers['x-a'] = 'changed';
    const first = await fastPath.claim(SCOPE, key, FINGERPRINT);
    if (first.kind === 'completed') (first.response.headers as Record<string, string>)['x-a'] = 'changed by a reader';
    expect(await fastPath.claim(SCOPE, key, FINGERPRINT)).toEqual({ kind: 'completed', response: { status: 200, headers: { 'x-a': '1' }, body: 'stored' } });
  });

  it('does not let a stale token complete over the claim that replaced it', async () => {
    const fastPath = subject.create();
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
    const fastPath = subject.create();
    const key = newKey();
    const token = await claimToken(fastPath, key);
    expect(await fastPath.complete(SCOPE, key, token, OTHER_FINGERPRINT, RESPONSE)).toBe(false);
    expect(await fastPath.complete(SCOPE, key, token, FINGERPRINT, RESPONSE)).toBe(true);
    expect(await fastPath.complete(SCOPE, key, token, FINGERPRINT, { ...RESPONSE, status: 500 })).toBe(false);
    expect(await fastPath.claim(SCOPE, key, FINGERPRINT)).toEqual({ kind: 'completed', response: RESPONSE });
  });

  it('does not complete a claim that has expired', async () => {
    const path = subject.create({ inFlightSeconds: 1 });
    const key = newKey();
    const token = await claimToken(path, key);
    await sleep(1_200);
    expect(await path.complete(SCOPE, key, token, FINGERPRINT, RESPONSE)).toBe(false);
    expect((await path.claim(SCOPE, key, FINGERPRINT)).kind).toBe('claimed');
  });

  it('lets the next request claim a released key', async () => {
    const fastPath = subject.create();
    const key = newKey();
    const token = await claimToken(fastPath, key);
    expect(await fastPath.release(SCOPE, key, token)).toBe(true);
    expect((await fastPath.claim(SCOPE, key, FINGERPRINT)).kind).toBe('claimed');
  });

  it('ignores a release with another token', async () => {
    const fastPath = subject.create();
    const key = newKey();
    await claimToken(fastPath, key);
    expect(await fastPath.release(SCOPE, key, randomUUID())).toBe(false);
    expect(await fastPath.claim(SCOPE, key, FINGERPRINT)).toEqual({ kind: 'in_flight' });
  });

  it('keeps a completed response when its own claim token releases it', async () => {
    const fastPath = subject.create();
    const key = newKey();
    const token = await claimToken(fastPath, key);
    await fastPath.complete(SCOPE, key, token, FINGERPRINT, RESPONSE);
    expect(await fastPath.release(SCOPE, key, token)).toBe(false);
    expect(await fastPath.claim(SCOPE, key, FINGERPRINT)).toEqual({ kind: 'completed', response: RESPONSE });
  });

  it('lets exactly one of 50 concurrent claims of one key through', async () => {
    const fastPath = subject.create();
    const key = newKey();
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => fastPath.claim(SCOPE, key, FINGERPRINT)));
    const kinds = outcomes.map((outcome) => outcome.kind);
    expect(kinds.filter((kind) => kind === 'claimed')).toHaveLength(1);
    expect(kinds.filter((kind) => kind === 'in_flight')).toHaveLength(49);
  });

  it('gives up the claim of a request that died once inFlightSeconds have passed', async () => {
    const path = subject.create({ inFlightSeconds: 1 });
    const key = newKey();
    await claimToken(path, key);
    expect(await path.claim(SCOPE, key, FINGERPRINT)).toEqual({ kind: 'in_flight' });
    await sleep(1_200);
    expect((await path.claim(SCOPE, key, FINGERPRINT)).kind).toBe('claimed');
  });

  it('forgets a completed response once retentionSeconds have passed', async () => {
    const path = subject.create({ retentionSeconds: 1 });
    const key = newKey();
    const token = await claimToken(path, key);
    expect(await path.complete(SCOPE, key, token, FINGERPRINT, RESPONSE)).toBe(true);
    expect((await path.claim(SCOPE, key, FINGERPRINT)).kind).toBe('completed');
    await sleep(1_200);
    expect((await path.claim(SCOPE, key, FINGERPRINT)).kind).toBe('claimed');
  });

  it('keeps partners apart under the same Idempotency-Key', async () => {
    const fastPath = subject.create();
    const key = newKey();
    await claimToken(fastPath, key);
    expect((await fastPath.claim('bank-beta', key, FINGERPRINT)).kind).toBe('claimed');
  });

  it('keeps a header literally named __proto__ a header', async () => {
    const fastPath = subject.create();
    const key = newKey();
    const headers: Record<string, string> = {};
    Object.defineProperty(headers, '__proto__', { value: 'x', enumerable: true, writable: true, configurable: true });
    const token = await claimToken(fastPath, key);
    await fastPath.complete(SCOPE, key, token, FINGERPRINT, { status: 200, headers, body: '' });
    const replay = await fastPath.claim(SCOPE, key, FINGERPRINT);
    if (replay.kind !== 'completed') throw new Error(`expected completed, got ${replay.kind}`);
    expect(Object.getPrototypeOf(replay.response.headers)).toBe(Object.prototype);
    expect(Object.entries(replay.response.headers)).toEqual([['__proto__', 'x']]);
  });

  it('refuses lifetimes it could not honour', () => {
    expect(() => subject.create({ inFlightSeconds: 0.5 })).toThrow(RangeError);
    expect(() => subject.create({ retentionSeconds: 0 })).toThrow(RangeError);
  });
}
