/**
 * How the resource server says no, exactly as RFC 6750 §3 and RFC 9449 §7 prescribe: an HTTP status, an OAuth error
 * code, a human description, and the challenge scheme(s) to put in `WWW-Authenticate`.
 *
 * Every refusal in `src/security/` is one of these, created through `refuse()`, so the catalogue below is the
 * complete list of what a client can be told — `docs/errors.md` is generated from it.
 */

/** The OAuth error codes the gateway uses (RFC 6750 §3.1, RFC 9449 §7.1 and §8) plus two transport-level ones. */
export const OAUTH_ERRORS = {
  invalid_request: {
    status: 400,
    rfc: 'RFC 6750 §3.1',
    when: 'Credentials in the wrong place or shape: a token in the URI, two Authorization headers, a scheme without a token, a certificate header from anyone but the configured proxy.',
  },
  invalid_token: {
    status: 401,
    rfc: 'RFC 6750 §3.1, RFC 9068 §4, RFC 8705 §3',
    when: 'The access token is not one we accept: not a JWT, typ not at+jwt, alg outside PS256/ES256/EdDSA, bad signature, wrong iss/aud, expired/not yet valid/issued in the future, a required claim missing, no cnf, bound to another certificate or DPoP key, a DPoP-bound token sent as Bearer, an unknown client, or the connection belongs to another partner.',
  },
  insufficient_scope: {
    status: 403,
    rfc: 'RFC 6750 §3.1',
    when: 'The token lacks the scope the resource needs; the challenge names it (scope="payments:write").',
  },
  invalid_dpop_proof: {
    status: 401,
    rfc: 'RFC 9449 §4.3, §7.1',
    when: 'The DPoP proof is missing, duplicated or fails a check of RFC 9449 §4.3: typ, alg, public jwk, signature, htm, htu (from our configured origin, never the Host header), ath, iat window, jti present and never seen before.',
  },
  use_dpop_nonce: {
    status: 401,
    rfc: 'RFC 9449 §9',
    when: 'Server nonces are on and the proof has none or a stale one; the DPoP-Nonce header carries the one to use.',
  },
  /** Not an OAuth code: the replay store or the key set could not be reached, so we fail closed. */
  temporarily_unavailable: {
    status: 503,
    rfc: 'RFC 6749 §4.1.2.1 (borrowed)',
    when: 'We cannot check the request right now (Redis for DPoP replay, or the authorization server’s keys, unreachable): we refuse rather than guess. Retry-After says when to try again.',
  },
} as const;
export type OAuthErrorCode = keyof typeof OAUTH_ERRORS;

/** Which challenge(s) the response carries: the scheme the client used, or both when it used none. */
export type ChallengeScheme = 'DPoP' | 'Bearer' | 'both';

export interface AuthFailure {
  readonly kind: 'auth-failure';
  readonly status: number;
  /** Absent when the request carried no credentials at all (RFC 6750 §3.1: then no error code is sent). */
  readonly error?: OAuthErrorCode;
  readonly description: string;
  readonly scheme: ChallengeScheme;
  /** A fresh server nonce to hand out with this answer (`DPoP-Nonce`). */
  readonly dpopNonce?: string;
  /** Seconds, for 503 answers. */
  readonly retryAfterSeconds?: number;
  /** For insufficient_scope: the scope the resource requires. */
  readonly requiredScope?: string;
}

export function refuse(
  error: OAuthErrorCode,
  description: string,
  scheme: ChallengeScheme,
  extra: { dpopNonce?: string; retryAfterSeconds?: number; requiredScope?: string } = {},
): AuthFailure {
  return { kind: 'auth-failure', status: OAUTH_ERRORS[error].status, error, description, scheme, ...extra };
}

/** The answer to a request without any credentials: 401 and both challenges, no error code (RFC 6750 §3.1). */
export function challengeOnly(description: string): AuthFailure {
  return { kind: 'auth-failure', status: 401, description, scheme: 'both' };
}

export function isAuthFailure(value: unknown): value is AuthFailure {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'auth-failure';
}

/**
 * `WWW-Authenticate` values for a failure. `algs` advertises the DPoP algorithms we accept (RFC 9449 §7.1). The
 * description is reduced to the characters RFC 6750 §3 allows in `error_description` (%x20-21 / %x23-5B / %x5D-7E).
 */
export function wwwAuthenticate(failure: AuthFailure, dpopAlgorithms: readonly string[]): string[] {
  const params = (scheme: 'DPoP' | 'Bearer'): string => {
    const parts: string[] = [];
    if (failure.error !== undefined && failure.error !== 'temporarily_unavailable') {
      parts.push(`error="${failure.error}"`, `error_description="${safeDescription(failure.description)}"`);
    }
    // RFC 6750 §3: tell the client which scope the resource needs.
    if (failure.requiredScope !== undefined) parts.push(`scope="${failure.requiredScope}"`);
    if (scheme === 'DPoP') parts.push(`algs="${dpopAlgorithms.join(' ')}"`);
    return parts.length === 0 ? scheme : `${scheme} ${parts.join(', ')}`;
  };
  switch (failure.scheme) {
    case 'DPoP':
      return [params('DPoP')];
    case 'Bearer':
      return [params('Bearer')];
    case 'both':
      return [params('DPoP'), params('Bearer')];
  }
}

function safeDescription(text: string): string {
  return text.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, "'");
}
