/**
 * Every bound of the operations side, named once with its unit: how long a readiness check or a scrape-time query
 * may take, how long the operations listener waits for a request, how much of a message a log line carries.
 */
export const OBSERVABILITY_LIMITS = Object.freeze({
  /** Each readiness check (Postgres, Redis, the AS key set) must answer within this, or it counts as failed. */
  readinessCheckTimeoutMs: 2_000,
  /**
   * After a successful fetch of the AS key set, the readiness check trusts it this long without fetching again: as
   * long as the gateway itself keeps verifying tokens with a cached key set (SECURITY_LIMITS.jwksCacheMaxAgeSeconds),
   * so an AS outage the gateway can ride out does not take every instance out of the load balancer at once.
   */
  jwksProbeFreshSeconds: 600,
  /** The outbox-lag query run at scrape time; past this the gauge reports NaN (unknown) rather than hold the scrape. */
  outboxLagQueryTimeoutMs: 1_000,
  /** The operations listener: the whole request (headers included) must arrive within this. */
  opsRequestTimeoutMs: 5_000,
  /** The operations listener: request headers must arrive within this. */
  opsHeadersTimeoutMs: 5_000,
  /** UETRs listed on one intake log line (a message has up to transactionsPerMessageMax); the booking lines have all. */
  logUetrsPerLineMax: 10,
});
