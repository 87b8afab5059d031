/** Idempotency-Key support: the header and request fingerprint, and the Redis fast path in front of the database. */
export {
  IDEMPOTENCY_KEY_LENGTH_MAX,
  parseIdempotencyKey,
  requestFingerprint,
  type IdempotencyKeyHeader,
} from './idempotency-key.ts';
export {
  createIdempotencyFastPath,
  IDEMPOTENCY_IN_FLIGHT_SECONDS,
  IDEMPOTENCY_REDIS_TIMEOUT_MS,
  IDEMPOTENCY_RETENTION_SECONDS,
  type ClaimOutcome,
  type IdempotencyFastPath,
  type IdempotencyFastPathOptions,
  type StoredResponse,
} from './redis-fast-path.ts';
