/**
 * Our synchronous RFC 7638 thumbprint against jose's (an implementation we did not write) for every key type a DPoP
 * proof may carry, plus the RFC's own example and the refusals.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';

import { jwkThumbprint, JwkThumbprintError } from '../../src/security/jwk-thumbprint.ts';

describe('jwkThumbprint', () => {
  it('matches RFC 7638 §3.1 example', () => {
    const jwk = {
      kty: 'RSA',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      e: 'AQAB',
      alg: 'RS256',
      kid: '2011-04-29',
    };
    expect(jwkThumbprint(jwk)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  it.each([['ES256'], ['EdDSA'], ['PS256']])('agrees with jose for %s keys', async (alg) => {
    for (let i = 0; i < 5; i += 1) {
      const { publicKey } = await generateKeyPair(alg, { extractable: true });
      const jwk = await exportJWK(publicKey);
      expect(jwkThumbprint({ ...jwk, alg, use: 'sig' })).toBe(await calculateJwkThumbprint(jwk, 'sha256'));
    }
  });

  it('refuses symmetric keys, unknown types and missing members', () => {
    expect(() => jwkThumbprint({ kty: 'oct', k: 'c2VjcmV0' })).toThrow(JwkThumbprintError);
    expect(() => jwkThumbprint({ kty: 'EC', crv: 'P-256', x: 'abc' })).toThrow(/"y"/);
    expect(() => jwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: 42 })).toThrow(/"x"/);
    expect(() => jwkThumbprint({})).toThrow(/kty/);
  });
});
