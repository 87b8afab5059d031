/**
 * How credentials are presented (RFC 6750 §2 and §3.1) and which access tokens the gateway believes (RFC 9068 §4,
 * FAPI 2.0 §5.3), against a real gateway and a real authorization server over mutual TLS.
 *
 * Every refusal starts from `validDpopRequest` — bank-alpha, its own connection, a DPoP-bound token the AS's key
 * signed, a proof for exactly this request — and changes one thing. The positive control shows the unspoilt
 * request succeeds, so each refusal is the work of the one check it names.
 *
 * Nothing refused here may be processed. The ledger does not exist yet, so `expectRefused` proves it through the
 * answer (an OAuth error in JSON, never a pacs.002); the lead adds a ledger assertion once postings exist.
 */
import { randomBytes, randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  authorizationServerPublicKey,
  expectAccepted,
  expectRefused,
  type Matrix,
  sendMatrix,
  startMatrix,
  type TokenSpoil,
  UUID,
  validDpopRequest,
  withHeaders,
} from '../support/auth-matrix.ts';
import { newKey, send } from '../support/gateway.ts';

let matrix: Matrix;

beforeAll(async () => {
  matrix = await startMatrix();
});

afterAll(async () => {
  await matrix?.close();
});

const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const base64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

it('accepts the unspoilt request: a DPoP-bound token of the AS and a matching proof over the partner’s mTLS connection (positive control)', async () => {
  const { request } = await validDpopRequest(matrix);
  expectAccepted(await sendMatrix(request));
});

describe('RFC 6750 §2 and §3.1: presenting the access token', () => {
  it('accepts the authorization scheme in lower case (auth schemes are case-insensitive, RFC 9110 §11.1)', async () => {
    const { request } = await validDpopRequest(matrix, { scheme: 'dpop' });
    expectAccepted(await sendMatrix(request));
  });

  it('answers a request without Authorization with 401, a DPoP and a Bearer challenge, and no error code', async () => {
    const { request } = await validDpopRequest(matrix, { headers: { authorization: undefined } });
    expectRefused(await sendMatrix(request), { status: 401, scheme: 'both', because: 'no access token' });
  });

  it('refuses two Authorization headers with 400 invalid_request', async () => {
    const { request, token } = await validDpopRequest(matrix);
    const twice = withHeaders(request, { authorization: [`DPoP ${token}`, `DPoP ${token}`] });
    expectRefused(await sendMatrix(twice), { status: 400, error: 'invalid_request', scheme: 'both', because: 'more than one Authorization' });
  });

  it('refuses an access token in the query (?access_token=) with 400 invalid_request, even next to a valid Authorization header (RFC 6750 §2.3, FAPI 2.0 §5.3.3)', async () => {
    const valid = await validDpopRequest(matrix);
    const { request } = await validDpopRequest(matrix, { query: `?access_token=${valid.token}` });
    expectRefused(await sendMatrix(request), { status: 400, error: 'invalid_request', scheme: 'both', because: 'never in the URI' });
  });

  it('refuses an access token sent only in the query with 400 invalid_request, not a bare challenge', async () => {
    const valid = await validDpopRequest(matrix);
    const { request } = await validDpopRequest(matrix, { query: `?access_token=${valid.token}`, headers: { authorization: undefined } });
    expectRefused(await sendMatrix(request), { status: 400, error: 'invalid_request', scheme: 'both', because: 'never in the URI' });
  });

  it('refuses an Authorization header that names the DPoP scheme but carries no token with 400 invalid_request', async () => {
    const { request } = await validDpopRequest(matrix, { headers: { authorization: 'DPoP' } });
    expectRefused(await sendMatrix(request), { status: 400, error: 'invalid_request', scheme: 'DPoP', because: 'does not carry a token' });
  });

  it('refuses an Authorization header whose credentials are not token68 with 400 invalid_request', async () => {
    const { request } = await validDpopRequest(matrix, { headers: { authorization: 'DPoP not a token' } });
    expectRefused(await sendMatrix(request), { status: 400, error: 'invalid_request', scheme: 'DPoP', because: 'does not carry a token' });
  });

  it('answers the unsupported Basic scheme with 401, both challenges and no error code (an unsupported method is no credential)', async () => {
    const { request } = await validDpopRequest(matrix, {
      headers: { authorization: `Basic ${Buffer.from('bank-alpha:secret').toString('base64')}` },
    });
    expectRefused(await sendMatrix(request), { status: 401, scheme: 'both', because: 'unsupported authorization scheme' });
  });
});

describe('FAPI 2.0 §6.2.1: x-fapi-interaction-id', () => {
  it('echoes the x-fapi-interaction-id the client sent when it is a UUID', async () => {
    const interactionId = randomUUID();
    const { request } = await validDpopRequest(matrix, { headers: { 'x-fapi-interaction-id': interactionId } });
    const answer = await sendMatrix(request);
    expectAccepted(answer);
    expect(answer.headers['x-fapi-interaction-id']).toBe(interactionId);
  });

  it('generates an x-fapi-interaction-id when the client sent none', async () => {
    const { request } = await validDpopRequest(matrix);
    const answer = await sendMatrix(request);
    expectAccepted(answer);
    expect(String(answer.headers['x-fapi-interaction-id'])).toMatch(UUID);
  });

  it('replaces an x-fapi-interaction-id that is not a UUID with a generated one', async () => {
    const { request } = await validDpopRequest(matrix, { headers: { 'x-fapi-interaction-id': 'not-a-uuid<script>' } });
    const answer = await sendMatrix(request);
    expectAccepted(answer);
    expect(String(answer.headers['x-fapi-interaction-id'])).toMatch(UUID);
  });

  it('echoes the client’s x-fapi-interaction-id on a refusal too', async () => {
    const interactionId = randomUUID();
    const { request } = await validDpopRequest(matrix, { headers: { authorization: undefined, 'x-fapi-interaction-id': interactionId } });
    const answer = await sendMatrix(request);
    expectRefused(answer, { status: 401, scheme: 'both' });
    expect(answer.headers['x-fapi-interaction-id']).toBe(interactionId);
  });
});

describe('GET /health/live', () => {
  it('answers 200 without any access token', async () => {
    const answer = await send(matrix.agents['bank-alpha'], `${matrix.gateway.origin}/health/live`, { method: 'GET' });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ status: 'live' });
  });
});

describe('RFC 9068 §4: the access token itself (401 invalid_token)', () => {
  /** Each case spoils the token in one way; the proof is still made for the spoilt token (its ath matches). */
  const cases: { name: string; because: string; spoil: () => TokenSpoil | Promise<TokenSpoil> }[] = [
    {
      name: 'refuses an expired access token (exp in the past beyond the clock skew)',
      because: 'expired',
      spoil: () => ({ tokenClaims: { exp: nowSeconds() - 60 } }),
    },
    { name: 'refuses an access token whose nbf is in the future', because: 'nbf', spoil: () => ({ tokenClaims: { nbf: nowSeconds() + 300 } }) },
    { name: 'refuses an access token whose iat is in the future', because: 'iat', spoil: () => ({ tokenClaims: { iat: nowSeconds() + 300 } }) },
    {
      name: 'refuses an access token issued for another audience (aud)',
      because: 'aud',
      spoil: () => ({ tokenClaims: { aud: 'https://other-gateway.example' } }),
    },
    { name: 'refuses an access token from another issuer (iss)', because: 'iss', spoil: () => ({ tokenClaims: { iss: 'https://evil.example' } }) },
    {
      name: 'refuses an unsigned access token (alg none, built by hand)',
      because: 'not a JWT',
      spoil: () => ({ rewriteToken: (token) => `${base64url({ alg: 'none', typ: 'at+jwt' })}.${token.split('.')[1]}.` }),
    },
    {
      name: 'refuses an access token with alg none even when a signature part is attached',
      because: 'alg "none" is not allowed',
      spoil: () => ({
        rewriteToken: (token) => {
          const [, payload, signature] = token.split('.');
          return `${base64url({ alg: 'none', typ: 'at+jwt' })}.${payload}.${signature}`;
        },
      }),
    },
    {
      name: 'refuses an access token signed with HS256 (a MAC, not the AS’s key)',
      because: 'alg "HS256" is not allowed',
      spoil: () => ({ tokenHeader: { alg: 'HS256' }, signToken: (jwt) => jwt.sign(randomBytes(32)) }),
    },
    {
      name: 'refuses an access token signed with RS256 (not a FAPI 2.0 algorithm)',
      because: 'alg "RS256" is not allowed',
      spoil: async () => {
        const rsa = await newKey('RS256');
        return { tokenHeader: { alg: 'RS256' }, signToken: (jwt) => jwt.sign(rsa.privateKey) };
      },
    },
    {
      name: 'refuses a PS256 access token signed by an unknown key that names the AS’s PS256 kid',
      because: 'signature does not verify',
      spoil: async () => {
        const stranger = await newKey('PS256');
        const { kid } = authorizationServerPublicKey(matrix, 'PS256');
        return { tokenHeader: { alg: 'PS256', kid }, signToken: (jwt) => jwt.sign(stranger.privateKey) };
      },
    },
    {
      name: 'refuses an ES256 access token signed by an unknown key that names the AS’s ES256 kid',
      because: 'signature does not verify',
      spoil: async () => {
        const stranger = await newKey('ES256');
        return { signToken: (jwt) => jwt.sign(stranger.privateKey) };
      },
    },
    {
      name: 'refuses an access token whose payload was changed after signing',
      because: 'signature does not verify',
      spoil: () => ({
        rewriteToken: (token) => {
          const [header, payload, signature] = token.split('.');
          const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
          return `${header}.${base64url({ ...claims, scope: `${String(claims.scope)} admin` })}.${signature}`;
        },
      }),
    },
    { name: 'refuses an access token with typ "JWT" instead of "at+jwt"', because: 'typ', spoil: () => ({ tokenHeader: { typ: 'JWT' } }) },
    { name: 'refuses an access token without typ', because: 'typ', spoil: () => ({ tokenHeader: { typ: undefined } }) },
    { name: 'refuses an access token without client_id', because: 'client_id', spoil: () => ({ tokenClaims: { client_id: undefined } }) },
    { name: 'refuses an access token without jti', because: 'jti', spoil: () => ({ tokenClaims: { jti: undefined } }) },
    { name: 'refuses an access token without exp', because: 'exp', spoil: () => ({ tokenClaims: { exp: undefined } }) },
    { name: 'refuses an access token without sub', because: 'sub', spoil: () => ({ tokenClaims: { sub: undefined } }) },
    {
      name: 'refuses an access token without cnf (not sender-constrained, FAPI 2.0 §5.3.3)',
      because: 'no cnf',
      spoil: () => ({ tokenClaims: { cnf: undefined } }),
    },
    {
      name: 'refuses an access token issued to a client_id the gateway does not know',
      because: 'unknown client',
      spoil: () => ({ tokenClaims: { client_id: 'bank-omega' } }),
    },
    { name: 'refuses an access token that is not a JWT at all', because: 'not a JWT', spoil: () => ({ rewriteToken: () => 'not-a-jwt' }) },
    {
      name: 'refuses an access token whose signature was cut off',
      because: 'not a JWT',
      spoil: () => ({ rewriteToken: (token) => token.slice(0, token.lastIndexOf('.') + 1) }),
    },
  ];

  for (const { name, because, spoil } of cases) {
    it(name, async () => {
      const { request } = await validDpopRequest(matrix, await spoil());
      expectRefused(await sendMatrix(request), { status: 401, error: 'invalid_token', scheme: 'DPoP', because });
    });
  }
});
