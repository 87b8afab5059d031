/**
 * Access token verification: RFC 9068 JWT access tokens from our own authorization server, with every option
 * passed explicitly (STYLE habit 6) rather than left to library defaults: `typ` at+jwt, the FAPI algorithm
 * allow-list, exact issuer and audience, a small named clock skew, the claims RFC 9068 §2.2 requires, and `cnf`
 * because FAPI 2.0 tokens must be sender-constrained.
 */
import { decodeProtectedHeader, errors as joseErrors, type JWTVerifyGetKey } from 'jose';

import { FAPI_SIGNING_ALGORITHMS } from '../partners/registry.ts';
import { verifyJwt } from './jws-verify.ts';
import type { SecurityLimits } from './limits.ts';

export interface AccessTokenClaims {
  readonly clientId: string;
  readonly subject: string;
  readonly scopes: ReadonlySet<string>;
  readonly jti: string;
  readonly expiresAt: number;
  /** RFC 9449 §6.1 binding: thumbprint of the DPoP key. */
  readonly jkt?: string;
  /** RFC 8705 §3.1 binding: SHA-256 thumbprint of the client certificate. */
  readonly x5tS256?: string;
}

export interface AccessTokenVerifierOptions {
  readonly issuer: string;
  readonly audience: string;
  /** Resolves the AS signing key by kid (a cached remote JWKS in production). */
  readonly keys: JWTVerifyGetKey;
  readonly limits: Pick<SecurityLimits, 'accessTokenClockSkewSeconds' | 'accessTokenAgeMaxSeconds'>;
}

/** Why a token was refused. `unavailable` means we could not check it (key set unreachable): fail closed. */
export class AccessTokenError extends Error {
  override readonly name = 'AccessTokenError';
  readonly unavailable: boolean;
  constructor(message: string, options: { cause?: unknown; unavailable?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.unavailable = options.unavailable ?? false;
  }
}

const REQUIRED_CLAIMS = ['iss', 'exp', 'aud', 'sub', 'client_id', 'iat', 'jti'] as const;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export type AccessTokenVerifier = (token: string, now: Date) => Promise<AccessTokenClaims>;

export function createAccessTokenVerifier(options: AccessTokenVerifierOptions): AccessTokenVerifier {
  return async (token, now) => {
    if (!COMPACT_JWS.test(token)) throw new AccessTokenError('access token is not a JWT');
    let alg: unknown;
    let typ: unknown;
    try {
      ({ alg, typ } = decodeProtectedHeader(token));
    } catch (error) {
      throw new AccessTokenError('access token header is not valid JSON', { cause: error });
    }
    // Checked before key lookup so `none`, HS256 or RS256 never reach the key resolver (and say so plainly).
    if (typeof alg !== 'string' || !(FAPI_SIGNING_ALGORITHMS as readonly string[]).includes(alg)) {
      throw new AccessTokenError(`access token alg ${JSON.stringify(alg)} is not allowed`);
    }
    if (typeof typ !== 'string' || !/^(application\/)?at\+jwt$/i.test(typ)) {
      throw new AccessTokenError('access token typ must be "at+jwt" (RFC 9068)');
    }
    let payload: Record<string, unknown>;
    try {
      // jose's checks and claims, the signature by node:crypto (jws-verify.ts says why).
      ({ payload } = await verifyJwt(token, options.keys, {
        algorithms: [...FAPI_SIGNING_ALGORITHMS],
        typ: 'at+jwt',
        issuer: options.issuer,
        audience: options.audience,
        clockTolerance: options.limits.accessTokenClockSkewSeconds,
        maxTokenAge: options.limits.accessTokenAgeMaxSeconds,
        requiredClaims: [...REQUIRED_CLAIMS],
        currentDate: now,
      }));
    } catch (error) {
      throw describe(error);
    }
    const iat = payload.iat as number;
    if (iat > Math.floor(now.getTime() / 1000) + options.limits.accessTokenClockSkewSeconds) {
      throw new AccessTokenError('access token iat is in the future');
    }
    if (typeof payload.client_id !== 'string' || payload.client_id === '') {
      throw new AccessTokenError('access token client_id must be a non-empty string');
    }
    if (typeof payload.jti !== 'string' || typeof payload.sub !== 'string') {
      throw new AccessTokenError('access token jti and sub must be strings');
    }
    const scope = payload.scope;
    if (scope !== undefined && typeof scope !== 'string') throw new AccessTokenError('access token scope must be a string');
    const cnf = payload.cnf;
    if (typeof cnf !== 'object' || cnf === null) {
      throw new AccessTokenError('access token is not sender-constrained (no cnf claim)');
    }
    const { jkt, 'x5t#S256': x5t } = cnf as Record<string, unknown>;
    if (jkt !== undefined && (typeof jkt !== 'string' || jkt === '')) throw new AccessTokenError('cnf.jkt must be a string');
    if (x5t !== undefined && (typeof x5t !== 'string' || x5t === '')) throw new AccessTokenError('cnf.x5t#S256 must be a string');
    if (jkt === undefined && x5t === undefined) {
      throw new AccessTokenError('access token cnf has neither jkt nor x5t#S256');
    }
    return {
      clientId: payload.client_id,
      subject: payload.sub,
      scopes: new Set(typeof scope === 'string' ? scope.split(' ').filter(Boolean) : []),
      jti: payload.jti,
      expiresAt: payload.exp as number,
      ...(typeof jkt === 'string' ? { jkt } : {}),
      ...(typeof x5t === 'string' ? { x5tS256: x5t } : {}),
    };
  };
}

function describe(error: unknown): AccessTokenError {
  if (error instanceof joseErrors.JWTExpired) return new AccessTokenError('access token has expired', { cause: error });
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return new AccessTokenError(`access token claim ${error.claim} is invalid: ${error.reason}`, { cause: error });
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
    return new AccessTokenError('access token signature does not verify', { cause: error });
  }
  if (error instanceof joseErrors.JWKSNoMatchingKey || error instanceof joseErrors.JWKSMultipleMatchingKeys) {
    return new AccessTokenError('access token was not signed by a key of the authorization server', { cause: error });
  }
  if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid) {
    return new AccessTokenError('authorization server keys unavailable', { cause: error, unavailable: true });
  }
  if (error instanceof joseErrors.JOSEError) {
    return new AccessTokenError(`access token is invalid: ${error.message}`, { cause: error });
  }
  // A fetch failure (connection refused, TLS error) surfaces as a plain Error from the key resolver.
  return new AccessTokenError('authorization server keys unavailable', { cause: error, unavailable: true });
}
