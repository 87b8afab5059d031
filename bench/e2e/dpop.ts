/**
 * A bench bank's credentials, for real: an access token from the authorization server (client_credentials,
 * private_key_jwt client authentication with the bank's registered key, DPoP-bound to the bank's ES256 key), and a
 * DPoP proof per request (RFC 9449: unique jti, iat now, exact htm and htu, ath = base64url(SHA-256(token))).
 *
 * Proofs are signed with node:crypto directly — synchronous, no WebCrypto job hop, about half of jose's ~77 µs —
 * because the load generator signs thousands a second (BENCHMARKING.md trap 6). The JWS is the same: ES256 over
 * `base64url(header).base64url(payload)`, signature in IEEE P1363 form (r‖s), header `{typ, alg, jwk}`.
 */
import { createHash, createPrivateKey, type KeyObject, randomUUID, sign } from 'node:crypto';

import * as jose from 'jose';
import { Agent, fetch } from 'undici';

const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** A client assertion is valid this long (it is used at once). */
const CLIENT_ASSERTION_LIFETIME_SECONDS = 60;
/** The token request may take this long before the bench gives up on it. */
export const TOKEN_REQUEST_TIMEOUT_MS = 10_000;

export interface EcPublicJwk {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  readonly x: string;
  readonly y: string;
}

export interface DpopSigner {
  readonly publicJwk: EcPublicJwk;
  /** A fresh proof for `htm htu`, bound to the token whose hash is `ath` (omitted at the token endpoint). */
  proof(htm: string, htu: string, ath?: string): string;
}

export function dpopSigner(privateJwk: jose.JWK): DpopSigner {
  const key: KeyObject = createPrivateKey({ key: privateJwk as import('node:crypto').JsonWebKey, format: 'jwk' });
  const publicJwk: EcPublicJwk = { kty: 'EC', crv: 'P-256', x: String(privateJwk.x), y: String(privateJwk.y) };
  const header = Buffer.from(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: publicJwk })).toString('base64url');
  return {
    publicJwk,
    proof(htm, htu, ath) {
      const claims = { jti: randomUUID(), htm, htu, iat: Math.floor(Date.now() / 1000), ...(ath === undefined ? {} : { ath }) };
      const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
      const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
      return `${input}.${signature.toString('base64url')}`;
    },
  };
}

export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

export interface IssuedToken {
  readonly accessToken: string;
  readonly expiresInSeconds: number;
}

export async function requestAccessToken(options: {
  readonly tokenEndpoint: string;
  readonly issuer: string;
  readonly caPem: string;
  readonly clientId: string;
  /** The bank's registered private signing JWK (ES256), for private_key_jwt. */
  readonly signingJwk: jose.JWK;
  readonly dpop: DpopSigner;
  readonly scope: string;
}): Promise<IssuedToken> {
  const alg = options.signingJwk.alg ?? 'ES256';
  const signingKey = await jose.importJWK(options.signingJwk, alg);
  const assertion = await new jose.SignJWT({})
    .setProtectedHeader({ alg, ...(options.signingJwk.kid === undefined ? {} : { kid: options.signingJwk.kid }) })
    .setIssuer(options.clientId)
    .setSubject(options.clientId)
    .setAudience(options.issuer)
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime(`${CLIENT_ASSERTION_LIFETIME_SECONDS}s`)
    .sign(signingKey);
  const agent = new Agent({ connect: { ca: options.caPem } });
  try {
    const response = await fetch(options.tokenEndpoint, {
      method: 'POST',
      dispatcher: agent,
      signal: AbortSignal.timeout(TOKEN_REQUEST_TIMEOUT_MS),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        dpop: options.dpop.proof('POST', options.tokenEndpoint),
      },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        scope: options.scope,
        client_assertion_type: CLIENT_ASSERTION_TYPE,
        client_assertion: assertion,
      }).toString(),
    });
    const body = (await response.json()) as Record<string, unknown>;
    if (response.status !== 200 || typeof body.access_token !== 'string' || String(body.token_type).toLowerCase() !== 'dpop') {
      throw new Error(`token request for ${options.clientId} refused: ${response.status} ${JSON.stringify(body)}`);
    }
    return { accessToken: body.access_token, expiresInSeconds: Number(body.expires_in) };
  } finally {
    await agent.close();
  }
}
