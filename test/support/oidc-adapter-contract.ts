/**
 * What every oidc-provider storage adapter of ours must do, whatever holds the records (Redis for any number of
 * authorization servers, memory for the embedded single instance): what oidc-provider stores comes back as stored,
 * expires when told, is consumable, destroyable and revocable by grant; records without a lifetime, too large or
 * with unacceptable ids are refused; and a replay-detection id looks new to exactly one caller, however many ask.
 *
 * The cases are those of test/integration/authz-redis-adapter.test.ts, with Redis look-ups replaced by what the
 * adapter itself answers (and by the subject's TTL probe where only a lifetime can tell).
 *
 * @example
 * describe.each(subjects)('oidc adapter on $name', (subject) => oidcAdapterContract(subject));
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import type { Adapter } from 'oidc-provider';
import { expect, it } from 'vitest';

import { RECORD_BYTES_MAX, RECORD_ID_CHARS_MAX, RecordRejectedError, REPLAY_CLAIM_TTL_SECONDS } from '../../src/authz/redis-adapter.ts';

/** One namespace of state (a Redis key prefix, an in-memory store), as one authorization server deployment has. */
export interface OidcAdapterNamespace {
  /** The adapter of `model` (oidc-provider's `adapter` option called with it). */
  adapter(model: string): Adapter;
  /** A second, independently built factory on the same state (another instance of the server, for Redis). */
  sibling(): (model: string) => Adapter;
  /** Whole seconds the record has left to live, undefined when there is none. */
  ttlSeconds(model: string, id: string): Promise<number | undefined>;
}

export interface OidcAdapterSubject {
  readonly name: string;
  /** A fresh namespace (called inside tests, after the file's beforeAll). */
  open(options?: { recordTtlMaxSeconds?: number }): OidcAdapterNamespace;
}

export function oidcAdapterContract(subject: OidcAdapterSubject): void {
  let shared: OidcAdapterNamespace | undefined;
  /** The namespace most cases share; cases that need their own open one. */
  const space = (): OidcAdapterNamespace => (shared ??= subject.open());
  const adapterFor = (model: string): Adapter => space().adapter(model);
  /** Ids unique per run, so the subjects' namespaces may be shared across tests without interference. */
  const id = (label: string): string => `${label}-${randomUUID()}`;

  it('returns an upserted payload from find', async () => {
    const adapter = adapterFor('AccessToken');
    const at = id('at');
    const payload = { jti: at, kind: 'AccessToken', clientId: 'bank-alpha', scope: 'payments:read', exp: 1 };
    await adapter.upsert(at, payload, 60);
    expect(await adapter.find(at)).toEqual(payload);
  });

  it('returns undefined for an id it never stored', async () => {
    expect(await adapterFor('AccessToken').find(id('never-stored'))).toBeUndefined();
  });

  it('keeps models apart under the same id', async () => {
    const shared = id('shared');
    await adapterFor('AccessToken').upsert(shared, { kind: 'AccessToken' }, 60);
    expect(await adapterFor('RefreshToken').find(shared)).toBeUndefined();
  });

  it('stores every record with the lifetime it was given', async () => {
    const ttl = id('ttl');
    await adapterFor('AccessToken').upsert(ttl, { kind: 'AccessToken' }, 120);
    const left = await space().ttlSeconds('AccessToken', ttl);
    expect(left).toBeGreaterThan(110);
    expect(left).toBeLessThanOrEqual(120);
  });

  it('forgets a record once its lifetime has passed', async () => {
    const adapter = adapterFor('AccessToken');
    const shortLived = id('short-lived');
    await adapter.upsert(shortLived, { kind: 'AccessToken' }, 1);
    await sleep(1_200);
    expect(await adapter.find(shortLived)).toBeUndefined();
  });

  it('refuses a record without a lifetime or with one beyond the maximum, and keeps nothing of it', async () => {
    const adapter = subject.open({ recordTtlMaxSeconds: 600 }).adapter('AccessToken');
    const [noTtl, longTtl] = [id('no-ttl'), id('long-ttl')];
    await expect(adapter.upsert(noTtl, { kind: 'AccessToken' })).rejects.toBeInstanceOf(RecordRejectedError);
    await expect(adapter.upsert(longTtl, { kind: 'AccessToken' }, 601)).rejects.toBeInstanceOf(RecordRejectedError);
    expect(await adapter.find(noTtl)).toBeUndefined();
    expect(await adapter.find(longTtl)).toBeUndefined();
  });

  it('refuses a payload larger than the maximum', async () => {
    const payload = { kind: 'AccessToken', extra: { blob: 'x'.repeat(RECORD_BYTES_MAX) } };
    const tooBig = id('too-big');
    await expect(adapterFor('AccessToken').upsert(tooBig, payload, 60)).rejects.toBeInstanceOf(RecordRejectedError);
    expect(await adapterFor('AccessToken').find(tooBig)).toBeUndefined();
  });

  it('answers an over-long id with "not found" and refuses to store one', async () => {
    const adapter = adapterFor('AccessToken');
    const overLong = 'x'.repeat(RECORD_ID_CHARS_MAX + 1);
    expect(await adapter.find(overLong)).toBeUndefined();
    await expect(adapter.upsert(overLong, { kind: 'AccessToken' }, 60)).rejects.toBeInstanceOf(RecordRejectedError);
  });

  it('marks a record consumed and keeps its payload and lifetime', async () => {
    const adapter = adapterFor('AuthorizationCode');
    const code = id('code');
    await adapter.upsert(code, { kind: 'AuthorizationCode', clientId: 'bank-alpha' }, 60);
    const before = Math.floor(Date.now() / 1000);
    await adapter.consume(code);
    const found = await adapter.find(code);
    expect(found).toMatchObject({ kind: 'AuthorizationCode', clientId: 'bank-alpha' });
    expect(found?.consumed).toBeGreaterThanOrEqual(before);
    expect(await space().ttlSeconds('AuthorizationCode', code)).toBeGreaterThan(50);
  });

  it('does not create a record when consuming an id it does not hold', async () => {
    const missing = id('missing-code');
    await adapterFor('AuthorizationCode').consume(missing);
    expect(await adapterFor('AuthorizationCode').find(missing)).toBeUndefined();
    expect(await space().ttlSeconds('AuthorizationCode', missing)).toBeUndefined();
  });

  it('forgets a consumed mark when the record is written again', async () => {
    const adapter = adapterFor('AuthorizationCode');
    const code = id('code');
    await adapter.upsert(code, { kind: 'AuthorizationCode' }, 60);
    await adapter.consume(code);
    await adapter.upsert(code, { kind: 'AuthorizationCode' }, 60);
    expect(await adapter.find(code)).not.toHaveProperty('consumed');
  });

  it('destroys a record, and its grant no longer revokes anything through it', async () => {
    const adapter = adapterFor('AccessToken');
    const [doomed, grant] = [id('doomed'), id('grant-d')];
    await adapter.upsert(doomed, { kind: 'AccessToken', grantId: grant }, 60);
    await adapter.destroy(doomed);
    expect(await adapter.find(doomed)).toBeUndefined();
    // Written again outside the grant: revoking the grant must not find it through a stale index entry.
    await adapter.upsert(doomed, { kind: 'AccessToken' }, 60);
    await adapter.revokeByGrantId(grant);
    expect(await adapter.find(doomed)).toBeDefined();
  });

  it('revokes every record of a grant across models and leaves other grants alone', async () => {
    const accessTokens = adapterFor('AccessToken');
    const refreshTokens = adapterFor('RefreshToken');
    const [g1, g2, g1at, g1rt, g2at] = [id('grant-1'), id('grant-2'), id('g1-at'), id('g1-rt'), id('g2-at')];
    await accessTokens.upsert(g1at, { kind: 'AccessToken', grantId: g1 }, 60);
    await refreshTokens.upsert(g1rt, { kind: 'RefreshToken', grantId: g1 }, 600);
    await accessTokens.upsert(g2at, { kind: 'AccessToken', grantId: g2 }, 60);

    await accessTokens.revokeByGrantId(g1);

    expect(await accessTokens.find(g1at)).toBeUndefined();
    expect(await refreshTokens.find(g1rt)).toBeUndefined();
    expect(await accessTokens.find(g2at)).toBeDefined();
  });

  it('keeps a grant index at least as long as its longest-lived record', async () => {
    const [grant, rt, at] = [id('grant-3'), id('g3-rt'), id('g3-at')];
    await adapterFor('RefreshToken').upsert(rt, { kind: 'RefreshToken', grantId: grant }, 5);
    // A shorter-lived record written later must not shorten the index the longer one depends on.
    await adapterFor('AccessToken').upsert(at, { kind: 'AccessToken', grantId: grant }, 1);
    await sleep(1_200);
    expect(await adapterFor('RefreshToken').find(rt)).toBeDefined();
    await adapterFor('AccessToken').revokeByGrantId(grant);
    expect(await adapterFor('RefreshToken').find(rt)).toBeUndefined();
  });

  it('finds a session by uid and a device code by user code', async () => {
    const [session, uid, device, userCode] = [id('session'), id('uid'), id('device'), id('ABCD')];
    await adapterFor('Session').upsert(session, { kind: 'Session', uid }, 60);
    await adapterFor('DeviceCode').upsert(device, { kind: 'DeviceCode', userCode }, 60);
    expect(await adapterFor('Session').findByUid(uid)).toMatchObject({ uid });
    expect(await adapterFor('DeviceCode').findByUserCode(userCode)).toMatchObject({ userCode });
    expect(await adapterFor('Session').findByUid(id('uid-unknown'))).toBeUndefined();
  });

  it('treats the first lookup of a replay-detection id as new and every later one as seen', async () => {
    const adapter = adapterFor('ReplayDetection');
    const jti = id('jti-hash');
    expect(await adapter.find(jti)).toBeUndefined();
    expect(await adapter.find(jti)).toMatchObject({ jti, kind: 'ReplayDetection' });
  });

  it('lets exactly one of many concurrent lookups of a replay-detection id see it as new', async () => {
    const adapter = adapterFor('ReplayDetection');
    const jti = id('jti-hash-race');
    const found = await Promise.all(Array.from({ length: 20 }, () => adapter.find(jti)));
    expect(found.filter((payload) => payload === undefined)).toHaveLength(1);
  });

  it('bounds an unsaved replay-detection claim by its own lifetime', async () => {
    const jti = id('jti-hash-unsaved');
    await adapterFor('ReplayDetection').find(jti);
    const left = await space().ttlSeconds('ReplayDetection', jti);
    expect(left).toBeGreaterThan(REPLAY_CLAIM_TTL_SECONDS - 10);
    expect(left).toBeLessThanOrEqual(REPLAY_CLAIM_TTL_SECONDS);
  });

  it('replaces a replay-detection claim with the saved record and its lifetime', async () => {
    const adapter = adapterFor('ReplayDetection');
    const jti = id('jti-hash-saved');
    expect(await adapter.find(jti)).toBeUndefined();
    await adapter.upsert(jti, { jti, kind: 'ReplayDetection', iss: 'bank-alpha' }, 30);
    expect(await adapter.find(jti)).toMatchObject({ iss: 'bank-alpha' });
    expect(await space().ttlSeconds('ReplayDetection', jti)).toBeLessThanOrEqual(30);
  });

  it('shares replay detection between adapters built by different factories on the same state', async () => {
    const namespace = subject.open();
    const first = namespace.sibling()('ReplayDetection');
    const second = namespace.sibling()('ReplayDetection');
    const jti = id('jti-hash-shared');
    expect(await first.find(jti)).toBeUndefined();
    await first.upsert(jti, { kind: 'ReplayDetection', iss: 'bank-alpha' }, 60);
    expect(await second.find(jti)).toEqual({ kind: 'ReplayDetection', iss: 'bank-alpha' });
  });
}
