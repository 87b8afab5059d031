/**
 * The gateway process: configuration → dependencies → buildApp → listen on TLS → graceful close. Everything a test
 * would want to replace (clock, Redis, key set) is created here and passed down, never reached for globally.
 */
import { randomUUID, X509Certificate } from 'node:crypto';

import { Redis } from 'ioredis';
import type { Pool } from 'pg';
import type { DestinationStream } from 'pino';

import { buildApp } from './app.ts';
import { createDatabasePool } from './db/pool.ts';
import { createIdempotencyFastPath, type IdempotencyFastPath } from './idempotency/index.ts';
import { bookMessage, findStoredAnswer } from './payments/book-message.ts';
import { type GatewayConfig, gatewayConfigFromEnv } from './config/gateway-config.ts';
import { schemaSetFromDisk } from './config/xsd-files.ts';
import { HEAD001_VERSIONS, PACS008_VERSIONS, type SchemaSet } from './iso20022/index.ts';
import { OBSERVABILITY_LIMITS } from './observability/limits.ts';
import { type OpsListener, startOpsListener } from './observability/ops-listener.ts';
import { outboxLagSeconds } from './observability/outbox-lag.ts';
import { jwksCheck, postgresCheck, type ReadinessCheck, redisCheck } from './observability/readiness.ts';
import { relayEventSink } from './observability/relay-events.ts';
import { createTelemetry, type Telemetry } from './observability/telemetry.ts';
import { loadPartnerRegistry } from './partners/registry.ts';
import { createIntake } from './payments/intake.ts';
import { createPaymentReads } from './payments/read-model.ts';
import { createAccessTokenVerifier } from './security/access-token.ts';
import { createAuthenticator } from './security/authenticate.ts';
import { createDpopNonces } from './security/dpop-nonce.ts';
import { createRemoteKeySet } from './security/jwks.ts';
import { createRedisReplayStore, type ReplayStore } from './security/replay-store.ts';
import { createWebhookRelay, type WebhookRelay } from './webhooks/relay.ts';
import { createWebhookSender } from './webhooks/sender.ts';

export interface RunningGateway {
  readonly url: string;
  readonly port: number;
  /** The operations listener (`http://host:port`: /metrics, /health/*), when config.operations turned it on. */
  readonly opsUrl?: string | undefined;
  close(): Promise<void>;
}

export interface GatewayOverrides {
  readonly now?: () => Date;
  readonly schemas?: SchemaSet;
  /** Redis key prefix (tests isolate themselves with it). */
  readonly redisKeyPrefix?: string;
  /**
   * The ports Redis backs, given instead of it: no Redis connection is made. The embedded default passes in-memory
   * ones (src/embedded/), which are right for a single instance only.
   */
  readonly sharedState?: { readonly replayStore: ReplayStore; readonly idempotency: IdempotencyFastPath };
  /** Where the JSON log lines go (config.logLevel decides which); default stdout. Tests read them back. */
  readonly logDestination?: DestinationStream;
}

export async function startGateway(config: GatewayConfig, overrides: GatewayOverrides = {}): Promise<RunningGateway> {
  const now = overrides.now ?? (() => new Date());
  const registry = loadPartnerRegistry(config.partnersFile);
  const schemas = overrides.schemas ?? schemaSetFromDisk();
  // Compile every schema a partner may send at boot, so no partner's first message pays for it.
  const two = (n: number) => String(n).padStart(2, '0');
  schemas.warm([...PACS008_VERSIONS.map((v) => `pacs.008.001.${two(v)}`), ...HEAD001_VERSIONS.map((v) => `head.001.001.${two(v)}`)]);
  // Fail closed and fast: with the offline queue off, a command against a down Redis errors at once instead of
  // waiting in a queue, and the replay check answers 503.
  let redis: Redis | undefined;
  let sharedState = overrides.sharedState;
  if (sharedState === undefined) {
    redis = new Redis(config.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true });
    redis.on('error', () => {}); // surfaced per command as ReplayStoreUnavailable; the client reconnects by itself
    await redis.connect().catch(() => {});
    sharedState = {
      replayStore: createRedisReplayStore(redis, { keyPrefix: `${overrides.redisKeyPrefix ?? 'isogw:'}replay:`, timeoutMs: config.limits.replayStoreTimeoutMs }),
      idempotency: createIdempotencyFastPath(redis, { keyPrefix: overrides.redisKeyPrefix ?? 'isogw:' }),
    };
  }
  // One session (embedded PGlite): one connection, so transactions never interleave on it.
  const database = createDatabasePool(config.database.singleSession ? { ...config.database, poolConnectionsMax: 1 } : config.database);
  const keySet = createRemoteKeySet({ jwksUri: config.authorizationServer.jwksUri, ca: config.authorizationServer.ca, limits: config.limits });
  const telemetry = createTelemetry({
    level: config.logLevel ?? 'silent',
    logDestination: overrides.logDestination,
    processMetrics: true,
    sampleOutboxLagSeconds: () => outboxLagSeconds(database, OBSERVABILITY_LIMITS.outboxLagQueryTimeoutMs),
  });
  const authenticate = createAuthenticator({
    externalOrigin: config.externalOrigin,
    certificates:
      config.clientCertificate.source === 'tls'
        ? { mode: 'tls' }
        : {
            mode: 'proxy-header',
            header: config.clientCertificate.header,
            trustedProxies: config.clientCertificate.trustedProxies,
            ca: new X509Certificate(config.tls.clientCa),
          },
    verifyAccessToken: createAccessTokenVerifier({
      issuer: config.authorizationServer.issuer,
      audience: config.audience,
      keys: keySet.getKey,
      limits: config.limits,
    }),
    replayStore: sharedState.replayStore,
    registry,
    dpopNonces:
      config.dpopNonce === undefined
        ? undefined
        : { nonces: createDpopNonces(config.dpopNonce.secret, config.limits.dpopNonceRotationSeconds), required: config.dpopNonce.required },
    limits: config.limits,
    onDpopReplayRejected: () => telemetry.metrics.dpopReplayRejections.inc(),
  });
  const intake = createIntake({
    authenticate,
    schemas,
    now,
    newReportId: () => `ISOGW-${randomUUID().replaceAll('-', '').slice(0, 28)}`,
    gatewayBic: config.gatewayBic,
    idempotency: sharedState.idempotency,
    book: (request) => bookMessage(database, request),
    findAnswer: (clientId, key) => findStoredAnswer(database, clientId, key),
    telemetry,
  });
  const app = buildApp(config, {
    authenticate,
    intake,
    now,
    reads: createPaymentReads(database),
    webhooks: { pool: database, allowInsecureEndpoints: config.webhooks.allowInsecureEndpoints },
    telemetry,
  });
  await app.listen({ host: config.listen.host, port: config.listen.port });
  const relay = config.webhooks.relay ? await startRelay(config, telemetry, config.database.singleSession ? database : undefined) : undefined;
  const operations = config.operations === undefined ? undefined : await startOperations(config, telemetry, database, redis);
  let closing: Promise<void> | undefined;
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.listen.port;
  return {
    url: `https://localhost:${port}`,
    port,
    opsUrl: operations?.url,
    // Once: a second call (a signal handler and a test's cleanup, say) waits for the first instead of closing twice.
    close: () => (closing ??= (async () => {
      // Readiness goes first, so a load balancer stops sending before we stop serving.
      await operations?.close();
      // In-flight requests finish (app.close waits for them), and so do in-flight webhook sends, which are recorded.
      await Promise.all([app.close(), relay?.stop()]);
      await keySet.close();
      await database.end();
      redis?.disconnect();
    })()),
  };
}

/** Connections of the relay's own pool: a few connections, so that up to claimBatchDeliveries sends recording their
 * outcomes at once never take connections the intake needs. */
const RELAY_POOL_CONNECTIONS_MAX = 4;

/**
 * The outbox relay of this gateway instance: every instance runs one (unless ISOGW_WEBHOOK_RELAY=off leaves the job
 * to `isogw relay` processes); claims with SKIP LOCKED and leases let any number run side by side.
 */
async function startRelay(config: GatewayConfig, telemetry: Telemetry, sharedPool?: Pool): Promise<WebhookRelay & { stop(): Promise<void> }> {
  // A single-session database gets the gateway's one connection (sharedPool), which the gateway closes itself.
  const pool = sharedPool ?? createDatabasePool({ ...config.database, poolConnectionsMax: RELAY_POOL_CONNECTIONS_MAX });
  const sender = createWebhookSender({ allowInsecureEndpoints: config.webhooks.allowInsecureEndpoints, ca: config.webhooks.ca });
  const relay = createWebhookRelay({
    pool,
    databaseUrl: config.database.url,
    databaseRole: config.database.role,
    sender,
    retryScheduleMs: config.webhooks.retryScheduleMs,
    gatewayBic: config.gatewayBic,
    listen: !config.database.singleSession,
    log: relayEventSink(telemetry),
  });
  await relay.start();
  return {
    ...relay,
    async stop() {
      await relay.stop();
      await sender.close();
      if (sharedPool === undefined) await pool.end();
    },
  };
}

/**
 * The plain-HTTP operations listener (src/observability/ops-listener.ts): metrics, liveness, and readiness over the
 * gateway's own pool and Redis client (what requests use, not a side channel that could be up while they are down)
 * and the AS key set.
 */
async function startOperations(config: GatewayConfig, telemetry: Telemetry, database: Pool, redis: Redis | undefined): Promise<OpsListener> {
  const jwks = jwksCheck({
    jwksUri: config.authorizationServer.jwksUri,
    ca: config.authorizationServer.ca,
    freshSeconds: OBSERVABILITY_LIMITS.jwksProbeFreshSeconds,
  });
  // Without Redis (in-memory shared state, one instance) there is nothing to check there.
  const readiness: ReadinessCheck[] = [postgresCheck(database), ...(redis === undefined ? [] : [redisCheck(redis)]), jwks];
  const listener = await startOpsListener({ ...config.operations!, registry: telemetry.metrics.registry, readiness });
  return {
    ...listener,
    async close() {
      await listener.close();
      await jwks.close();
    },
  };
}

if (import.meta.main) {
  const config = gatewayConfigFromEnv();
  const gateway = await startGateway(config);
  const operations = gateway.opsUrl === undefined ? '' : `; operations (metrics, health) on ${gateway.opsUrl}`;
  process.stdout.write(`iso20022-gateway listening on ${gateway.url} (external ${config.externalOrigin.origin})${operations}\n`);
  const stop = () => void gateway.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
