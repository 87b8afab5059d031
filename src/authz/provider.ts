/**
 * Our authorization server: oidc-provider under the FAPI 2.0 profile, reduced to what machine clients need.
 *
 * Partners authenticate with private_key_jwt or tls_client_auth, use client_credentials, and receive short-lived
 * RFC 9068 JWT access tokens for exactly one resource server, the gateway, bound to a DPoP key (RFC 9449) or their
 * client certificate (RFC 8705). Everything else oidc-provider can do is switched off here, each with its reason.
 *
 * Every security-relevant setting is written out instead of inherited from oidc-provider's defaults: algorithms,
 * authentication methods, clock tolerance, token lifetime and format, signing algorithm of the access token.
 */
import type { Adapter, JWK, ResourceServer } from 'oidc-provider';
import Provider, { errors } from 'oidc-provider';
import type { Redis } from 'ioredis';

import { FAPI_SIGNING_ALGORITHMS, PARTNER_SCOPES } from '../partners/registry.ts';
import type { PartnerRegistry } from '../partners/registry.ts';
import { partnerClients } from './clients.ts';
import { clientCertificateHelpers } from './client-certificate.ts';
import type { MtlsConnectionTest } from './client-certificate.ts';
import { redisAdapterFactory } from './redis-adapter.ts';
import { advertiseServedEndpointsOnly, servedEndpointsOnly, TOKEN_PATH, JWKS_PATH } from './served-endpoints.ts';

/** Access tokens are bearer-of-key credentials for payment submission: keep them short. */
export const ACCESS_TOKEN_TTL_SECONDS = 300;
export const ACCESS_TOKEN_TTL_MAX_SECONDS = 3600;
/** JWT access tokens are signed ES256 (compact, FAPI-approved); oidc-provider would otherwise fall back to RS256. */
export const ACCESS_TOKEN_SIGNING_ALGORITHM = 'ES256';
/** Allowed clock skew for client assertion iat/exp/nbf. */
export const CLOCK_TOLERANCE_SECONDS = 5;
/**
 * Longest remaining lifetime we accept on a client assertion. Its jti is remembered (in Redis) until it expires, so
 * without a cap a client could make us store a replay record for years.
 */
export const CLIENT_ASSERTION_LIFETIME_MAX_SECONDS = 300;
export const DPOP_NONCE_SECRET_BYTES = 32;

export interface AuthorizationServerProviderOptions {
  /** Issuer identifier, `https://host[:port]` without a path. */
  readonly issuer: string;
  readonly registry: PartnerRegistry;
  /** Private signing JWKs (each with kid, alg, use: 'sig'); must include an ES256 key for access tokens. */
  readonly signingKeys: { readonly keys: readonly JWK[] };
  /** Keys for oidc-provider's signed cookies; a machine-only server sets none, but the library wants keys it controls. */
  readonly cookieKeys: readonly string[];
  /** 32 random bytes from which DPoP nonces are derived; shared by all instances so any of them accepts a nonce. */
  readonly dpopNonceSecret: Buffer;
  /** Demand a server nonce in every DPoP proof (RFC 9449 §8), which limits pre-generated proofs. */
  readonly requireDpopNonce: boolean;
  /** Where the state lives: Redis under keyPrefix, shared by any number of instances... */
  readonly redis?: Redis | undefined;
  readonly keyPrefix?: string | undefined;
  /** ...or, instead, an adapter of one instance's own (the embedded default: src/embedded/memory-oidc-adapter.ts). */
  readonly adapter?: ((model: string) => Adapter) | undefined;
  /** The gateway's resource identifier (its external https URL); the `aud` of every access token. */
  readonly gatewayAudience: string;
  readonly accessTokenTtlSeconds?: number;
  /** Origin of the mTLS alias listener (`https://host:port`), published as mtls_endpoint_aliases. */
  readonly mtlsAliasOrigin: string;
  /** True for sockets accepted by the mTLS alias listener; only those may present a client certificate. */
  readonly isMtlsConnection: MtlsConnectionTest;
}

export class AuthorizationServerConfigError extends Error {
  override readonly name = 'AuthorizationServerConfigError';
}

/**
 * Builds the provider and loads every partner client once, so a registry entry oidc-provider rejects fails boot
 * instead of that partner's first token request.
 */
export async function buildProvider(options: AuthorizationServerProviderOptions): Promise<Provider> {
  const issuer = checkedIssuer(options.issuer);
  const gatewayAudience = checkedAbsoluteUrl(options.gatewayAudience, 'gatewayAudience');
  const mtlsAliasOrigin = checkedIssuer(options.mtlsAliasOrigin);
  const accessTokenTtlSeconds = options.accessTokenTtlSeconds ?? ACCESS_TOKEN_TTL_SECONDS;
  if (!Number.isSafeInteger(accessTokenTtlSeconds) || accessTokenTtlSeconds <= 0 || accessTokenTtlSeconds > ACCESS_TOKEN_TTL_MAX_SECONDS) {
    throw new AuthorizationServerConfigError(`accessTokenTtlSeconds must be an integer in 1..${ACCESS_TOKEN_TTL_MAX_SECONDS}`);
  }
  if (options.dpopNonceSecret.length !== DPOP_NONCE_SECRET_BYTES) {
    throw new AuthorizationServerConfigError(`dpopNonceSecret must be ${DPOP_NONCE_SECRET_BYTES} bytes`);
  }
  if (options.cookieKeys.length === 0) throw new AuthorizationServerConfigError('cookieKeys must not be empty');
  checkSigningKeys(options.signingKeys.keys);

  const fapiAlgorithms = [...FAPI_SIGNING_ALGORITHMS];
  const gatewayResourceServer: ResourceServer = {
    audience: gatewayAudience,
    scope: PARTNER_SCOPES.join(' '),
    accessTokenFormat: 'jwt',
    accessTokenTTL: accessTokenTtlSeconds,
    jwt: { sign: { alg: ACCESS_TOKEN_SIGNING_ALGORITHM } },
  };
  const storage = storageAdapter(options);

  const provider = new Provider(issuer, {
    // Clients come from the partner registry only; see registryOnlyClients.
    adapter: (model: string) => (model === 'Client' ? registryOnlyClients : storage(model)),
    clients: partnerClients(options.registry),
    clientDefaults: {
      grant_types: ['client_credentials'],
      response_types: [],
      token_endpoint_auth_method: 'private_key_jwt',
      // Also the fallback JWS algorithm for JWT access tokens; RS256 (the library default) is not allowed by FAPI 2.0.
      id_token_signed_response_alg: ACCESS_TOKEN_SIGNING_ALGORITHM,
    },
    jwks: { keys: options.signingKeys.keys.map((key) => ({ ...key })) },
    cookies: { keys: [...options.cookieKeys] },
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    // No authorization endpoint flows: nothing is ever redirected to a browser.
    responseTypes: [],
    scopes: [...PARTNER_SCOPES],
    clientAuthMethods: ['private_key_jwt', 'tls_client_auth'],
    enabledJWA: {
      clientAuthSigningAlgValues: fapiAlgorithms,
      dPoPSigningAlgValues: fapiAlgorithms,
      idTokenSigningAlgValues: fapiAlgorithms,
      requestObjectSigningAlgValues: fapiAlgorithms,
      userinfoSigningAlgValues: fapiAlgorithms,
      introspectionSigningAlgValues: fapiAlgorithms,
      authorizationSigningAlgValues: fapiAlgorithms,
      attestSigningAlgValues: fapiAlgorithms,
    },
    routes: { token: TOKEN_PATH, jwks: JWKS_PATH },
    ttl: { ClientCredentials: accessTokenTtlSeconds },
    discovery: {
      // oidc-provider does not know about the second listener; RFC 8705 §5 tells clients where it is.
      mtls_endpoint_aliases: { token_endpoint: `${mtlsAliasOrigin}${TOKEN_PATH}` },
    },
    assertJwtClientAuthClaimsAndHeader: (ctx, claims) => {
      // Replaces the library default, so its FAPI 2.0 rule comes first: the audience is exactly the issuer.
      if (claims.aud !== ctx.oidc.issuer) {
        throw new errors.InvalidClientAuth('audience (aud) must equal the issuer identifier url');
      }
      const remaining = Number(claims.exp) - Math.floor(Date.now() / 1000);
      if (!(remaining <= CLIENT_ASSERTION_LIFETIME_MAX_SECONDS + CLOCK_TOLERANCE_SECONDS)) {
        throw new errors.InvalidClientAuth(`client assertion must expire within ${CLIENT_ASSERTION_LIFETIME_MAX_SECONDS} seconds`);
      }
    },
    formats: {
      customizers: {
        jwt: (_ctx, token, { payload }) => {
          // FAPI 2.0 only allows sender-constrained tokens. Client metadata already demands a binding from every
          // partner; this is the last line should that ever be misconfigured.
          if (payload.cnf === undefined) throw new Error(`refusing to issue an unbound access token to ${token.clientId}`);
          // RFC 6749 §3.3: without a scope we would have to pick a default or fail; a scopeless token is neither.
          if (payload.scope === undefined) {
            throw new errors.InvalidScope('request at least one of the scopes the partner holds', token.client?.scope ?? '');
          }
        },
      },
    },
    renderError: (ctx, out) => {
      // Machine clients only: errors are OAuth JSON even for a caller that prefers HTML.
      ctx.type = 'json';
      ctx.body = out;
    },
    features: {
      fapi: { enabled: true, profile: '2.0' },
      clientCredentials: { enabled: true },
      dPoP: {
        enabled: true,
        nonceSecret: options.dpopNonceSecret,
        requireNonce: () => options.requireDpopNonce,
        allowReplay: false,
      },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        tlsClientAuth: true,
        // Self-signed certificates would make registration, not the CA, the trust anchor; partners use CA-issued ones.
        selfSignedTlsClientAuth: false,
        ...clientCertificateHelpers(options.isMtlsConnection),
      },
      resourceIndicators: {
        enabled: true,
        // Every token is for the gateway, whether or not the client names it with `resource`.
        defaultResource: () => gatewayAudience,
        // There are no grants to carry a resource forward (client_credentials only).
        useGrantedResource: () => false,
        getResourceServerInfo: (_ctx, resourceIndicator) => {
          if (resourceIndicator !== gatewayAudience) {
            throw new errors.InvalidTarget('this authorization server only issues tokens for the payment gateway');
          }
          return gatewayResourceServer;
        },
      },
      // Off: no end users, so no login screens, sessions, logout, userinfo or authorization requests of any kind.
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      userinfo: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      requestObjects: { enabled: false },
      claimsParameter: { enabled: false },
      // Off: partners are onboarded through the registry file, never over the wire.
      registration: { enabled: false },
      // Off: access tokens are self-contained JWTs that live minutes; the gateway verifies them locally, so there is
      // nothing to introspect, and revocation would need a deny list the gateway consults on every request.
      introspection: { enabled: false },
      revocation: { enabled: false },
      // Off: both are ways for a user on another device to approve a client; there are no users here.
      deviceFlow: { enabled: false },
      ciba: { enabled: false },
      // Off: tokens travel over TLS to a gateway that verifies signatures; nobody in between needs hiding from.
      encryption: { enabled: false },
    },
  });

  // No reverse proxy sits in front of the authorization server: X-Forwarded-* headers are not to be believed.
  provider.proxy = false;
  provider.use(servedEndpointsOnly(options.isMtlsConnection));
  provider.use(advertiseServedEndpointsOnly());

  for (const partner of options.registry.partners) {
    try {
      await provider.Client.find(partner.clientId);
    } catch (error) {
      throw new AuthorizationServerConfigError(`partner ${partner.clientId} is not a valid client: ${(error as Error).message}`, { cause: error });
    }
  }
  return provider;
}

/** Dynamic clients stored in Redis would bypass the registry; this adapter makes sure there are none. */
const registryOnlyClients = {
  async find() {
    return undefined;
  },
  async findByUid() {
    return undefined;
  },
  async findByUserCode() {
    return undefined;
  },
  async upsert() {
    throw new Error('clients are defined by the partner registry and never stored');
  },
  async consume() {},
  async destroy() {},
  async revokeByGrantId() {},
};

/** Exactly one place for the state: a Redis client with its prefix, or an adapter given instead. */
function storageAdapter(options: AuthorizationServerProviderOptions): (model: string) => Adapter {
  if (options.adapter !== undefined) {
    if (options.redis !== undefined) throw new AuthorizationServerConfigError('give either redis (with keyPrefix) or adapter, not both');
    return options.adapter;
  }
  if (options.redis === undefined || options.keyPrefix === undefined) throw new AuthorizationServerConfigError('redis and keyPrefix are required unless an adapter is given');
  return redisAdapterFactory({ redis: options.redis, keyPrefix: options.keyPrefix });
}

function checkedIssuer(value: string): string {
  const url = checkedAbsoluteUrl(value, 'issuer');
  const parsed = new URL(url);
  if (parsed.protocol !== 'https:' || parsed.pathname !== '/' || parsed.search !== '' || url.endsWith('/')) {
    throw new AuthorizationServerConfigError(`${value} must be https://host[:port] with no path, query or trailing slash`);
  }
  return url;
}

function checkedAbsoluteUrl(value: string, name: string): string {
  if (URL.parse(value) === null) throw new AuthorizationServerConfigError(`${name} must be an absolute URL (got ${value})`);
  return value;
}

function checkSigningKeys(keys: readonly JWK[]): void {
  for (const key of keys) {
    if (typeof key.kid !== 'string' || key.kid === '') throw new AuthorizationServerConfigError('every signing key needs a kid');
    if (!(FAPI_SIGNING_ALGORITHMS as readonly unknown[]).includes(key.alg)) {
      throw new AuthorizationServerConfigError(`signing key ${key.kid} has alg ${String(key.alg)}, expected one of ${FAPI_SIGNING_ALGORITHMS.join(', ')}`);
    }
    if (key.use !== 'sig') throw new AuthorizationServerConfigError(`signing key ${key.kid} must have use "sig"`);
    if (key.d === undefined) throw new AuthorizationServerConfigError(`signing key ${key.kid} is not a private key`);
  }
  if (!keys.some((key) => key.alg === ACCESS_TOKEN_SIGNING_ALGORITHM)) {
    throw new AuthorizationServerConfigError(`an ${ACCESS_TOKEN_SIGNING_ALGORITHM} signing key is required for access tokens`);
  }
}

