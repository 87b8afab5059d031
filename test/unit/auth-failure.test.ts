import { describe, expect, it } from 'vitest';

import { challengeOnly, refuse, wwwAuthenticate } from '../../src/security/auth-failure.ts';

const ALGS = ['PS256', 'ES256', 'EdDSA'];

describe('WWW-Authenticate challenges', () => {
  it('carry no error code when the request had no credentials (RFC 6750 §3.1), and offer both schemes', () => {
    expect(wwwAuthenticate(challengeOnly('no token'), ALGS)).toEqual(['DPoP algs="PS256 ES256 EdDSA"', 'Bearer']);
  });

  it('name the error and its description in the scheme the client used', () => {
    expect(wwwAuthenticate(refuse('invalid_token', 'access token has expired', 'Bearer'), ALGS)).toEqual([
      'Bearer error="invalid_token", error_description="access token has expired"',
    ]);
    expect(wwwAuthenticate(refuse('invalid_dpop_proof', 'DPoP proof iat is too old', 'DPoP'), ALGS)).toEqual([
      'DPoP error="invalid_dpop_proof", error_description="DPoP proof iat is too old", algs="PS256 ES256 EdDSA"',
    ]);
  });

  it('name the scope an insufficient_scope refusal needs', () => {
    const [challenge] = wwwAuthenticate(refuse('insufficient_scope', 'needs payments:write', 'DPoP', { requiredScope: 'payments:write' }), ALGS);
    expect(challenge).toContain('error="insufficient_scope"');
    expect(challenge).toContain('scope="payments:write"');
  });

  it('keep descriptions inside the characters RFC 6750 allows (no quotes or backslashes to break the header)', () => {
    const [challenge] = wwwAuthenticate(refuse('invalid_token', 'claim "aud" \\ wrong é', 'Bearer'), ALGS);
    expect(challenge).toBe(`Bearer error="invalid_token", error_description="claim 'aud' ' wrong '"`);
  });
});
