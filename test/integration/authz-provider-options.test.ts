/**
 * buildProvider checks its options once at boot: a misconfigured authorization server must not start.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';

import { Redis } from 'ioredis';
import type { JWK } from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadAuthorizationServerKeyMaterial } from '../../src/authz/key-material.ts';
import {
  ACCESS_TOKEN_TTL_MAX_SECONDS,
  AuthorizationServerConfigError,
  buildProvider,
  type AuthorizationServerProviderOptions,
} from '../../src/authz/provider.ts';
import { loadPartnerRegistry } from '../../src/partners/registry.ts';
import { TEST_GATEWAY_AUDIENCE, TEST_REDIS_URL } from '../support/authz.ts';
import { devPki } from '../support/pki.ts';

let options: AuthorizationServerProviderOptions;
let redis: Redis;

beforeAll(async () => {
  const pki = await devPki();
  const keys = await loadAuthorizationServerKeyMaterial({ signingKeysFile: pki.authzSigningKeys, secretsFile: pki.authzSecrets });
  // Never connected: building a provider must not need Redis.
  redis = new Redis(TEST_REDIS_URL, { lazyConnect: true });
  options = {
    issuer: 'https://localhost:9443',
    registry: loadPartnerRegistry(pki.registry),
    ...keys,
    requireDpopNonce: false,
    redis,
    keyPrefix: 'isogw-test:authz-options:',
    gatewayAudience: TEST_GATEWAY_AUDIENCE,
    mtlsAliasOrigin: 'https://localhost:9444',
    isMtlsConnection: () => false,
  };
});

afterAll(() => {
  redis.disconnect();
});

describe('buildProvider', () => {
  it('builds a provider from valid options', async () => {
    const provider = await buildProvider(options);
    expect(provider.issuer).toBe('https://localhost:9443');
  });

  it('refuses an issuer with a path', async () => {
    await expect(buildProvider({ ...options, issuer: 'https://localhost:9443/oauth' })).rejects.toBeInstanceOf(AuthorizationServerConfigError);
  });

  it('refuses a plain-http issuer', async () => {
    await expect(buildProvider({ ...options, issuer: 'http://localhost:9443' })).rejects.toBeInstanceOf(AuthorizationServerConfigError);
  });

  it('refuses an RS256 signing key', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
    const keys = [...options.signingKeys.keys, { ...rsa, kid: 'rsa-1', alg: 'RS256', use: 'sig' } as JWK];
    await expect(buildProvider({ ...options, signingKeys: { keys } })).rejects.toThrow(/RS256/);
  });

  it('refuses signing keys without an ES256 key for access tokens', async () => {
    const keys = options.signingKeys.keys.filter((key) => key.alg !== 'ES256');
    await expect(buildProvider({ ...options, signingKeys: { keys } })).rejects.toThrow(/ES256/);
  });

  it('refuses public signing keys', async () => {
    const keys = options.signingKeys.keys.map(({ d: _d, ...publicPart }) => publicPart as JWK);
    await expect(buildProvider({ ...options, signingKeys: { keys } })).rejects.toThrow(/not a private key/);
  });

  it('refuses a DPoP nonce secret that is not 32 bytes', async () => {
    await expect(buildProvider({ ...options, dpopNonceSecret: randomBytes(16) })).rejects.toThrow(/32 bytes/);
  });

  it('refuses an access token lifetime beyond the maximum', async () => {
    await expect(buildProvider({ ...options, accessTokenTtlSeconds: ACCESS_TOKEN_TTL_MAX_SECONDS + 1 }))
      .rejects.toBeInstanceOf(AuthorizationServerConfigError);
  });
});
