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
import { createOperatorPage } from './operator/page.ts';
import { loadPartnerRegistry } from './partners/registry.ts';
import { createMemoryRateLimiter } from './embedded/memory-rate-limiter.ts';
import { DEFAULT_RATE_LIMIT_POLICIES } from './ratelimit/policy.ts';
import { createRateLimitCheck, type RateLimitCheck } from './ratelimit/rate-limit-check.ts';
import type { RateLimiter } from './ratelimit/rate-limiter.ts';
import { createRedisRateLimiter } from './ratelimit/redis-rate-limiter.ts';
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
  /** The operations listener (`http://host:port`: /metrics, /health/*, /ops/*), when config.operations turned it on. */
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
  readonly sharedState?: {
    readonly replayStore: ReplayStore;
    readonly idempotency: IdempotencyFastPath;
    /** Default: in memory, like the other two (one instance). */
    readonly rateLimiter?: RateLimiter | undefined;
  };
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
      rateLimiter: config.rateLimits === 'off' ? undefined : createRedisRateLimiter(redis, { keyPrefix: overrides.redisKeyPrefix ?? 'isogw:', policies: config.rateLimits }),
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
  const rateLimit = rateLimitCheck(config, sharedState.rateLimiter, telemetry);
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
    rateLimit,
  });
  const app = buildApp(config, {
    authenticate,
    intake,
    now,
    reads: createPaymentReads(database),
    webhooks: { pool: database, allowInsecureEndpoints: config.webhooks.allowInsecureEndpoints },
    telemetry,
    rateLimit,
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
      // New connections are refused from the start. Past the deadline, the connections still open are destroyed.
      // A connection whose request is answered during the shutdown is closed once idle, rather than kept alive for
      // the next request that would never come (keepAliveTimeout is read when each response finishes).
      app.server.keepAliveTimeout = SHUTDOWN_KEEP_ALIVE_MS;
      const deadlineMs = config.shutdownDeadlineMs ?? SHUTDOWN_DEADLINE_MS;
      const deadline = setTimeout(() => {
        telemetry.logger.warn({ deadlineMs }, 'shutdown deadline passed; destroying the connections still open');
        app.server.closeAllConnections();
      }, deadlineMs);
      await Promise.all([app.close(), relay?.stop()]).finally(() => clearTimeout(deadline));
      await keySet.close();
      await database.end();
      redis?.disconnect();
    })()),
  };
}

/**
 * How long a shutdown waits for in-flight requests before destroying their connections: under the 30 s a container
 * orchestrator (Kubernetes' terminationGracePeriodSeconds) grants before SIGKILL, and well past the intake's own
 * 10 s body limit, so a request that is being answered normally finishes.
 */
export const SHUTDOWN_DEADLINE_MS = 25_000;
/** Keep-alive of a connection answered during the shutdown: just long enough for the answer to leave. */
const SHUTDOWN_KEEP_ALIVE_MS = 1;

/**
 * The per-partner rate limit (src/ratelimit/): on Redis when the gateway has Redis, in memory otherwise (the
 * embedded default is one instance), none when the configuration turns it off.
 */
function rateLimitCheck(config: GatewayConfig, limiter: RateLimiter | undefined, telemetry: Telemetry): RateLimitCheck | undefined {
  if (config.rateLimits === 'off') return undefined;
  const policies = config.rateLimits ?? DEFAULT_RATE_LIMIT_POLICIES;
  return createRateLimitCheck({ limiter: limiter ?? createMemoryRateLimiter({ policies }), policies, log: telemetry.logger });
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
 * and the AS key set; and the operator's page (src/operator/) when an operator token is configured.
 */
async function startOperations(config: GatewayConfig, telemetry: Telemetry, database: Pool, redis: Redis | undefined): Promise<OpsListener> {
  const jwks = jwksCheck({
    jwksUri: config.authorizationServer.jwksUri,
    ca: config.authorizationServer.ca,
    freshSeconds: OBSERVABILITY_LIMITS.jwksProbeFreshSeconds,
  });
  // Without Redis (in-memory shared state, one instance) there is nothing to check there.
  const readiness: ReadinessCheck[] = [postgresCheck(database), ...(redis === undefined ? [] : [redisCheck(redis)]), jwks];
  const { host, port, operatorTokenSha256 } = config.operations!;
  // The operator's page reads through the gateway's own pool, as the app role (read grants on all it shows).
  const operatorPage = operatorTokenSha256 === undefined ? undefined : createOperatorPage({ pool: database, tokenSha256: operatorTokenSha256 });
  const listener = await startOpsListener({
    host,
    port,
    registry: telemetry.metrics.registry,
    readiness,
    operatorPage,
    logError: (error, path) => telemetry.logger.error({ err: error, path }, 'operations listener could not answer'),
  });
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
  // The first SIGTERM or SIGINT closes gracefully (in-flight requests and webhook sends finish, within
  // SHUTDOWN_DEADLINE_MS) and exits 0; a second one, of either kind, exits at once (an operator who means it).
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`${signal} again: exiting without waiting for the shutdown to finish\n`);
      process.exit(1);
    }
    stopping = true;
    gateway.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`shutdown failed: ${error instanceof Error ? error.stack : String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
