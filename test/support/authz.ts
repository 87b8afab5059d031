/**
 * Starts a real authorization server for tests: both TLS listeners on free loopback ports, the development PKI,
 * its partner registry and keys, and Redis under a key prefix of its own (removed again by close()).
 *
 * @example
 * const as = await startTestAuthorizationServer();
 * // as.issuer, as.mtlsOrigin, as.pki.partners['bank-alpha'].signingKey, ...
 * await as.close();
 */
import { randomUUID } from 'node:crypto';

import { Redis } from 'ioredis';

import type { DevPkiFiles } from '../../src/certs/dev-pki.ts';
import { loadAuthorizationServerKeyMaterial } from '../../src/authz/key-material.ts';
import { startAuthorizationServer, type AuthorizationServerOptions, type RunningAuthorizationServer } from '../../src/authz/server.ts';
import { loadPartnerRegistry, type PartnerRegistry } from '../../src/partners/registry.ts';
import { devPki } from './pki.ts';

export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** The resource identifier test tokens are issued for, unless a test names its gateway's own. */
export const TEST_GATEWAY_AUDIENCE = 'https://gateway.localhost';
/** Keys deleted per SCAN round when cleaning up a prefix. */
const CLEANUP_BATCH_KEYS = 500;
/** Upper bound on SCAN rounds, so a misbehaving cleanup cannot spin forever. */
const CLEANUP_ROUNDS_MAX = 10_000;

export interface TestAuthorizationServerOverrides extends Partial<Omit<AuthorizationServerOptions, 'tls'>> {
  /** Share a Redis client (and keyPrefix) with another instance to test shared state; it is not quit on close. */
  readonly redis?: Redis;
  /** Default: the dev PKI's partners.json. */
  readonly registry?: PartnerRegistry;
}

export interface TestAuthorizationServer extends RunningAuthorizationServer {
  readonly pki: DevPkiFiles;
  readonly registry: PartnerRegistry;
  readonly gatewayAudience: string;
  readonly redis: Redis;
  readonly keyPrefix: string;
  /** This instance's token endpoint on each listener, for hand-built requests. */
  readonly tokenEndpoint: string;
  readonly mtlsTokenEndpoint: string;
}

export async function startTestAuthorizationServer(overrides: TestAuthorizationServerOverrides = {}): Promise<TestAuthorizationServer> {
  const pki = await devPki();
  const registry = overrides.registry ?? loadPartnerRegistry(pki.registry);
  const keys = await loadAuthorizationServerKeyMaterial({ signingKeysFile: pki.authzSigningKeys, secretsFile: pki.authzSecrets });
  const ownsRedis = overrides.redis === undefined;
  const redis = overrides.redis ?? new Redis(TEST_REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 1 });
  // A shared client without an explicit prefix would still get a fresh namespace, which defeats sharing; insist.
  if (!ownsRedis && overrides.keyPrefix === undefined) throw new TypeError('pass keyPrefix together with a shared redis');
  const keyPrefix = overrides.keyPrefix ?? `isogw-test:authz:${randomUUID()}:`;
  const gatewayAudience = overrides.gatewayAudience ?? TEST_GATEWAY_AUDIENCE;

  let server: RunningAuthorizationServer;
  try {
    server = await startAuthorizationServer({
      signingKeys: keys.signingKeys,
      cookieKeys: keys.cookieKeys,
      dpopNonceSecret: keys.dpopNonceSecret,
      requireDpopNonce: false,
      issuerPort: 0,
      mtlsPort: 0,
      ...overrides,
      registry,
      redis,
      keyPrefix,
      gatewayAudience,
      tls: { certFile: pki.serverCert, keyFile: pki.serverKey, clientCaFile: pki.caCert },
    });
  } catch (error) {
    if (ownsRedis) redis.disconnect();
    throw error;
  }

  return {
    ...server,
    pki,
    registry,
    gatewayAudience,
    redis,
    keyPrefix,
    tokenEndpoint: `${server.issuerListenerOrigin}/token`,
    mtlsTokenEndpoint: `${server.mtlsListenerOrigin}/token`,
    close: async () => {
      await server.close();
      if (ownsRedis) {
        await deleteKeysWithPrefix(redis, keyPrefix);
        await redis.quit();
      }
    },
  };
}

/** Removes every key under `prefix` (SCAN, not KEYS, so a shared Redis is not blocked). */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  for (let round = 0; round < CLEANUP_ROUNDS_MAX; round += 1) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${escapeGlob(prefix)}*`, 'COUNT', CLEANUP_BATCH_KEYS);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
    if (cursor === '0') return;
  }
  throw new Error(`cleanup of ${prefix}* did not finish within ${CLEANUP_ROUNDS_MAX} SCAN rounds`);
}

function escapeGlob(value: string): string {
  return value.replace(/[*?[\]\\]/g, (character) => `\\${character}`);
}
