/**
 * The authorization server end to end: real TLS listeners, real Redis, real signatures, and the published
 * openid-client as the partner's client library. Where a test needs a request no well-behaved client would send
 * (a replayed assertion, a forbidden algorithm) it builds it by hand with jose and sends it with undici.
 */
import { createHash, generateKeyPairSync, randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

import * as jose from 'jose';
import * as client from 'openid-client';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FAPI_SIGNING_ALGORITHMS } from '../../src/partners/registry.ts';
import { ACCESS_TOKEN_TTL_SECONDS, CLIENT_ASSERTION_LIFETIME_MAX_SECONDS } from '../../src/authz/provider.ts';
import { loadPartnerRegistry, parsePartnerRegistry } from '../../src/partners/registry.ts';
import { startTestAuthorizationServer, type TestAuthorizationServer } from '../support/authz.ts';

const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

let as: TestAuthorizationServer;
let trustOnly: Agent;
const partnerAgents = new Map<string, Agent>();

beforeAll(async () => {
  as = await startTestAuthorizationServer();
  trustOnly = new Agent({ connect: { ca: readFileSync(as.pki.caCert, 'utf8') } });
});

afterAll(async () => {
  await as?.close();
  await Promise.all([trustOnly?.close(), ...[...partnerAgents.values()].map((agent) => agent.close())]);
});

/** An undici agent that trusts the dev CA and presents `certificateOf`'s client certificate when asked. */
function agentWithCertificateOf(clientId: string): Agent {
  let agent = partnerAgents.get(clientId);
  if (agent === undefined) {
    const files = as.pki.partners[clientId];
    if (files === undefined) throw new Error(`no dev PKI files for ${clientId}`);
    agent = new Agent({
      connect: {
        ca: readFileSync(as.pki.caCert, 'utf8'),
        cert: readFileSync(files.clientCert, 'utf8'),
        key: readFileSync(files.clientKey, 'utf8'),
      },
    });
    partnerAgents.set(clientId, agent);
  }
  return agent;
}

function fetchVia(agent: Agent): client.CustomFetch {
  // openid-client hands over WHATWG fetch arguments; undici's fetch accepts them plus its dispatcher.
  return (url, options) => undiciFetch(url, { ...options, dispatcher: agent } as Parameters<typeof undiciFetch>[1]) as unknown as Promise<Response>;
}

async function signingKeyOf(clientId: string): Promise<{ key: jose.CryptoKey; kid: string | undefined }> {
  const file = as.pki.partners[clientId]?.signingKey;
  if (file === undefined) throw new Error(`${clientId} has no signing key`);
  const jwk = JSON.parse(readFileSync(file, 'utf8')) as jose.JWK;
  return { key: (await jose.importJWK(jwk, jwk.alg ?? 'ES256')) as jose.CryptoKey, kid: jwk.kid };
}

/** openid-client configured for a private_key_jwt partner, discovering the test AS over plain TLS. */
async function privateKeyJwtConfig(clientId: string, server: TestAuthorizationServer = as): Promise<client.Configuration> {
  const signingKey = await signingKeyOf(clientId);
  return client.discovery(new URL(server.issuer), clientId, {}, client.PrivateKeyJwt(signingKey), {
    [client.customFetch]: fetchVia(trustOnly),
  });
}

/** openid-client configured for tls_client_auth, presenting `certificateOf`'s certificate. */
async function tlsClientAuthConfig(clientId: string, options: { certificateOf?: string; useMtlsAlias?: boolean } = {}) {
  return client.discovery(
    new URL(as.issuer),
    clientId,
    { use_mtls_endpoint_aliases: options.useMtlsAlias ?? true },
    client.TlsClientAuth(),
    { [client.customFetch]: fetchVia(agentWithCertificateOf(options.certificateOf ?? clientId)) },
  );
}

function decode(token: string) {
  return { header: jose.decodeProtectedHeader(token), claims: jose.decodeJwt(token) };
}

async function clientAssertion(options: {
  clientId: string;
  audience: string;
  key: jose.CryptoKey | Uint8Array | jose.KeyObject;
  alg: string;
  kid?: string;
  jti?: string;
}): Promise<string> {
  return new jose.SignJWT({})
    .setProtectedHeader({ alg: options.alg, ...(options.kid === undefined ? {} : { kid: options.kid }) })
    .setIssuer(options.clientId)
    .setSubject(options.clientId)
    .setAudience(options.audience)
    .setJti(options.jti ?? randomUUID())
    .setIssuedAt()
    .setNotBefore('0s')
    .setExpirationTime('60s')
    .sign(options.key);
}

async function dpopProof(options: { htu: string; alg?: string; nonce?: string; privateKey?: jose.KeyObject | jose.CryptoKey; publicJwk?: jose.JWK }) {
  let { privateKey, publicJwk } = options;
  const alg = options.alg ?? 'ES256';
  if (privateKey === undefined || publicJwk === undefined) {
    const pair = await jose.generateKeyPair(alg, { extractable: true });
    privateKey = pair.privateKey;
    publicJwk = await jose.exportJWK(pair.publicKey);
  }
  const proof = await new jose.SignJWT({ htm: 'POST', htu: options.htu, ...(options.nonce === undefined ? {} : { nonce: options.nonce }) })
    .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk: publicJwk })
    .setJti(randomUUID())
    .setIssuedAt()
    .sign(privateKey);
  return { proof, thumbprint: await jose.calculateJwkThumbprint(publicJwk) };
}

async function postToken(url: string, form: Record<string, string>, headers: Record<string, string> = {}, agent: Agent = trustOnly) {
  const response = await undiciFetch(url, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
}

/** A bank-alpha token request built by hand: client assertion + DPoP proof, both fresh unless given. */
async function alphaTokenRequest(server: TestAuthorizationServer, assertion?: string) {
  const { key, kid } = await signingKeyOf('bank-alpha');
  const clientAssertionValue = assertion ?? (await clientAssertion({ clientId: 'bank-alpha', audience: server.issuer, key, alg: 'ES256', kid }));
  const { proof } = await dpopProof({ htu: server.tokenEndpoint });
  return postToken(server.tokenEndpoint, {
    grant_type: 'client_credentials',
    scope: 'payments:read',
    client_assertion_type: CLIENT_ASSERTION_TYPE,
    client_assertion: clientAssertionValue,
  }, { dpop: proof });
}

describe('issuing sender-constrained tokens', () => {
  it('issues bank-alpha a DPoP-bound RFC 9068 access token for the gateway via private_key_jwt', async () => {
    const config = await privateKeyJwtConfig('bank-alpha');
    const keyPair = await client.randomDPoPKeyPair('ES256');
    const response = await client.clientCredentialsGrant(config, { scope: 'payments:write payments:read' }, {
      DPoP: client.getDPoPHandle(config, keyPair),
    });

    expect(response.token_type).toBe('dpop');
    expect(response.expires_in).toBe(ACCESS_TOKEN_TTL_SECONDS);
    const { header, claims } = decode(response.access_token);
    expect(header).toMatchObject({ typ: 'at+jwt', alg: 'ES256' });
    expect(header.kid).toEqual(expect.any(String));
    expect(claims).toMatchObject({
      iss: as.issuer,
      aud: as.gatewayAudience,
      client_id: 'bank-alpha',
      sub: 'bank-alpha',
      scope: 'payments:write payments:read',
      jti: expect.any(String),
    });
    expect(claims.exp! - claims.iat!).toBe(ACCESS_TOKEN_TTL_SECONDS);
    const thumbprint = await jose.calculateJwkThumbprint(await jose.exportJWK(keyPair.publicKey));
    expect(claims.cnf).toEqual({ jkt: thumbprint });

    const jwks = await (await undiciFetch(`${as.issuer}/jwks`, { dispatcher: trustOnly })).json() as jose.JSONWebKeySet;
    const verified = await jose.jwtVerify(response.access_token, jose.createLocalJWKSet(jwks), {
      algorithms: ['ES256'],
      typ: 'at+jwt',
      issuer: as.issuer,
      audience: as.gatewayAudience,
    });
    expect(verified.payload.client_id).toBe('bank-alpha');
  });

  it('publishes only public keys in its JWKS', async () => {
    const jwks = await (await undiciFetch(`${as.issuer}/jwks`, { dispatcher: trustOnly })).json() as jose.JSONWebKeySet;
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const key of jwks.keys) {
      expect(key).not.toHaveProperty('d');
      expect(FAPI_SIGNING_ALGORITHMS).toContain(key.alg);
    }
  });

  it('issues bank-beta a certificate-bound token via tls_client_auth on the mTLS alias', async () => {
    const config = await tlsClientAuthConfig('bank-beta');
    const response = await client.clientCredentialsGrant(config, { scope: 'payments:write' });

    expect(response.token_type).toBe('bearer');
    const certificate = new X509Certificate(readFileSync(as.pki.partners['bank-beta']!.clientCert));
    const { claims } = decode(response.access_token);
    expect(claims).toMatchObject({ client_id: 'bank-beta', aud: as.gatewayAudience, scope: 'payments:write' });
    expect(claims.cnf).toEqual({ 'x5t#S256': createHash('sha256').update(certificate.raw).digest('base64url') });
  });

  it('narrows the token to the requested scope', async () => {
    const config = await privateKeyJwtConfig('bank-alpha');
    const response = await client.clientCredentialsGrant(config, { scope: 'payments:read' }, {
      DPoP: client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256')),
    });
    expect(decode(response.access_token).claims.scope).toBe('payments:read');
  });
});

describe('refusals', () => {
  it('refuses a client assertion signed RS256 with invalid_client', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const assertion = await clientAssertion({ clientId: 'bank-alpha', audience: as.issuer, key: privateKey, alg: 'RS256' });
    const response = await alphaTokenRequest(as, assertion);
    expect(response).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });

  it('refuses a client assertion signed HS256 with invalid_client', async () => {
    const assertion = await clientAssertion({ clientId: 'bank-alpha', audience: as.issuer, key: randomBytes(32), alg: 'HS256' });
    const response = await alphaTokenRequest(as, assertion);
    expect(response).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });

  it('refuses a client assertion whose audience is not exactly the issuer', async () => {
    const { key, kid } = await signingKeyOf('bank-alpha');
    const assertion = await clientAssertion({ clientId: 'bank-alpha', audience: as.tokenEndpoint, key, alg: 'ES256', kid });
    const response = await alphaTokenRequest(as, assertion);
    expect(response).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });

  it('refuses an unknown client_id with invalid_client', async () => {
    const { key, kid } = await signingKeyOf('bank-alpha');
    const config = await client.discovery(new URL(as.issuer), 'bank-unknown', {}, client.PrivateKeyJwt({ key, kid }), {
      [client.customFetch]: fetchVia(trustOnly),
    });
    await expect(client.clientCredentialsGrant(config, { scope: 'payments:read' }, {
      DPoP: client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256')),
    })).rejects.toMatchObject({ error: 'invalid_client', status: 401 });
  });

  it('refuses bank-alpha an unbound token when it sends no DPoP proof', async () => {
    const config = await privateKeyJwtConfig('bank-alpha');
    await expect(client.clientCredentialsGrant(config, { scope: 'payments:read' }))
      .rejects.toMatchObject({ error: 'invalid_grant', status: 400 });
  });

  it('refuses bank-beta on the issuer listener, where no client certificate is asked for', async () => {
    const config = await tlsClientAuthConfig('bank-beta', { useMtlsAlias: false });
    await expect(client.clientCredentialsGrant(config, { scope: 'payments:read' }))
      .rejects.toMatchObject({ error: 'invalid_client', status: 401 });
  });

  it('refuses bank-beta presenting another partner\'s certificate', async () => {
    const config = await tlsClientAuthConfig('bank-beta', { certificateOf: 'bank-alpha' });
    await expect(client.clientCredentialsGrant(config, { scope: 'payments:read' }))
      .rejects.toMatchObject({ error: 'invalid_client', status: 401 });
  });

  it('refuses a TLS connection to the mTLS alias without a client certificate', async () => {
    await expect(postToken(as.mtlsTokenEndpoint, { grant_type: 'client_credentials', client_id: 'bank-beta' }))
      .rejects.toThrow();
  });

  it('refuses bank-gamma a scope it does not hold with invalid_scope', async () => {
    const config = await privateKeyJwtConfig('bank-gamma');
    await expect(client.clientCredentialsGrant(config, { scope: 'payments:write' }, {
      DPoP: client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256')),
    })).rejects.toMatchObject({ error: 'invalid_scope', status: 400 });
  });

  it('refuses a request for no scope at all with invalid_scope', async () => {
    const config = await privateKeyJwtConfig('bank-alpha');
    await expect(client.clientCredentialsGrant(config, {}, {
      DPoP: client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256')),
    })).rejects.toMatchObject({ error: 'invalid_scope', status: 400 });
  });

  it('refuses a resource other than the gateway with invalid_target', async () => {
    const config = await privateKeyJwtConfig('bank-alpha');
    await expect(client.clientCredentialsGrant(config, { scope: 'payments:read', resource: 'https://elsewhere.example' }, {
      DPoP: client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256')),
    })).rejects.toMatchObject({ error: 'invalid_target', status: 400 });
  });

  it('refuses a replayed client assertion', async () => {
    const { key, kid } = await signingKeyOf('bank-alpha');
    const assertion = await clientAssertion({ clientId: 'bank-alpha', audience: as.issuer, key, alg: 'ES256', kid });

    expect((await alphaTokenRequest(as, assertion)).status).toBe(200);
    expect(await alphaTokenRequest(as, assertion)).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });

  it('refuses a client assertion replayed at a second instance sharing the same Redis', async () => {
    const second = await startTestAuthorizationServer({
      redis: as.redis,
      keyPrefix: as.keyPrefix,
      issuer: as.issuer,
      mtlsOrigin: as.mtlsOrigin,
    });
    try {
      const { key, kid } = await signingKeyOf('bank-alpha');
      // The second instance on its own accepts a fresh assertion: only the replay is refused.
      expect((await alphaTokenRequest(second)).status).toBe(200);
      const assertion = await clientAssertion({ clientId: 'bank-alpha', audience: as.issuer, key, alg: 'ES256', kid });
      expect((await alphaTokenRequest(as, assertion)).status).toBe(200);
      expect(await alphaTokenRequest(second, assertion)).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    } finally {
      await second.close();
    }
  });

  it('lets exactly one of many simultaneous uses of one client assertion through, across two instances', async () => {
    const serverErrors: unknown[] = [];
    const onServerError = (error: unknown) => serverErrors.push(error);
    const first = await startTestAuthorizationServer({ onServerError });
    const second = await startTestAuthorizationServer({
      redis: first.redis, keyPrefix: first.keyPrefix, issuer: first.issuer, mtlsOrigin: first.mtlsOrigin, onServerError,
    });
    try {
      const { key, kid } = await signingKeyOf('bank-alpha');
      const assertion = await clientAssertion({ clientId: 'bank-alpha', audience: first.issuer, key, alg: 'ES256', kid });
      const responses = await Promise.all(
        Array.from({ length: 12 }, (_, i) => alphaTokenRequest(i % 2 === 0 ? first : second, assertion)),
      );
      const outcomes = responses.map((response) => `${response.status} ${String(response.body.error ?? 'token')}`).sort();
      expect(outcomes).toEqual(['200 token', ...Array.from({ length: 11 }, () => '401 invalid_client')]);
      expect(serverErrors).toEqual([]);
    } finally {
      await second.close();
      await first.close();
    }
  });

  it('refuses a client assertion that expires too far in the future', async () => {
    const { key, kid } = await signingKeyOf('bank-alpha');
    const assertion = await new jose.SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid })
      .setIssuer('bank-alpha')
      .setSubject('bank-alpha')
      .setAudience(as.issuer)
      .setJti(randomUUID())
      .setIssuedAt()
      .setNotBefore('0s')
      .setExpirationTime(`${CLIENT_ASSERTION_LIFETIME_MAX_SECONDS + 60}s`)
      .sign(key);
    expect(await alphaTokenRequest(as, assertion)).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });

  it('refuses a DPoP proof signed RS256 with invalid_dpop_proof', async () => {
    const { key, kid } = await signingKeyOf('bank-alpha');
    const { proof } = await dpopProof({ htu: as.tokenEndpoint, alg: 'RS256' });
    const response = await postToken(as.tokenEndpoint, {
      grant_type: 'client_credentials',
      scope: 'payments:read',
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: await clientAssertion({ clientId: 'bank-alpha', audience: as.issuer, key, alg: 'ES256', kid }),
    }, { dpop: proof });
    expect(response).toMatchObject({ status: 400, body: { error: 'invalid_dpop_proof' } });
  });

  it('refuses a replayed DPoP proof', async () => {
    const { key, kid } = await signingKeyOf('bank-alpha');
    const { proof } = await dpopProof({ htu: as.tokenEndpoint });
    const request = async () => postToken(as.tokenEndpoint, {
      grant_type: 'client_credentials',
      scope: 'payments:read',
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: await clientAssertion({ clientId: 'bank-alpha', audience: as.issuer, key, alg: 'ES256', kid }),
    }, { dpop: proof });
    expect((await request()).status).toBe(200);
    expect(await request()).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });
});

describe('a private_key_jwt partner whose tokens are bound to its certificate', () => {
  let certBoundAs: TestAuthorizationServer;

  beforeAll(async () => {
    // bank-alpha as registered, except that its tokens are to be certificate-bound instead of DPoP-bound.
    const registry = loadPartnerRegistry(as.pki.registry);
    const partners = registry.partners.map((partner) => (partner.clientId === 'bank-alpha' ? { ...partner, tokenBinding: 'mtls' } : partner));
    certBoundAs = await startTestAuthorizationServer({ registry: parsePartnerRegistry(structuredClone({ partners })) });
  });

  afterAll(async () => {
    await certBoundAs?.close();
  });

  async function config(useMtlsAlias: boolean) {
    return client.discovery(new URL(certBoundAs.issuer), 'bank-alpha', { use_mtls_endpoint_aliases: useMtlsAlias },
      client.PrivateKeyJwt(await signingKeyOf('bank-alpha')),
      { [client.customFetch]: fetchVia(agentWithCertificateOf('bank-alpha')) });
  }

  it('refuses it an unbound token on the issuer listener, where it cannot present a certificate', async () => {
    await expect(client.clientCredentialsGrant(await config(false), { scope: 'payments:read' }))
      .rejects.toMatchObject({ error: 'invalid_grant', status: 400 });
  });

  it('binds its token to the certificate it presents on the mTLS alias', async () => {
    const response = await client.clientCredentialsGrant(await config(true), { scope: 'payments:read' });
    const certificate = new X509Certificate(readFileSync(as.pki.partners['bank-alpha']!.clientCert));
    expect(decode(response.access_token).claims.cnf).toEqual({
      'x5t#S256': createHash('sha256').update(certificate.raw).digest('base64url'),
    });
  });
});

describe('published metadata and endpoints', () => {
  it('publishes FAPI 2.0 discovery metadata for machine clients', async () => {
    const metadata = (await privateKeyJwtConfig('bank-alpha')).serverMetadata();

    expect(metadata.token_endpoint_auth_methods_supported).toEqual(['private_key_jwt', 'tls_client_auth']);
    const algorithmLists = Object.entries(metadata).filter(([name]) => name.endsWith('_alg_values_supported'));
    expect(algorithmLists.length).toBeGreaterThan(0);
    for (const [name, values] of algorithmLists) {
      expect({ name, values }).toEqual({ name, values: expect.any(Array) });
      for (const alg of values as string[]) expect(FAPI_SIGNING_ALGORITHMS, `${name}: ${alg}`).toContain(alg);
    }
    expect(metadata.dpop_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256']));
    expect(metadata.tls_client_certificate_bound_access_tokens).toBe(true);
    expect(metadata.mtls_endpoint_aliases?.token_endpoint).toBe(`${as.mtlsOrigin}/token`);
    expect(metadata.grant_types_supported).toContain('client_credentials');
    expect(metadata).not.toHaveProperty('authorization_endpoint');
    expect(metadata.scopes_supported).toEqual(['payments:write', 'payments:read']);
  });

  it('answers 404 for endpoints a machine-only server does not serve', async () => {
    for (const path of ['/auth', '/me', '/session/end', '/reg', '/token/introspection']) {
      const response = await undiciFetch(`${as.issuer}${path}`, { dispatcher: trustOnly });
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
      await response.body?.cancel();
    }
  });

  it('serves only the token endpoint on the mTLS alias', async () => {
    const response = await undiciFetch(`${as.mtlsOrigin}/.well-known/openid-configuration`, { dispatcher: agentWithCertificateOf('bank-beta') });
    expect(response.status).toBe(404);
    await response.body?.cancel();
  });
});

describe('with DPoP nonces required', () => {
  let nonceAs: TestAuthorizationServer;

  beforeAll(async () => {
    nonceAs = await startTestAuthorizationServer({ requireDpopNonce: true });
  });

  afterAll(async () => {
    await nonceAs?.close();
  });

  it('answers a proof without a nonce with use_dpop_nonce and a DPoP-Nonce header', async () => {
    const response = await alphaTokenRequest(nonceAs);
    expect(response).toMatchObject({ status: 400, body: { error: 'use_dpop_nonce' } });
    expect(response.headers.get('dpop-nonce')).toEqual(expect.any(String));
  });

  it('issues the token when openid-client retries with the server nonce', async () => {
    const statuses: number[] = [];
    const signingKey = await signingKeyOf('bank-alpha');
    const config = await client.discovery(new URL(nonceAs.issuer), 'bank-alpha', {}, client.PrivateKeyJwt(signingKey), {
      [client.customFetch]: async (url, options) => {
        const response = await fetchVia(trustOnly)(url, options);
        if (options.method === 'POST') statuses.push(response.status);
        return response;
      },
    });
    const keyPair = await client.randomDPoPKeyPair('ES256');
    const response = await client.clientCredentialsGrant(config, { scope: 'payments:read' }, {
      DPoP: client.getDPoPHandle(config, keyPair),
    });

    expect(statuses).toEqual([400, 200]);
    expect(decode(response.access_token).claims.cnf).toEqual({
      jkt: await jose.calculateJwkThumbprint(await jose.exportJWK(keyPair.publicKey)),
    });
  });
});
