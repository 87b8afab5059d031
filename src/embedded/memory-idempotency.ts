/**
 * The Idempotency-Key fast path (src/idempotency/redis-fast-path.ts) in this process's memory, for a single gateway
 * instance without Redis (the embedded default). Same states, lifetimes and answers as the Redis one:
 *
 *   absent     → claim takes it 'in_flight' for inFlightSeconds and answers 'claimed' with a fresh token
 *   in_flight  → same fingerprint: 'in_flight'; another: 'conflict'; complete/release only with the claim's token
 *   completed  → same fingerprint: the stored response; another: 'conflict'; kept for retentionSeconds
 *
 * Each method reads and writes without awaiting in between, so it is one atomic step like the Redis scripts. Like
 * the Redis path it is an accelerator and never throws: a full store answers 'unavailable' and the ledger decides.
 */
import { createHash, randomUUID } from 'node:crypto';

import {
  type ClaimOutcome,
  IDEMPOTENCY_IN_FLIGHT_SECONDS,
  IDEMPOTENCY_RETENTION_SECONDS,
  type IdempotencyFastPath,
  type StoredResponse,
} from '../idempotency/index.ts';
import { ExpiringMap } from './expiring-map.ts';
import { EMBEDDED_LIMITS } from './limits.ts';

export interface MemoryIdempotencyOptions {
  readonly retentionSeconds?: number | undefined;
  readonly inFlightSeconds?: number | undefined;
  readonly entriesMax?: number | undefined;
  readonly now?: (() => number) | undefined;
}

type StoredRecord =
  | { readonly state: 'in_flight'; readonly token: string; readonly fingerprint: string }
  | { readonly state: 'completed'; readonly token: string; readonly fingerprint: string; readonly response: StoredResponse };

class IdempotencyStoreFull extends Error {
  override readonly name = 'IdempotencyStoreFull';
}

export function createMemoryIdempotencyFastPath(options: MemoryIdempotencyOptions = {}): IdempotencyFastPath {
  const retentionSeconds = positiveInteger('retentionSeconds', options.retentionSeconds ?? IDEMPOTENCY_RETENTION_SECONDS);
  const inFlightSeconds = positiveInteger('inFlightSeconds', options.inFlightSeconds ?? IDEMPOTENCY_IN_FLIGHT_SECONDS);
  const entriesMax = options.entriesMax ?? EMBEDDED_LIMITS.idempotencyEntriesMax;
  const records = new ExpiringMap<StoredRecord>({ entriesMax, now: options.now });

  /** Fixed-length names whatever the client sent (as in Redis), and the pair is unambiguous: the hash has no ':'. */
  const name = (scope: string, key: string): string => `${scope}:${createHash('sha256').update(key, 'utf8').digest('base64url')}`;

  /** The record if it is still the in-flight claim made with `token`; a completed or replaced one is nobody's claim. */
  const ownClaim = (recordName: string, token: string): StoredRecord | undefined => {
    const stored = records.get(recordName);
    return stored?.state === 'in_flight' && stored.token === token ? stored : undefined;
  };

  return {
    async claim(scope, key, fingerprint): Promise<ClaimOutcome> {
      const recordName = name(scope, key);
      const token = randomUUID();
      const outcome = records.setIfAbsent(recordName, { state: 'in_flight', token, fingerprint }, inFlightSeconds * 1000);
      if (outcome === 'set') return { kind: 'claimed', token };
      if (outcome === 'full') return { kind: 'unavailable', error: new IdempotencyStoreFull(`idempotency store holds ${entriesMax} live records`) };
      const stored = records.get(recordName);
      // setIfAbsent found it live a moment ago in this same synchronous step.
      if (stored === undefined) throw new Error('idempotency record vanished within one step');
      if (stored.fingerprint !== fingerprint) return { kind: 'conflict' };
      return stored.state === 'completed' ? { kind: 'completed', response: copyOf(stored.response) } : { kind: 'in_flight' };
    },

    async complete(scope, key, token, fingerprint, response) {
      const recordName = name(scope, key);
      const stored = ownClaim(recordName, token);
      if (stored === undefined || stored.fingerprint !== fingerprint) return false;
      // A copy: the caller's object may change after this; what was stored must not.
      return records.set(recordName, { state: 'completed', token, fingerprint, response: copyOf(response) }, retentionSeconds * 1000);
    },

    async release(scope, key, token) {
      const recordName = name(scope, key);
      return ownClaim(recordName, token) !== undefined && records.delete(recordName);
    },
  };
}

/** What a replay gets is its own copy, as a Redis reply would be; a header named __proto__ stays a header. */
function copyOf(response: StoredResponse): StoredResponse {
  const headers: Record<string, string> = {};
  for (const [header, value] of Object.entries(response.headers)) {
    Object.defineProperty(headers, header, { value, enumerable: true, writable: true, configurable: true });
  }
  return { status: response.status, headers, body: response.body };
}

function positiveInteger(label: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${label} must be a positive integer (got ${value})`);
  return value;
}
