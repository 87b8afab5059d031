/**
 * Every bound of webhook delivery, with its unit. Deliveries go to partners' servers we do not control, so every
 * wait is bounded and every response is read only as far as we need.
 */
export const WEBHOOK_LIMITS = Object.freeze({
  /** TCP + TLS connect to an endpoint. */
  connectTimeoutMs: 5_000,
  /** From request sent to response headers received. */
  headersTimeoutMs: 10_000,
  /** Between response body chunks. */
  bodyTimeoutMs: 10_000,
  /** Of a response body, kept (as text) in the attempt log for the partner's and our diagnosis; the rest is discarded. */
  responseExcerptBytes: 512,
  /** Connections per endpoint origin in the sender's pool. */
  connectionsPerOrigin: 8,
  /** Outbox rows dispatched into deliveries per transaction. */
  dispatchBatchRows: 200,
  /** Deliveries claimed per relay round. */
  claimBatchDeliveries: 32,
  /** How long a claim is a relay's own; past it (a crashed or stalled relay) another relay takes the delivery over. */
  leaseSeconds: 60,
  /** Polling interval when no notification arrives (LISTEN/NOTIFY is the fast path; this is the fallback). */
  pollIntervalMs: 1_000,
  /** Longest Retry-After we honour (429/503); a longer one is capped, so one answer cannot park an event for weeks. */
  retryAfterMaxSeconds: 6 * 60 * 60,
  /** Endpoints per partner. */
  endpointsPerPartner: 10,
  /** Endpoint URL length, in characters. */
  urlMaxChars: 2_048,
  /** After a rotation, how long the old keys keep signing when the caller does not say: 24 h. */
  rotationOverlapDefaultSeconds: 24 * 60 * 60,
  /** The longest overlap a rotation may ask for: 7 days. */
  rotationOverlapMaxSeconds: 7 * 24 * 60 * 60,
  /** Standard Webhooks: receivers should refuse timestamps further than this from their clock (what the library does). */
  timestampToleranceSeconds: 5 * 60,
});

/** The same bounds as plain numbers, so tests and deployments can override some (`{ ...WEBHOOK_LIMITS, leaseSeconds: 2 }`). */
export type WebhookLimits = { readonly [K in keyof typeof WEBHOOK_LIMITS]: number };
