/**
 * oidc-provider's storage adapter on Redis, so that any number of authorization server instances share one state:
 * a client assertion or DPoP proof seen by one instance is a replay at every other.
 *
 * Layout (every key starts with the configured prefix):
 *   `<prefix><Model>:<id>`       hash { payload: JSON, consumed?: epoch seconds }, expires with the record
 *   `<prefix>grant:<grantId>`    set of record keys issued under that grant (for revokeByGrantId)
 *   `<prefix>userCode:<code>`    id of the DeviceCode carrying that user code
 *   `<prefix>uid:<uid>`          id of the Session carrying that uid
 *
 * Every record expires: oidc-provider passes a lifetime for everything this server stores, and a record without
 * one (or with one longer than the configured maximum) is refused loudly instead of living forever. Index entries
 * expire no earlier than the records they point at; a stale index entry only ever leads to "not found".
 *
 * The multi-key writes run in MULTI transactions, which a single Redis (or Sentinel) executes atomically. Under
 * Redis Cluster they would need the record and its indexes in one hash slot; that is not done here.
 */
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Redis } from 'ioredis';

/** Longest lifetime a record may ask for. This server stores only short-lived records (replay detection, minutes). */
export const RECORD_TTL_MAX_SECONDS = 24 * 60 * 60;
/** Largest serialized payload accepted; oidc-provider's records are a few hundred bytes. */
export const RECORD_BYTES_MAX = 64 * 1024;
/** Longest id looked up; ids can come from callers (token values, client ids), so bound them before they reach Redis. */
export const RECORD_ID_CHARS_MAX = 512;
/** Most records one grant may index; revokeByGrantId reads them all at once. */
export const GRANT_MEMBERS_MAX = 1_000;

/** oidc-provider models whose records hang off a grant (revokeByGrantId must find them). */
const GRANTABLE_MODELS = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

/**
 * ReplayDetection answers "seen this jti before?" with find-then-save (oidc-provider's ReplayDetection.unique), which
 * two instances could both pass at the same moment, both seeing "not found". So for this model find is
 * find-or-claim: one atomic HSETNX either creates a placeholder record (first sighting: "not found", and every later
 * or concurrent caller finds the placeholder) or loses to an existing record (a replay: return it). The save that
 * follows overwrites the placeholder with the real record and lifetime.
 */
const FIND_OR_CLAIM_MODELS = new Set(['ReplayDetection']);
/**
 * Lifetime of a placeholder whose real record never arrives (the process died in between). Longer than any replay
 * window we accept: client assertions live at most minutes, and DPoP proofs are accepted for minutes around iat.
 */
export const REPLAY_CLAIM_TTL_SECONDS = 10 * 60;

/** Marks consumption only on a record that still exists, so consuming an expired id never creates an immortal key. */
const CONSUME_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'consumed', ARGV[1])
  return 1
end
return 0`;

export interface RedisAdapterOptions {
  readonly redis: Redis;
  /** Namespaces every key, e.g. `isogw:authz:`; different deployments or test runs must not share one. */
  readonly keyPrefix: string;
  readonly recordTtlMaxSeconds?: number;
}

export class RecordRejectedError extends Error {
  override readonly name = 'RecordRejectedError';
}

/** An oidc-provider `adapter` option: `adapter: redisAdapterFactory({ redis, keyPrefix })`. */
export function redisAdapterFactory(options: RedisAdapterOptions): (model: string) => Adapter {
  return (model) => new RedisAdapter(model, options);
}

export class RedisAdapter implements Adapter {
  readonly #model: string;
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #ttlMaxSeconds: number;

  constructor(model: string, options: RedisAdapterOptions) {
    if (options.keyPrefix === '') throw new TypeError('keyPrefix must not be empty');
    this.#model = model;
    this.#redis = options.redis;
    this.#prefix = options.keyPrefix;
    this.#ttlMaxSeconds = options.recordTtlMaxSeconds ?? RECORD_TTL_MAX_SECONDS;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    assertId(id);
    if (expiresIn === undefined || !Number.isSafeInteger(expiresIn) || expiresIn <= 0) {
      throw new RecordRejectedError(`${this.#model} record without a positive integer lifetime (got ${expiresIn})`);
    }
    if (expiresIn > this.#ttlMaxSeconds) {
      throw new RecordRejectedError(`${this.#model} record asks to live ${expiresIn}s, more than ${this.#ttlMaxSeconds}s`);
    }
    const json = JSON.stringify(payload);
    if (Buffer.byteLength(json) > RECORD_BYTES_MAX) {
      throw new RecordRejectedError(`${this.#model} record is larger than ${RECORD_BYTES_MAX} bytes`);
    }
    const key = this.#recordKey(id);

    const grantKey = GRANTABLE_MODELS.has(this.#model) && typeof payload.grantId === 'string'
      ? this.#grantKey(payload.grantId)
      : undefined;
    if (grantKey !== undefined && (await this.#redis.scard(grantKey)) >= GRANT_MEMBERS_MAX) {
      throw new RecordRejectedError(`grant ${String(payload.grantId)} already indexes ${GRANT_MEMBERS_MAX} records`);
    }

    // DEL first so a `consumed` mark from an earlier version of the record does not survive the rewrite.
    const transaction = this.#redis.multi().del(key).hset(key, 'payload', json).expire(key, expiresIn);
    if (grantKey !== undefined) {
      // The index lives as long as its longest-lived member: set a lifetime if it has none, extend it if shorter.
      transaction.sadd(grantKey, key).expire(grantKey, expiresIn, 'NX').expire(grantKey, expiresIn, 'GT');
    }
    if (typeof payload.userCode === 'string') {
      transaction.set(this.#indexKey('userCode', payload.userCode), id, 'EX', expiresIn);
    }
    if (this.#model === 'Session' && typeof payload.uid === 'string') {
      transaction.set(this.#indexKey('uid', payload.uid), id, 'EX', expiresIn);
    }
    checkTransaction(await transaction.exec());
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    if (!isAcceptableId(id)) return undefined;
    if (FIND_OR_CLAIM_MODELS.has(this.#model) && (await this.#claim(id))) return undefined;
    const stored = await this.#redis.hgetall(this.#recordKey(id));
    if (stored.payload === undefined) return undefined;
    const payload = JSON.parse(stored.payload) as AdapterPayload;
    if (stored.consumed !== undefined) payload.consumed = Number(stored.consumed);
    return payload;
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.#findByIndex('uid', uid);
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.#findByIndex('userCode', userCode);
  }

  async consume(id: string): Promise<void> {
    if (!isAcceptableId(id)) return;
    await this.#redis.eval(CONSUME_SCRIPT, 1, this.#recordKey(id), Math.floor(Date.now() / 1000));
  }

  async destroy(id: string): Promise<void> {
    if (!isAcceptableId(id)) return;
    const key = this.#recordKey(id);
    const stored = await this.#redis.hget(key, 'payload');
    const transaction = this.#redis.multi().del(key);
    const grantId = stored === null ? undefined : (JSON.parse(stored) as AdapterPayload).grantId;
    if (GRANTABLE_MODELS.has(this.#model) && typeof grantId === 'string') transaction.srem(this.#grantKey(grantId), key);
    checkTransaction(await transaction.exec());
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    if (!isAcceptableId(grantId)) return;
    const grantKey = this.#grantKey(grantId);
    const members = await this.#redis.smembers(grantKey);
    const transaction = this.#redis.multi();
    for (const member of members) transaction.del(member);
    checkTransaction(await transaction.del(grantKey).exec());
  }

  /** True when this call created the record (nobody had claimed the id); see FIND_OR_CLAIM_MODELS. */
  async #claim(id: string): Promise<boolean> {
    const key = this.#recordKey(id);
    const now = Math.floor(Date.now() / 1000);
    // A payload oidc-provider accepts as a live record, so a concurrent finder treats the id as seen.
    const placeholder = JSON.stringify({ jti: id, kind: this.#model, iat: now, exp: now + REPLAY_CLAIM_TTL_SECONDS });
    // EXPIRE NX leaves an existing record's lifetime alone when the HSETNX lost.
    const results = await this.#redis.multi()
      .hsetnx(key, 'payload', placeholder)
      .expire(key, REPLAY_CLAIM_TTL_SECONDS, 'NX')
      .exec();
    return transactionResult(results, 0) === 1;
  }

  async #findByIndex(index: 'uid' | 'userCode', value: string): Promise<AdapterPayload | undefined> {
    if (!isAcceptableId(value)) return undefined;
    const id = await this.#redis.get(this.#indexKey(index, value));
    return id === null ? undefined : this.find(id);
  }

  #recordKey(id: string): string {
    return `${this.#prefix}${this.#model}:${id}`;
  }

  #grantKey(grantId: string): string {
    return `${this.#prefix}grant:${grantId}`;
  }

  #indexKey(index: 'uid' | 'userCode', value: string): string {
    return `${this.#prefix}${index}:${value}`;
  }
}

function isAcceptableId(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= RECORD_ID_CHARS_MAX;
}

function assertId(id: string): void {
  if (!isAcceptableId(id)) throw new RecordRejectedError(`record id must be 1..${RECORD_ID_CHARS_MAX} characters`);
}

type TransactionResults = [error: Error | null, result: unknown][] | null;

/** MULTI reports per-command errors in its result list instead of rejecting; surface the first one. */
function checkTransaction(results: TransactionResults): [error: Error | null, result: unknown][] {
  if (results === null) throw new Error('Redis transaction was aborted');
  for (const [error] of results) {
    if (error) throw new Error(`Redis transaction failed: ${error.message}`, { cause: error });
  }
  return results;
}

function transactionResult(results: TransactionResults, index: number): unknown {
  return checkTransaction(results)[index]?.[1];
}
