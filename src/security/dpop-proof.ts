/**
 * DPoP proof verification at a resource server: every check of RFC 9449 §4.3, in the RFC's order, each with its
 * own message. Replay (check 11, the jti) and the binding to the token (check 12, cnf.jkt) need state and the
 * token, so `authenticate.ts` does them right after; everything here is a pure function of the proof, the request
 * and the clock.
 */
import { createHash } from 'node:crypto';

import { decodeProtectedHeader, errors as joseErrors } from 'jose';

import { FAPI_SIGNING_ALGORITHMS } from '../partners/registry.ts';
import { embeddedJwkKey, verifyJwt } from './jws-verify.ts';
import { jwkThumbprint } from './jwk-thumbprint.ts';
import type { SecurityLimits } from './limits.ts';

export interface DpopProofRequest {
  /** The single DPoP header value (check 1, "exactly one", is done by the caller from the raw headers). */
  readonly proof: string;
  /** HTTP method, upper case. */
  readonly method: string;
  /**
   * The request URI as the client must have seen it: the configured external origin + the path. Never built from
   * the Host header, which the client controls (RFC 9449 §4.3 check 9, §11.1).
   */
  readonly uri: URL;
  /** The access token the proof must be bound to (ath, check 10). */
  readonly accessToken: string;
  readonly now: Date;
}

export interface VerifiedDpopProof {
  readonly jkt: string;
  readonly jti: string;
  readonly iat: number;
  readonly nonce?: string;
}

export class DpopProofError extends Error {
  override readonly name = 'DpopProofError';
}

const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
/** A JWT in compact serialisation: three base64url parts (check 2, "well-formed JWT"). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export async function verifyDpopProof(
  request: DpopProofRequest,
  limits: Pick<SecurityLimits, 'dpopProofAgeMaxSeconds' | 'dpopProofFutureSkewSeconds' | 'dpopJtiLengthMax'>,
): Promise<VerifiedDpopProof> {
  const fail = (message: string): never => {
    throw new DpopProofError(message);
  };
  // 2. a well-formed JWT
  if (!COMPACT_JWS.test(request.proof)) fail('DPoP proof is not a compact JWS');
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(request.proof);
  } catch {
    return fail('DPoP proof header is not valid JSON');
  }
  // 4. typ is dpop+jwt (checked before the signature so the message says what is wrong)
  if (header.typ !== 'dpop+jwt') fail('DPoP proof typ must be "dpop+jwt"');
  // 5. alg is an asymmetric algorithm we support (never none, never a MAC)
  if (typeof header.alg !== 'string' || !(FAPI_SIGNING_ALGORITHMS as readonly string[]).includes(header.alg)) {
    fail(`DPoP proof alg must be one of ${FAPI_SIGNING_ALGORITHMS.join(', ')}`);
  }
  // 7. the jwk header is a public key (a private member means a leaked key: refuse, never use it)
  const jwk = header.jwk;
  if (typeof jwk !== 'object' || jwk === null) return fail('DPoP proof header has no jwk');
  if (PRIVATE_JWK_MEMBERS.some((member) => member in jwk)) fail('DPoP proof jwk must not contain a private key');

  // 6. the signature verifies with the embedded key; 3. the required claims are present
  let payload: Record<string, unknown>;
  try {
    // jose's checks and EmbeddedJWK rules, the signature by node:crypto (jws-verify.ts says why).
    ({ payload } = await verifyJwt(request.proof, embeddedJwkKey, {
      typ: 'dpop+jwt',
      algorithms: [...FAPI_SIGNING_ALGORITHMS],
      // iat is judged below with our own window; jose must not apply its own exp/nbf leniency.
      currentDate: request.now,
    }));
  } catch (error) {
    const reason =
      error instanceof joseErrors.JWSSignatureVerificationFailed
        ? 'signature does not verify with the embedded jwk'
        : error instanceof Error
          ? error.message
          : 'invalid';
    throw new DpopProofError(`DPoP proof ${reason}`, { cause: error });
  }
  const { jti, htm, htu, iat, ath, nonce } = payload;
  for (const [name, value] of Object.entries({ jti, htm, htu, iat, ath })) {
    if (value === undefined) fail(`DPoP proof is missing the ${name} claim`);
  }
  if (typeof jti !== 'string' || jti.length === 0) fail('DPoP proof jti must be a non-empty string');
  if ((jti as string).length > limits.dpopJtiLengthMax) fail(`DPoP proof jti is longer than ${limits.dpopJtiLengthMax}`);

  // 8. htm matches the request method
  if (htm !== request.method) fail(`DPoP proof htm "${String(htm)}" does not match the request method ${request.method}`);

  // 9. htu matches the request URI without query and fragment (RFC 9449 §4.3: syntax-based normalisation)
  if (typeof htu !== 'string') return fail('DPoP proof htu must be a string');
  const claimed = URL.parse(htu);
  if (claimed === null) return fail('DPoP proof htu is not a URI');
  claimed.search = '';
  claimed.hash = '';
  const expected = new URL(request.uri.href);
  expected.search = '';
  expected.hash = '';
  if (claimed.href !== expected.href) fail(`DPoP proof htu does not match ${expected.href}`);

  // 10. ath is the base64url SHA-256 of the access token
  const expectedAth = createHash('sha256').update(request.accessToken).digest('base64url');
  if (ath !== expectedAth) fail('DPoP proof ath does not match the access token');

  // 11 (time part). iat within the acceptable window
  if (typeof iat !== 'number' || !Number.isInteger(iat)) return fail('DPoP proof iat must be an integer');
  const nowSeconds = Math.floor(request.now.getTime() / 1000);
  if (iat > nowSeconds + limits.dpopProofFutureSkewSeconds) fail('DPoP proof iat is in the future');
  if (iat < nowSeconds - limits.dpopProofAgeMaxSeconds) fail('DPoP proof iat is too old');

  if (nonce !== undefined && typeof nonce !== 'string') fail('DPoP proof nonce must be a string');

  // The key verified the signature above, so its members are well formed.
  const jkt = jwkThumbprint(jwk as Record<string, unknown>);
  return { jkt, jti: jti as string, iat, ...(typeof nonce === 'string' ? { nonce } : {}) };
}
