/**
 * A real gateway for tests: the production `startGateway` on a free loopback port with mutual TLS and the test
 * PKI, verifying tokens from a real authorization server, with Redis under a key prefix of its own. Plus the
 * client side: an undici agent per partner certificate, and builders for access tokens and DPoP proofs signed with
 * real keys, so every refusal in the matrix is provoked by real bytes on a real socket.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

import { type JWK, type CryptoKey, type KeyObject, exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';
import { Agent, request } from 'undici';

import type { GatewayConfig } from '../../src/config/gateway-config.ts';
import { ensureSettlementAccount } from '../../src/ledger/accounts.ts';
import { fundSettlementAccount } from '../../src/ledger/fund.ts';
import { SECURITY_LIMITS } from '../../src/security/limits.ts';
import { type RunningGateway, startGateway } from '../../src/server.ts';
import { deleteKeysWithPrefix, type TestAuthorizationServer, TEST_REDIS_URL } from './authz.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { schemas } from './fixtures.ts';

export interface TestGateway extends RunningGateway {
  readonly config: GatewayConfig;
  readonly origin: string;
  readonly redisKeyPrefix: string;
  /** The gateway's own fresh, migrated database; its pool connects as the owner, for assertions and set-up. */
  readonly database: TestDatabase;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

export async function startTestGateway(
  as: TestAuthorizationServer,
  overrides: Partial<Omit<GatewayConfig, 'listen' | 'externalOrigin'>> = {},
): Promise<TestGateway> {
  const port = await freePort();
  const database = await createTestDatabase();
  await fundDevParticipants(database);
  const origin = `https://localhost:${port}`;
  const config: GatewayConfig = Object.freeze({
    listen: { host: '127.0.0.1', port },
    externalOrigin: new URL(origin),
    tls: {
      certificate: readFileSync(as.pki.serverCert, 'utf8'),
      privateKey: readFileSync(as.pki.serverKey, 'utf8'),
      clientCa: readFileSync(as.pki.caCert, 'utf8'),
      minVersion: 'TLSv1.3' as const,
    },
    clientCertificate: { source: 'tls' as const },
    authorizationServer: { issuer: as.issuer, jwksUri: new URL(`${as.issuer}/jwks`), ca: readFileSync(as.pki.caCert, 'utf8') },
    audience: as.gatewayAudience,
    partnersFile: as.pki.registry,
    redisUrl: TEST_REDIS_URL,
    database: { url: database.url, role: 'isogw_app' },
    limits: SECURITY_LIMITS,
    // Receivers in tests are plain HTTP on loopback; the relay is started only by tests that ask for it.
    webhooks: { relay: false, allowInsecureEndpoints: true },
    ...overrides,
  });
  const redisKeyPrefix = `isogw-test:gateway:${randomUUID()}:`;
  const gateway = await startGateway(config, { schemas, redisKeyPrefix });
  return {
    ...gateway,
    config,
    origin,
    redisKeyPrefix,
    database,
    close: async () => {
      await gateway.close();
      await deleteKeysWithPrefix(as.redis, redisKeyPrefix);
      await database.close();
    },
  };
}

/** Each dev partner's EUR settlement account, funded with this much (minor units); bank-gamma's starts empty. */
export const DEV_FUNDING_MINOR = 10_000_000_00n;

/**
 * The dev partners as ledger participants: bank-alpha (DEUTDEFFXXX) and bank-beta (COBADEFFXXX) funded in EUR,
 * bank-gamma (ABNANL2AXXX) with an empty EUR account — so the template messages settle on-us (beta → gamma) or go
 * onward (alpha → BNPAFRPP, not a participant) and are held in suspense.
 */
export async function fundDevParticipants(database: TestDatabase): Promise<void> {
  for (const [bic, name] of [['DEUTDEFFXXX', 'Bank Alpha'], ['COBADEFFXXX', 'Bank Beta']] as const) {
    await fundSettlementAccount(database.pool, { bic, name, currency: 'EUR', amount: DEV_FUNDING_MINOR, reference: 'test funding' });
  }
  const client = await database.pool.connect();
  try {
    await ensureSettlementAccount(client, { bic: 'ABNANL2AXXX', name: 'Bank Gamma' }, 'EUR');
  } finally {
    client.release();
  }
}

/** An HTTPS client holding one partner's certificate (or none, or any certificate/key pair given). */
export function partnerAgent(as: TestAuthorizationServer, clientId: string | { cert: string; key: string } | null): Agent {
  const ca = readFileSync(as.pki.caCert, 'utf8');
  if (clientId === null) return new Agent({ connect: { ca } });
  if (typeof clientId === 'object') return new Agent({ connect: { ca, ...clientId } });
  const files = as.pki.partners[clientId];
  if (files === undefined) throw new Error(`no test partner ${clientId}`);
  return new Agent({ connect: { ca, cert: readFileSync(files.clientCert, 'utf8'), key: readFileSync(files.clientKey, 'utf8') } });
}

export interface GatewayAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** A raw request: headers exactly as given (an array value sends the header several times). */
export async function send(
  agent: Agent,
  url: string,
  options: { method?: string; headers?: Record<string, string | string[]>; body?: string } = {},
): Promise<GatewayAnswer> {
  const response = await request(url, {
    method: (options.method ?? 'POST') as 'POST',
    dispatcher: agent,
    headers: options.headers ?? {},
    ...(options.body === undefined ? {} : { body: options.body }),
  });
  return { status: response.statusCode, headers: response.headers, body: await response.body.text() };
}

export interface SigningKey {
  readonly privateKey: CryptoKey | KeyObject;
  readonly publicJwk: JWK;
  readonly alg: string;
}

export async function newKey(alg: 'ES256' | 'PS256' | 'EdDSA' | 'RS256' = 'ES256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, publicJwk: await exportJWK(publicKey), alg };
}

/** The authorization server's own ES256 signing key, to mint tokens it would never issue (expired, wrong aud...). */
export async function authorizationServerKey(as: TestAuthorizationServer): Promise<{ key: CryptoKey | KeyObject | Uint8Array; kid: string }> {
  const jwks = JSON.parse(readFileSync(as.pki.authzSigningKeys, 'utf8')) as { keys: JWK[] };
  const jwk = jwks.keys.find((k) => k.alg === 'ES256');
  if (jwk?.kid === undefined) throw new Error('no ES256 key in the AS key set');
  return { key: await importJWK(jwk, 'ES256'), kid: jwk.kid };
}

export function thumbprintOfJwk(jwk: JWK): Promise<string> {
  return import('jose').then(({ calculateJwkThumbprint }) => calculateJwkThumbprint(jwk, 'sha256'));
}

export function certificateThumbprint(pem: string): string {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return createHash('sha256').update(der).digest('base64url');
}

/** A token signed like the AS signs them; every field can be overridden or removed (value undefined). */
export async function mintAccessToken(
  as: TestAuthorizationServer,
  options: { claims?: Record<string, unknown>; header?: Record<string, unknown>; sign?: (jwt: SignJWT) => Promise<string> } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const { key, kid } = await authorizationServerKey(as);
  const claims = withoutUndefined({
    iss: as.issuer,
    sub: 'bank-alpha',
    client_id: 'bank-alpha',
    aud: as.gatewayAudience,
    scope: 'payments:write payments:read',
    iat: now,
    exp: now + 300,
    jti: randomUUID(),
    ...options.claims,
  });
  const header = withoutUndefined({ alg: 'ES256', typ: 'at+jwt', kid, ...options.header });
  const jwt = new SignJWT(claims).setProtectedHeader(header as { alg: string });
  return options.sign === undefined ? jwt.sign(key) : options.sign(jwt);
}

/** A DPoP proof (RFC 9449 §4.2) for `method url` bound to `accessToken`; every field can be overridden or removed. */
export async function dpopProof(
  key: SigningKey,
  method: string,
  url: string,
  accessToken: string,
  options: { claims?: Record<string, unknown>; header?: Record<string, unknown>; signWith?: SigningKey } = {},
): Promise<string> {
  const claims = withoutUndefined({
    jti: randomUUID(),
    htm: method,
    htu: url,
    iat: Math.floor(Date.now() / 1000),
    ath: createHash('sha256').update(accessToken).digest('base64url'),
    ...options.claims,
  });
  const header = withoutUndefined({ alg: key.alg, typ: 'dpop+jwt', jwk: key.publicJwk, ...options.header });
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign((options.signWith ?? key).privateKey);
}

function withoutUndefined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}
