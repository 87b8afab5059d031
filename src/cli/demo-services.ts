/**
 * The servers behind `npm run demo` (issue 7 §1): the development PKI, a ledger with the demo partner banks funded,
 * the authorization server and the gateway on TLS on free loopback ports — on real PostgreSQL and Redis when
 * DATABASE_URL / REDIS_URL name them, otherwise on the embedded default (PGlite behind its socket server, in-memory
 * replay store, Idempotency-Key fast path and oidc-provider adapter), which needs nothing installed. Above those
 * ports it is the production code: the same startGateway, startAuthorizationServer, migrations and SQL.
 *
 * Order matters on the embedded database, which is ONE session (src/embedded/embedded-postgres.ts): the owner's
 * work (migrations, participants, funding) is done and its connection closed before the gateway takes the session.
 * Balances are read afterwards by the partners themselves, through GET /accounts, which works in both modes.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

import { Redis } from 'ioredis';
import pg from 'pg';

import { loadAuthorizationServerKeyMaterial } from '../authz/key-material.ts';
import { type RunningAuthorizationServer, startAuthorizationServer } from '../authz/server.ts';
import { createDevPki, DEV_PARTNERS, type DevPkiFiles } from '../certs/dev-pki.ts';
import type { GatewayConfig } from '../config/gateway-config.ts';
import { migrate } from '../db/migrate.ts';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../embedded/embedded-postgres.ts';
import { createMemoryIdempotencyFastPath } from '../embedded/memory-idempotency.ts';
import { memoryAdapterFactory } from '../embedded/memory-oidc-adapter.ts';
import { createMemoryReplayStore } from '../embedded/memory-replay-store.ts';
import type { SchemaSet } from '../iso20022/index.ts';
import { settlementCurrencyExponent } from '../iso20022/rules/currencies.ts';
import { ensureSettlementAccount } from '../ledger/accounts.ts';
import { fundSettlementAccount } from '../ledger/fund.ts';
import { loadPartnerRegistry } from '../partners/registry.ts';
import { SECURITY_LIMITS } from '../security/limits.ts';
import { type RunningGateway, startGateway } from '../server.ts';

export const DEMO_LEDGER = Object.freeze({
  currency: 'EUR',
  /** Every partner that may send payments starts the demo with at least this much, minor units (1,000,000.00 EUR). */
  fundingMinor: 1_000_000_00n,
});

/** Waits for the real services, so that a wrong URL fails the demo at once with its name rather than later as a 503. */
export const DEMO_SERVICE_LIMITS = Object.freeze({
  /** Connecting to the PostgreSQL of DATABASE_URL. */
  databaseConnectMs: 5_000,
  /** Connecting to the Redis of REDIS_URL. */
  redisConnectMs: 5_000,
});

/** Redis key prefix of the demo's authorization server (the production one's, as `isogw stack` uses). */
const AUTHZ_KEY_PREFIX = 'isogw:authz:';

export interface DemoServicesOptions {
  /** Where the development PKI is (created or renewed there as needed). */
  readonly pkiDir: string;
  /** DATABASE_URL and REDIS_URL are read from here (undefined or empty = the embedded default). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The compiled schemas (the offline part of the demo has them already). */
  readonly schemas?: SchemaSet | undefined;
  /** One line per step, as it happens. */
  readonly out: (line: string) => void;
}

export interface DemoServices {
  readonly pki: DevPkiFiles;
  /** "embedded PGlite (no DATABASE_URL)" or the URL without its password. */
  readonly database: string;
  /** "in memory (no REDIS_URL)" or the URL without its password. */
  readonly sharedState: string;
  readonly issuer: string;
  readonly gatewayOrigin: string;
  /** Stops the gateway, the authorization server and the services they used (each once, in that order). */
  close(): Promise<void>;
}

export async function startDemoServices(options: DemoServicesOptions): Promise<DemoServices> {
  const { out } = options;
  const databaseUrl = nonEmpty(options.env.DATABASE_URL);
  const redisUrl = nonEmpty(options.env.REDIS_URL);
  const closers: (() => Promise<void>)[] = [];
  // Last started, first stopped; a failure to start stops what had started.
  const close = async () => {
    for (const closer of closers.splice(0).reverse()) await closer().catch(() => {});
  };
  try {
    const pki = await createDevPki(options.pkiDir);
    out(row('certificates', `${pki.dir}  (development CA, localhost, ${Object.keys(pki.partners).length} partner banks)`));

    let embedded: EmbeddedPostgres | undefined;
    let ownerUrl: string;
    if (databaseUrl === undefined) {
      embedded = await startEmbeddedPostgres();
      closers.push(() => embedded!.close());
      ownerUrl = embedded.url;
    } else {
      ownerUrl = databaseUrl;
    }
    const database = databaseUrl === undefined ? 'embedded PGlite (no DATABASE_URL)' : withoutPassword(databaseUrl);
    out(row('database', database));
    await prepareLedger(ownerUrl, embedded === undefined, out);

    let redis: Redis | undefined;
    if (redisUrl !== undefined) {
      redis = await connectRedis(redisUrl);
      closers.push(async () => void (await redis!.quit()));
    }
    const sharedState = redisUrl === undefined ? 'in memory (no REDIS_URL)' : withoutPassword(redisUrl);
    out(row('shared state', `${sharedState}  (DPoP replay, Idempotency-Key fast path, authorization server)`));

    const gatewayPort = await freePort();
    const gatewayOrigin = `https://localhost:${gatewayPort}`;
    const keys = await loadAuthorizationServerKeyMaterial({ signingKeysFile: pki.authzSigningKeys, secretsFile: pki.authzSecrets });
    const as: RunningAuthorizationServer = await startAuthorizationServer({
      ...keys,
      requireDpopNonce: false,
      registry: loadPartnerRegistry(pki.registry),
      ...(redis === undefined ? { adapter: memoryAdapterFactory() } : { redis, keyPrefix: AUTHZ_KEY_PREFIX }),
      gatewayAudience: gatewayOrigin,
      tls: { certFile: pki.serverCert, keyFile: pki.serverKey, clientCaFile: pki.caCert },
      issuerPort: 0,
      mtlsPort: 0,
    });
    closers.push(() => as.close());
    out(row('authorization', `${as.issuer}  (FAPI 2.0: private_key_jwt or mTLS, DPoP- or certificate-bound tokens)`));

    const ca = readFileSync(pki.caCert, 'utf8');
    const config: GatewayConfig = Object.freeze({
      listen: { host: '127.0.0.1', port: gatewayPort },
      externalOrigin: new URL(gatewayOrigin),
      tls: { certificate: readFileSync(pki.serverCert, 'utf8'), privateKey: readFileSync(pki.serverKey, 'utf8'), clientCa: ca, minVersion: 'TLSv1.3' as const },
      clientCertificate: { source: 'tls' as const },
      authorizationServer: { issuer: as.issuer, jwksUri: new URL(`${as.issuer}/jwks`), ca },
      audience: gatewayOrigin,
      partnersFile: pki.registry,
      // Unused on the embedded default: sharedState below replaces every use of Redis, and no connection is made.
      redisUrl: redisUrl ?? 'redis://127.0.0.1:6379',
      database: { url: ownerUrl, role: 'isogw_app', singleSession: embedded !== undefined },
      limits: SECURITY_LIMITS,
      // Development: the partner's receiver is plain HTTP on loopback.
      webhooks: { relay: true, allowInsecureEndpoints: true, ca },
    });
    const gateway: RunningGateway = await startGateway(config, {
      ...(options.schemas === undefined ? {} : { schemas: options.schemas }),
      ...(redis === undefined ? { sharedState: { replayStore: createMemoryReplayStore(), idempotency: createMemoryIdempotencyFastPath() } } : {}),
    });
    closers.push(() => gateway.close());
    out(row('gateway', `${gatewayOrigin}  (mutual TLS; webhook relay ${embedded === undefined ? 'woken by LISTEN/NOTIFY' : 'polling its one session'})`));

    return { pki, database, sharedState, issuer: as.issuer, gatewayOrigin, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Migrations, then the dev partners as participants: each that may send payments topped up to the demo funding
 * (so a second run on the same database starts from the same balance), the others with an empty account. The
 * owner's one connection is closed on return: on the embedded database the gateway needs the session next.
 */
async function prepareLedger(ownerUrl: string, external: boolean, out: (line: string) => void): Promise<void> {
  const owner = new pg.Pool({ connectionString: ownerUrl, max: 1, connectionTimeoutMillis: DEMO_SERVICE_LIMITS.databaseConnectMs });
  try {
    // The embedded database migrated itself when it started.
    if (external) {
      const report = await migrate(owner).catch((error: unknown) => {
        throw new Error(`cannot prepare the database of DATABASE_URL: ${(error as Error).message}`, { cause: error });
      });
      if (report.applied.length > 0) out(row('', `migrations applied: ${report.applied.join(', ')}`));
    }
    const { currency, fundingMinor } = DEMO_LEDGER;
    for (const partner of DEV_PARTNERS) {
      const bic = partner.bics[0]!;
      const pays = partner.scopes.includes('payments:write');
      const connection = await owner.connect();
      let balance: bigint;
      try {
        await ensureSettlementAccount(connection, { bic, name: partner.name }, currency);
        const { rows } = await connection.query<{ balance: string }>(
          `select a.balance from accounts a join participants p on p.id = a.participant_id where p.bic = $1 and a.kind = 'settlement' and a.currency = $2`,
          [bic, currency],
        );
        balance = BigInt(rows[0]!.balance);
      } finally {
        connection.release();
      }
      if (pays && balance < fundingMinor) {
        const funded = await fundSettlementAccount(owner, { bic, name: partner.name, currency, amount: fundingMinor - balance, reference: 'isogw demo funding' });
        balance = funded.balance;
      }
      out(row('', `${partner.clientId.padEnd(11)} ${bic}  ${currency} ${decimal(balance, currency).padStart(12)}  ${pays ? 'sends payments' : 'receives them (read-only partner)'}`));
    }
  } finally {
    await owner.end();
  }
}

async function connectRedis(url: string): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: DEMO_SERVICE_LIMITS.redisConnectMs, retryStrategy: () => null });
  redis.on('error', () => {}); // the connect() below reports it
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    throw new Error(`cannot reach the Redis of REDIS_URL (${withoutPassword(url)}): ${(error as Error).message}`, { cause: error });
  }
  return redis;
}

/** A loopback port nothing listens on now: the gateway's origin must be known before the AS (its token audience). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no free loopback port');
  return address.port;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** The URL as printed: the password never reaches a terminal or a CI log. */
export function withoutPassword(url: string): string {
  const parsed = URL.parse(url);
  if (parsed === null) return '(unparseable URL)';
  if (parsed.password !== '') parsed.password = '***';
  return parsed.href;
}

/** Minor units as the currency's exact decimal text (`128400` EUR → `1284.00`). */
export function decimal(minor: bigint, currency: string): string {
  const exponent = settlementCurrencyExponent(currency) ?? 2;
  const negative = minor < 0n;
  const digits = (negative ? -minor : minor).toString().padStart(exponent + 1, '0');
  const whole = digits.slice(0, digits.length - exponent);
  return `${negative ? '-' : ''}${whole}${exponent > 0 ? `.${digits.slice(digits.length - exponent)}` : ''}`;
}

function row(label: string, text: string): string {
  return `   ${label.padEnd(15)}${text}`;
}
