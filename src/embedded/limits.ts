/**
 * Bounds of the embedded default (no Postgres or Redis installed): the in-process stores that stand in for Redis
 * hold at most this many entries each, like a Redis with a maxmemory, and refuse rather than grow; the embedded
 * database has a bounded number of client connections and a bounded start.
 */
export const EMBEDDED_LIMITS = Object.freeze({
  /** DPoP jtis remembered at once by the in-memory replay store; beyond it (after dropping expired ones) it fails closed. */
  replayEntriesMax: 100_000,
  /** Idempotency-Key records held at once; beyond it claims answer 'unavailable' and the ledger decides alone. */
  idempotencyEntriesMax: 100_000,
  /** oidc-provider records (replay detection, grants' indexes) held at once; beyond it upserts are refused. */
  oidcRecordsMax: 100_000,
  /**
   * Client connections the embedded database accepts at once: the gateway's one, an owner connection for
   * migrations and set-up, and room for a CLI. They all share PGlite's single session (see embedded-postgres.ts).
   */
  databaseConnectionsMax: 4,
});

export type EmbeddedLimits = { readonly [K in keyof typeof EMBEDDED_LIMITS]: number };
