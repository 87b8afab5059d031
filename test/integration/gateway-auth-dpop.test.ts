/**
 * DPoP at the resource server (RFC 9449 §4.3 and §7): every check a proof must pass, the binding of proof key to
 * token, replay, server nonces (§9), and what happens when the replay store is down — against a real gateway and a
 * real authorization server over mutual TLS.
 *
 * Every refusal starts from `validDpopRequest` (bank-alpha, its own connection, a DPoP-bound token, a proof for
 * exactly this request) and changes one thing; the positive controls show the unspoilt request succeeds.
 *
 * Nothing refused here may be processed. The ledger does not exist yet, so `expectRefused` proves it through the
 * answer (an OAuth error in JSON, never a pacs.002); the lead adds a ledger assertion once postings exist.
 */
import { createSecretKey, randomBytes } from 'node:crypto';

import { exportJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  expectAccepted,
  expectRefused,
  INTAKE_PATH,
  type Matrix,
  type MatrixRequest,
  type ProofSpoil,
  type RequestSpoil,
  sendMatrix,
  sendRawTarget,
  spoofedHostAgent,
  startMatrix,
  validCertificateBoundRequest,
  validDpopRequest,
  withHeaders,
} from '../support/auth-matrix.ts';
import { newKey, type SigningKey, startTestGateway, type TestGateway, thumbprintOfJwk } from '../support/gateway.ts';

let matrix: Matrix;

beforeAll(async () => {
  matrix = await startMatrix();
});

afterAll(async () => {
  await matrix?.close();
});

const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const HOUR_SECONDS = 3600;

describe('positive controls', () => {
  it('accepts the unspoilt POST: a DPoP-bound token with a fresh ES256 proof for this method and URL', async () => {
    const { request } = await validDpopRequest(matrix);
    expectAccepted(await sendMatrix(request));
  });

  it('accepts a proof made with a PS256 key', async () => {
    const { request } = await validDpopRequest(matrix, { key: await newKey('PS256') });
    expectAccepted(await sendMatrix(request));
  });

  it('accepts a proof made with an EdDSA key', async () => {
    const { request } = await validDpopRequest(matrix, { key: await newKey('EdDSA') });
    expectAccepted(await sendMatrix(request));
  });

  it('accepts the unspoilt GET /partners/me with a proof whose htm is GET', async () => {
    const { request } = await validDpopRequest(matrix, { method: 'GET' });
    const answer = await sendMatrix(request);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ clientId: 'bank-alpha', binding: 'dpop' });
  });
});

describe('RFC 9449 §7.1/§7.2: the scheme and the DPoP header', () => {
  it('refuses a DPoP-bound token sent with the Bearer scheme (downgrade) with 401 invalid_token', async () => {
    const { request } = await validDpopRequest(matrix, { scheme: 'Bearer' });
    expectRefused(await sendMatrix(request), { status: 401, error: 'invalid_token', scheme: 'DPoP', because: 'must be sent with the DPoP scheme' });
  });

  it('refuses the DPoP scheme without a DPoP header with 401 invalid_dpop_proof', async () => {
    const { request } = await validDpopRequest(matrix, { proof: null });
    expectRefused(await sendMatrix(request), { status: 401, error: 'invalid_dpop_proof', scheme: 'DPoP', because: 'proof is required' });
  });

  it('refuses two DPoP headers, even both valid (RFC 9449 §4.3 check 1)', async () => {
    const { request, proof } = await validDpopRequest(matrix);
    const twice = withHeaders(request, { dpop: [proof!, proof!] });
    expectRefused(await sendMatrix(twice), { status: 401, error: 'invalid_dpop_proof', scheme: 'DPoP', because: 'more than one DPoP header' });
  });

  it('refuses a certificate-bound token sent with the DPoP scheme with 401 invalid_token', async () => {
    const { request } = await validCertificateBoundRequest(matrix, { scheme: 'DPoP' });
    expectRefused(await sendMatrix(request), { status: 401, error: 'invalid_token', scheme: 'DPoP', because: 'not DPoP-bound' });
  });
});

describe('RFC 9449 §4.3: the proof (401 invalid_dpop_proof)', () => {
  const cases: { name: string; because: string; spoil: () => (ProofSpoil & RequestSpoil) | Promise<ProofSpoil & RequestSpoil> }[] = [
    { name: 'refuses a proof that is not a JWT (check 2)', because: 'not a compact JWS', spoil: () => ({ proof: 'not-a-jwt' }) },
    { name: 'refuses a proof with typ "JWT" instead of "dpop+jwt" (check 4)', because: 'typ', spoil: () => ({ proofHeader: { typ: 'JWT' } }) },
    {
      name: 'refuses a proof with alg HS256, a MAC (check 5)',
      because: 'alg',
      spoil: () => ({ proofHeader: { alg: 'HS256' }, proofSignWith: secretKey() }),
    },
    {
      name: 'refuses a proof with alg RS256 from an RSA key the token is bound to (check 5)',
      because: 'alg',
      spoil: async () => ({ key: await newKey('RS256') }),
    },
    {
      name: 'refuses a proof whose jwk header carries the private key (check 7)',
      because: 'private key',
      spoil: async () => {
        const key = await newKey('ES256');
        return { key, proofHeader: { jwk: await exportJWK(key.privateKey) } };
      },
    },
    {
      name: 'refuses a proof whose signature does not verify with its own jwk (check 6)',
      because: 'signature does not verify',
      spoil: async () => ({ proofSignWith: await newKey('ES256') }),
    },
    { name: 'refuses a proof whose htm is GET for a POST (check 8)', because: 'htm', spoil: () => ({ proofClaims: { htm: 'GET' } }) },
    { name: 'refuses a proof whose htm is the right method in lower case (methods are case-sensitive)', because: 'htm', spoil: () => ({ proofClaims: { htm: 'post' } }) },
    { name: 'refuses a proof without htm (check 3)', because: 'htm', spoil: () => ({ proofClaims: { htm: undefined } }) },
    {
      name: 'refuses a proof whose htu names another path (check 9)',
      because: 'htu',
      spoil: () => ({ proofClaims: { htu: `${matrix.gateway.origin}/iso20022/pacs.009` } }),
    },
    {
      name: 'refuses a proof whose htu names another origin (check 9)',
      because: 'htu',
      spoil: () => ({ proofClaims: { htu: `https://gateway.example${INTAKE_PATH}` } }),
    },
    { name: 'refuses a proof without htu (check 3)', because: 'htu', spoil: () => ({ proofClaims: { htu: undefined } }) },
    { name: 'refuses a proof without ath (check 10)', because: 'ath', spoil: () => ({ proofClaims: { ath: undefined } }) },
    {
      name: 'refuses a proof whose ath is the hash of another access token (check 10)',
      because: 'ath',
      spoil: () => ({ proofClaims: { ath: randomBytes(32).toString('base64url') } }),
    },
    { name: 'refuses a proof issued an hour in the future (iat +1 h, check 11)', because: 'future', spoil: () => ({ proofClaims: { iat: nowSeconds() + HOUR_SECONDS } }) },
    { name: 'refuses a proof issued an hour ago (iat −1 h, check 11)', because: 'too old', spoil: () => ({ proofClaims: { iat: nowSeconds() - HOUR_SECONDS } }) },
    { name: 'refuses a proof without iat (check 3)', because: 'iat', spoil: () => ({ proofClaims: { iat: undefined } }) },
    { name: 'refuses a proof without jti (check 3)', because: 'jti', spoil: () => ({ proofClaims: { jti: undefined } }) },
    {
      name: 'refuses a proof whose jti is longer than the gateway stores',
      because: 'jti',
      spoil: () => ({ proofClaims: { jti: 'j'.repeat(matrix.gateway.config.limits.dpopJtiLengthMax + 1) } }),
    },
  ];

  for (const { name, because, spoil } of cases) {
    it(name, async () => {
      const { request } = await validDpopRequest(matrix, await spoil());
      expectRefused(await sendMatrix(request), { status: 401, error: 'invalid_dpop_proof', scheme: 'DPoP', because });
    });
  }

  it('refuses a replayed proof: the same request a second time, jti already seen (check 11, §11.1)', async () => {
    const { request } = await validDpopRequest(matrix);
    expectAccepted(await sendMatrix(request));
    expectRefused(await sendMatrix(request), { status: 401, error: 'invalid_dpop_proof', scheme: 'DPoP', because: 'jti replay' });
  });
});

describe('RFC 9449 §4.3 check 9: htu comes from configuration, not from the request', () => {
  it('refuses a proof whose htu follows a spoofed Host header (Host: evil.example)', async () => {
    const { request } = await validDpopRequest(matrix, {
      connection: spoofedHostAgent(matrix, 'bank-alpha'),
      headers: { host: 'evil.example' },
      proofClaims: { htu: `https://evil.example${INTAKE_PATH}` },
    });
    expectRefused(await sendMatrix(request), { status: 401, error: 'invalid_dpop_proof', scheme: 'DPoP', because: 'htu' });
  });

  it('accepts a proof with the configured htu even when the Host header is spoofed', async () => {
    const { request } = await validDpopRequest(matrix, { connection: spoofedHostAgent(matrix, 'bank-alpha'), headers: { host: 'evil.example' } });
    expectAccepted(await sendMatrix(request));
  });

  it('accepts the unspoilt request written by hand in origin-form (control for the absolute-form test)', async () => {
    const { request } = await validDpopRequest(matrix);
    expectAccepted(await sendRawTarget(matrix, 'bank-alpha', withTarget(request, INTAKE_PATH)));
  });

  it('refuses a proof whose htu follows an absolute-form request target (POST https://evil.example/… HTTP/1.1)', async () => {
    const elsewhere = `https://evil.example${INTAKE_PATH}`;
    const { request } = await validDpopRequest(matrix, { proofClaims: { htu: elsewhere } });
    const answer = await sendRawTarget(matrix, 'bank-alpha', withTarget(request, elsewhere));
    expectRefused(answer, { status: 401, error: 'invalid_dpop_proof', scheme: 'DPoP', because: 'htu' });
  });

  it('accepts an absolute-form target naming any host when the proof names our configured origin (RFC 9112 §3.2.2)', async () => {
    const { request } = await validDpopRequest(matrix);
    expectAccepted(await sendRawTarget(matrix, 'bank-alpha', withTarget(request, `https://evil.example${INTAKE_PATH}`)));
  });

  it('accepts a proof whose htu carries a query string, which the comparison ignores', async () => {
    const { request } = await validDpopRequest(matrix, { proofClaims: { htu: `${matrix.gateway.origin}${INTAKE_PATH}?trace=1` } });
    expectAccepted(await sendMatrix(request));
  });

  it('accepts a proof whose htu carries a fragment, which the comparison ignores', async () => {
    const { request } = await validDpopRequest(matrix, { proofClaims: { htu: `${matrix.gateway.origin}${INTAKE_PATH}#section` } });
    expectAccepted(await sendMatrix(request));
  });

  it('accepts a request URL with a query string when the proof’s htu has none', async () => {
    const { request } = await validDpopRequest(matrix, { query: '?trace=1' });
    expectAccepted(await sendMatrix(request));
  });

  it('accepts a proof whose htu spells the host in upper case (syntax-based normalisation)', async () => {
    const { request } = await validDpopRequest(matrix, {
      proofClaims: { htu: `${matrix.gateway.origin.replace('localhost', 'LOCALHOST')}${INTAKE_PATH}` },
    });
    expectAccepted(await sendMatrix(request));
  });
});

describe('RFC 9449 §4.3 check 12 / §7.1: the proof key is the key the token is bound to', () => {
  it('refuses a token bound to another key than the one that signed the proof with 401 invalid_token', async () => {
    const other = await newKey('ES256');
    const { request } = await validDpopRequest(matrix, { tokenClaims: { cnf: { jkt: await thumbprintOfJwk(other.publicJwk) } } });
    expectRefused(await sendMatrix(request), { status: 401, error: 'invalid_token', scheme: 'DPoP', because: 'not the key the access token is bound to' });
  });
});

describe('RFC 9449 §9: server-provided nonces (dpopNonce required)', () => {
  let nonceGateway: TestGateway;

  beforeAll(async () => {
    nonceGateway = matrix.track(await startTestGateway(matrix.as, { dpopNonce: { secret: randomBytes(32), required: true } }));
  });

  /** The same unspoilt request, addressed to the nonce-requiring gateway. */
  const nonceRequest = (spoil: ProofSpoil & { key?: SigningKey } = {}) => validDpopRequest({ ...matrix, gateway: nonceGateway }, spoil);

  it('answers a proof without a nonce with 401 use_dpop_nonce and a DPoP-Nonce header', async () => {
    const { request } = await nonceRequest();
    const answer = await sendMatrix(request);
    expectRefused(answer, { status: 401, error: 'use_dpop_nonce', scheme: 'DPoP', because: 'nonce is required' });
    expect(String(answer.headers['dpop-nonce'])).toMatch(/^[A-Za-z0-9_-]{20,}$/);
  });

  it('accepts the retry whose proof carries the nonce it was given', async () => {
    const key = await newKey('ES256');
    const first = await sendMatrix((await nonceRequest({ key })).request);
    const nonce = String(first.headers['dpop-nonce']);
    const { request } = await nonceRequest({ key, proofClaims: { nonce } });
    expectAccepted(await sendMatrix(request));
  });

  it('refuses a proof with a forged nonce with 401 use_dpop_nonce and hands out a real one', async () => {
    const { request } = await nonceRequest({ proofClaims: { nonce: randomBytes(24).toString('base64url') } });
    const answer = await sendMatrix(request);
    expectRefused(answer, { status: 401, error: 'use_dpop_nonce', scheme: 'DPoP', because: 'stale' });
    expect(String(answer.headers['dpop-nonce'])).toMatch(/^[A-Za-z0-9_-]{20,}$/);
  });
});

describe('RFC 9449 §11.1: the replay store is down (fail closed)', () => {
  let blindGateway: TestGateway;

  beforeAll(async () => {
    // Nothing listens on port 1: every jti claim fails, so no proof can be told apart from a replay.
    blindGateway = matrix.track(await startTestGateway(matrix.as, { redisUrl: 'redis://127.0.0.1:1' }));
  });

  it('answers an otherwise valid DPoP request with 503 and Retry-After, never 200', async () => {
    const attempts = 3;
    for (let attempt = 0; attempt < attempts; attempt += 1) {
      const { request } = await validDpopRequest({ ...matrix, gateway: blindGateway });
      const answer = await sendMatrix(request);
      expectRefused(answer, { status: 503, error: 'temporarily_unavailable', scheme: 'DPoP', because: 'replay' });
      expect(answer.headers['retry-after']).toBe('1');
    }
  });
});

/** The request as `sendRawTarget` writes it, with the request target spelled as given. */
function withTarget(request: MatrixRequest, target: string): Parameters<typeof sendRawTarget>[2] {
  const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, String(value)]));
  return { method: request.method, target, headers, ...(request.body === undefined ? {} : { body: request.body }) };
}

function secretKey(): SigningKey {
  return { privateKey: createSecretKey(randomBytes(32)), publicJwk: {}, alg: 'HS256' };
}
