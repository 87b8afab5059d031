/**
 * The Redis fast path for Idempotency-Key: answers retries and concurrent duplicates without touching the database.
 * It is an accelerator, not the authority: every failure (Redis down, slow, a lost claim, an unreadable record)
 * is reported as such and the caller falls back to the database, which has the final say.
 *
 * One key per (partner, Idempotency-Key), holding JSON:
 *   { state: 'in_flight', token, fingerprint }             while the first request runs, for inFlightSeconds
 *   { state: 'completed', token, fingerprint, response }   afterwards, for retentionSeconds
 *
 * claim, complete and release are each one Lua script, so the read and the write of each step are one atomic step
 * on the server: of any number of concurrent claims exactly one finds the key absent.
 */
import { createHash, randomUUID } from 'node:crypto';

import type { Redis } from 'ioredis';

/** Completed responses are replayed for this long (the database keeps them for ever). */
export const IDEMPOTENCY_RETENTION_SECONDS = 24 * 60 * 60;
/** A claim by a request that dies is given up after this. */
export const IDEMPOTENCY_IN_FLIGHT_SECONDS = 30;
/** A slow Redis answers 'unavailable' rather than holding the request. */
export const IDEMPOTENCY_REDIS_TIMEOUT_MS = 250;

export interface StoredResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export type ClaimOutcome =
  /** First request with this key: go ahead, then complete or release with the token. */
  | { kind: 'claimed'; token: string }
  /** Same key, same body, first one not finished: the caller answers 409. */
  | { kind: 'in_flight' }
  /** Same key, different body (in flight or completed): the caller answers 422. */
  | { kind: 'conflict' }
  /** Same key, same body, finished: the caller replays the response exactly. */
  | { kind: 'completed'; response: StoredResponse }
  /** Redis down, slow or holding something unreadable: the caller falls back to the database. */
  | { kind: 'unavailable'; error: Error };

export interface IdempotencyFastPath {
  /** Never throws; a Redis failure is the 'unavailable' outcome. */
  claim(scope: string, key: string, fingerprint: string): Promise<ClaimOutcome>;
  /**
   * Stores the final response under our claim (only if the claim is still ours). Returns false when Redis failed
   * or the claim was lost — harmless, the database keeps the answer. Never throws.
   */
  complete(scope: string, key: string, token: string, fingerprint: string, response: StoredResponse): Promise<boolean>;
  /** Gives the key back (only if still ours) so an immediate retry can run, e.g. after a transient failure. Never throws. */
  release(scope: string, key: string, token: string): Promise<boolean>;
}

export interface IdempotencyFastPathOptions {
  /** Namespaces every key, e.g. `isogw:`; different deployments or test runs must not share one. */
  readonly keyPrefix: string;
  readonly retentionSeconds?: number;
  readonly inFlightSeconds?: number;
  readonly timeoutMs?: number;
}

/** Absent key: take it for inFlightSeconds. Present: hand back what is there; the caller decides on that snapshot. */
const CLAIM_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current then return {'existing', current} end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return {'claimed'}`;

/**
 * Shared head of complete and release: is the key still our in-flight claim? A claim that expired, was taken over
 * after expiry or was completed already is not ours (and an unreadable value is nobody's), so it is left alone.
 */
const OWN_CLAIM_LUA = `
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local ok, stored = pcall(cjson.decode, current)
if not ok or type(stored) ~= 'table' or stored.state ~= 'in_flight' or stored.token ~= ARGV[1] then return 0 end`;

/** ARGV: token, fingerprint, completed value, retention seconds. The fingerprint must be the one claimed with. */
const COMPLETE_SCRIPT = `${OWN_CLAIM_LUA}
if stored.fingerprint ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
return 1`;

/** ARGV: token. */
const RELEASE_SCRIPT = `${OWN_CLAIM_LUA}
redis.call('DEL', KEYS[1])
return 1`;

class IdempotencyFastPathUnavailable extends Error {
  override readonly name = 'IdempotencyFastPathUnavailable';
}

export function createIdempotencyFastPath(redis: Redis, options: IdempotencyFastPathOptions): IdempotencyFastPath {
  if (options.keyPrefix === '') throw new TypeError('keyPrefix must not be empty');
  const retentionSeconds = positiveInteger('retentionSeconds', options.retentionSeconds ?? IDEMPOTENCY_RETENTION_SECONDS);
  const inFlightSeconds = positiveInteger('inFlightSeconds', options.inFlightSeconds ?? IDEMPOTENCY_IN_FLIGHT_SECONDS);
  const timeoutMs = positiveInteger('timeoutMs', options.timeoutMs ?? IDEMPOTENCY_REDIS_TIMEOUT_MS);

  /**
   * The client's key is hashed so its length and characters never reach Redis (and a key name holds no trace of
   * it). The `{scope}` hash tag keeps all of a partner's keys in one Redis Cluster slot. The hash is fixed-length
   * and last, so distinct (scope, key) pairs never share a name whatever characters the scope holds.
   */
  const redisKey = (scope: string, key: string): string =>
    `${options.keyPrefix}idem:{${scope}}:${createHash('sha256').update(key, 'utf8').digest('base64url')}`;

  /**
   * Every Redis call is bounded by timeoutMs. A call that times out may still land later: a claim then leaves the
   * key reading as in flight for at most inFlightSeconds, which only sends retries to a 409 or to the database,
   * and the database still decides.
   */
  const bounded = async <T>(call: () => Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new IdempotencyFastPathUnavailable(`idempotency store did not answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([call(), timeout]);
    } catch (error) {
      if (error instanceof IdempotencyFastPathUnavailable) throw error;
      throw new IdempotencyFastPathUnavailable('idempotency store unavailable', { cause: error });
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    async claim(scope, key, fingerprint) {
      const token = randomUUID();
      const claimValue = JSON.stringify({ state: 'in_flight', token, fingerprint } satisfies StoredRecord);
      try {
        const reply = await bounded(() => redis.eval(CLAIM_SCRIPT, 1, redisKey(scope, key), claimValue, inFlightSeconds));
        return outcomeOf(reply, token, fingerprint);
      } catch (error) {
        return { kind: 'unavailable', error: error instanceof Error ? error : new Error(String(error)) };
      }
    },

    async complete(scope, key, token, fingerprint, response) {
      try {
        const completedValue = JSON.stringify({
          state: 'completed',
          token,
          fingerprint,
          response: { status: response.status, headers: { ...response.headers }, body: response.body },
        } satisfies StoredRecord);
        const reply = await bounded(() =>
          redis.eval(COMPLETE_SCRIPT, 1, redisKey(scope, key), token, fingerprint, completedValue, retentionSeconds),
        );
        return reply === 1;
      } catch {
        return false;
      }
    },

    async release(scope, key, token) {
      try {
        return (await bounded(() => redis.eval(RELEASE_SCRIPT, 1, redisKey(scope, key), token))) === 1;
      } catch {
        return false;
      }
    },
  };
}

type StoredRecord =
  | { state: 'in_flight'; token: string; fingerprint: string }
  | { state: 'completed'; token: string; fingerprint: string; response: StoredResponse };

/** Turns the claim script's reply into an outcome; anything it cannot read is 'unavailable', never a throw. */
function outcomeOf(reply: unknown, token: string, fingerprint: string): ClaimOutcome {
  if (Array.isArray(reply) && reply.length === 1 && reply[0] === 'claimed') return { kind: 'claimed', token };
  if (!Array.isArray(reply) || reply.length !== 2 || reply[0] !== 'existing' || typeof reply[1] !== 'string') {
    return { kind: 'unavailable', error: new IdempotencyFastPathUnavailable('unexpected reply from the claim script') };
  }
  const stored = decodeRecord(reply[1]);
  if (stored === undefined) {
    return { kind: 'unavailable', error: new IdempotencyFastPathUnavailable('stored idempotency record is unreadable') };
  }
  if (stored.fingerprint !== fingerprint) return { kind: 'conflict' };
  return stored.state === 'completed' ? { kind: 'completed', response: stored.response } : { kind: 'in_flight' };
}

function decodeRecord(text: string): StoredRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(value) || typeof value.token !== 'string' || typeof value.fingerprint !== 'string') return undefined;
  if (value.state === 'in_flight') return { state: 'in_flight', token: value.token, fingerprint: value.fingerprint };
  if (value.state !== 'completed') return undefined;
  const response = decodeResponse(value.response);
  return response === undefined
    ? undefined
    : { state: 'completed', token: value.token, fingerprint: value.fingerprint, response };
}

function decodeResponse(value: unknown): StoredResponse | undefined {
  if (!isObject(value) || !Number.isInteger(value.status) || typeof value.body !== 'string') return undefined;
  if (!isObject(value.headers)) return undefined;
  const headers: Record<string, string> = {};
  for (const [name, headerValue] of Object.entries(value.headers)) {
    if (typeof headerValue !== 'string') return undefined;
    // defineProperty, so a header literally named __proto__ stays a header instead of replacing the prototype.
    Object.defineProperty(headers, name, { value: headerValue, enumerable: true, writable: true, configurable: true });
  }
  return { status: value.status as number, headers, body: value.body };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer (got ${value})`);
  return value;
}
