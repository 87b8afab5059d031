/**
 * JWT signature verification with node:crypto on the request path. jose 6 verifies through WebCrypto: every
 * verification is an asynchronous job with its own key checks and a thread-pool hop, and the two verifications per
 * request (access token, DPoP proof) were 11–12 % of the gateway's CPU under load (bench/README.md, e2e profile).
 * `crypto.verify` with a cached `KeyObject` does the same mathematics synchronously.
 *
 * Only where the signature is verified changes. Everything jose checks around it is kept, in jose's order and with
 * jose's own error classes and messages, so callers map errors exactly as before: compact form, protected header a
 * JSON object, `crit` (only `b64` is understood; anything else is refused), `alg` present and allowed before any
 * key is looked up, the key resolver called with the protected header (our remote JWKS: kid lookup, cooldown
 * refetch), the key suited to the algorithm, then the claims — validated by jose itself (see `validateClaims`).
 * test/unit/jws-verify.test.ts compares every outcome with jose's `jwtVerify`.
 */
import { createPublicKey, constants as cryptoConstants, type JsonWebKey, KeyObject, verify } from 'node:crypto';

import { errors as joseErrors, type CompactJWSHeaderParameters, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions, UnsecuredJWT } from 'jose';

/** The algorithms this module can verify (the FAPI 2.0 allow-list; callers narrow it further with `algorithms`). */
export const JWS_VERIFY_ALGORITHMS = ['PS256', 'ES256', 'EdDSA'] as const;
type VerifiableAlgorithm = (typeof JWS_VERIFY_ALGORITHMS)[number];

/** Distinct embedded (DPoP) public keys kept imported; the oldest is dropped beyond this many keys. */
export const EMBEDDED_KEY_CACHE_ENTRIES_MAX = 1024;
/** RSA keys below this many modulus bits are refused (jose's and RFC 7518 §3.5's minimum). */
const RSA_MODULUS_BITS_MIN = 2048;
/** PS256: RSASSA-PSS with SHA-256, salt as long as the hash (RFC 7518 §3.5). */
const PS256_SALT_LENGTH_BYTES = 32;

/** What a key resolver may return (jose's remote JWKS returns CryptoKeys); a secret (Uint8Array) is refused. */
export type VerificationKey = Awaited<ReturnType<JWTVerifyGetKey>>;

export interface JwtVerifyResult {
  readonly payload: JWTPayload;
  readonly protectedHeader: CompactJWSHeaderParameters;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Object.prototype.toString.call(value) !== '[object Object]') return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === null || Object.getPrototypeOf(prototype) === null;
}

function parseProtectedHeader(encoded: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(Buffer.from(encoded, 'base64url')));
  } catch (cause) {
    throw new joseErrors.JWSInvalid('JWS Protected Header is invalid', { cause });
  }
  if (!isPlainObject(parsed)) throw new joseErrors.JWSInvalid('JWS Protected Header is invalid');
  return parsed;
}

/** jose's `crit` rules for a compact JWS (no unprotected header): only `b64` is a recognised extension. */
function critExtensions(header: Record<string, unknown>): readonly string[] {
  const crit = header.crit;
  if (crit === undefined) return [];
  if (!Array.isArray(crit) || crit.length === 0 || crit.some((input) => typeof input !== 'string' || input.length === 0)) {
    throw new joseErrors.JWSInvalid('"crit" (Critical) Header Parameter MUST be an array of non-empty strings when present');
  }
  for (const parameter of crit as string[]) {
    if (parameter !== 'b64') throw new joseErrors.JOSENotSupported(`Extension Header Parameter "${parameter}" is not recognized`);
    if (!Object.hasOwn(header, parameter) || header[parameter] === undefined) {
      throw new joseErrors.JWSInvalid(`Extension Header Parameter "${parameter}" is missing`);
    }
  }
  return crit as string[];
}

function isVerifiable(alg: string): alg is VerifiableAlgorithm {
  return (JWS_VERIFY_ALGORITHMS as readonly string[]).includes(alg);
}

/** KeyObjects made from the resolver's CryptoKeys (jose's JWKS caches one CryptoKey per JWK and alg). */
const fromCryptoKey = new WeakMap<object, KeyObject>();

function toKeyObject(key: VerificationKey): KeyObject {
  if (key instanceof KeyObject) return key;
  if (key instanceof CryptoKey) {
    let object = fromCryptoKey.get(key);
    if (object === undefined) {
      object = KeyObject.from(key);
      fromCryptoKey.set(key, object);
    }
    return object;
  }
  if (isPlainObject(key)) return createPublicKey({ key: key as JsonWebKey, format: 'jwk' });
  throw new joseErrors.JWSInvalid('the verification key must be a public key');
}

/** jose refuses a key that does not suit the algorithm before verifying; so do we (never RSA for ES256, etc.). */
function assertKeySuits(alg: VerifiableAlgorithm, key: KeyObject): void {
  if (key.type !== 'public') throw new joseErrors.JWSInvalid('the verification key must be a public key');
  const details = key.asymmetricKeyDetails;
  switch (alg) {
    case 'ES256':
      if (key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1') return;
      break;
    case 'PS256':
      if (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') {
        if ((details?.modulusLength ?? 0) < RSA_MODULUS_BITS_MIN) {
          throw new joseErrors.JWSInvalid(`${alg} requires key modulusLength to be ${RSA_MODULUS_BITS_MIN} bits or larger`);
        }
        return;
      }
      break;
    case 'EdDSA':
      if (key.asymmetricKeyType === 'ed25519') return;
      break;
  }
  throw new joseErrors.JWSInvalid(`the key (${String(key.asymmetricKeyType)}) does not suit alg ${alg}`);
}

/** Verifies `signature` over `signingInput` with node:crypto; true when it verifies. */
export function verifySignature(alg: VerifiableAlgorithm, key: KeyObject, signingInput: Buffer, signature: Buffer): boolean {
  assertKeySuits(alg, key);
  switch (alg) {
    case 'ES256':
      // JWS carries r‖s (RFC 7518 §3.4), not DER.
      return verify('sha256', signingInput, { key, dsaEncoding: 'ieee-p1363' }, signature);
    case 'PS256':
      return verify('sha256', signingInput, { key, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: PS256_SALT_LENGTH_BYTES }, signature);
    case 'EdDSA':
      return verify(null, signingInput, key, signature);
  }
}

const embeddedKeys = new Map<string, KeyObject>();

/**
 * The public key of a `jwk` header (RFC 9449's DPoP proofs), with jose's EmbeddedJWK rules: a JSON object, `use`
 * "sig" and `alg` equal to the header's when present, a key type the algorithm accepts, never a private key.
 * Imported keys are cached by their JSON (a client signs every proof with the same key).
 */
export function embeddedJwkKey(header: CompactJWSHeaderParameters): KeyObject {
  const jwk: unknown = header.jwk;
  if (!isPlainObject(jwk)) throw new joseErrors.JWSInvalid('"jwk" (JSON Web Key) Header Parameter must be a JSON object');
  const alg = String(header.alg);
  if (jwk.use !== undefined && jwk.use !== 'sig') throw new joseErrors.JWSInvalid('Invalid Embedded JWK, its "use" must be "sig" when present');
  if (jwk.alg !== undefined && jwk.alg !== alg) throw new joseErrors.JWSInvalid(`Invalid Embedded JWK, its "alg" must be "${alg}" when present`);
  const keyOps = jwk.key_ops;
  if (keyOps !== undefined && (!Array.isArray(keyOps) || !keyOps.includes('verify'))) {
    throw new joseErrors.JWSInvalid('Invalid Embedded JWK, its "key_ops" must allow "verify" when present');
  }
  const expectedKty = alg === 'ES256' ? 'EC' : alg === 'PS256' ? 'RSA' : alg === 'EdDSA' ? 'OKP' : undefined;
  if (jwk.kty !== expectedKty) throw new joseErrors.JOSENotSupported('Invalid or unsupported JWK "alg" (Algorithm) Parameter value');
  if ('d' in jwk || 'p' in jwk || 'q' in jwk || 'k' in jwk || 'priv' in jwk) {
    throw new joseErrors.JWSInvalid('"jwk" (JSON Web Key) Header Parameter must be a public key');
  }
  const cacheKey = JSON.stringify(jwk);
  let key = embeddedKeys.get(cacheKey);
  if (key === undefined) {
    try {
      key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    } catch (cause) {
      throw new joseErrors.JWSInvalid('Invalid Embedded JWK', { cause });
    }
    if (embeddedKeys.size >= EMBEDDED_KEY_CACHE_ENTRIES_MAX) {
      const oldest = embeddedKeys.keys().next();
      if (oldest.done !== true) embeddedKeys.delete(oldest.value);
    }
    embeddedKeys.set(cacheKey, key);
  }
  return key;
}

/**
 * jose's `jwtVerify`, with the signature verified by node:crypto. Throws jose's error classes with jose's messages.
 * The claims are validated by jose's own claim-set validation, reached through `UnsecuredJWT.decode` on the verified
 * payload: the same code, options and errors as `jwtVerify`, so none of its rules is re-implemented here.
 */
export async function verifyJwt(token: string, key: JWTVerifyGetKey | VerificationKey, options: JWTVerifyOptions): Promise<JwtVerifyResult> {
  const parts = token.split('.');
  if (parts.length !== 3) throw new joseErrors.JWSInvalid('Invalid Compact JWS');
  const [encodedHeader, encodedPayload, encodedSignature] = parts as [string, string, string];
  const header = parseProtectedHeader(encodedHeader);
  const b64 = critExtensions(header).includes('b64') ? header.b64 : true;
  if (typeof b64 !== 'boolean') throw new joseErrors.JWSInvalid('The "b64" (base64url-encode payload) Header Parameter must be a boolean');
  const alg = header.alg;
  if (typeof alg !== 'string' || alg === '') throw new joseErrors.JWSInvalid('JWS "alg" (Algorithm) Header Parameter missing or invalid');
  if (options.algorithms !== undefined && !options.algorithms.includes(alg)) {
    throw new joseErrors.JOSEAlgNotAllowed('"alg" (Algorithm) Header Parameter value not allowed');
  }
  if (!isVerifiable(alg)) throw new joseErrors.JOSENotSupported(`alg ${alg} is not supported either by JOSE or your javascript runtime`);

  const protectedHeader = header as CompactJWSHeaderParameters;
  const resolved =
    typeof key === 'function'
      ? await key(protectedHeader, { protected: encodedHeader, payload: encodedPayload, signature: encodedSignature })
      : key;
  const keyObject = toKeyObject(resolved);
  // The signing input is the ASCII of the first two segments whatever b64 says (a compact payload is sent as is).
  const signingInput = Buffer.from(`${encodedHeader}.${encodedPayload}`, 'latin1');
  let verified: boolean;
  try {
    verified = verifySignature(alg, keyObject, signingInput, Buffer.from(encodedSignature, 'base64url'));
  } catch (cause) {
    if (cause instanceof joseErrors.JOSEError) throw cause;
    throw new joseErrors.JWSSignatureVerificationFailed(undefined, { cause });
  }
  if (!verified) throw new joseErrors.JWSSignatureVerificationFailed();
  if (!b64) throw new joseErrors.JWTInvalid('JWTs MUST NOT use unencoded payload');
  return { payload: validateClaims(protectedHeader, encodedPayload, options), protectedHeader };
}

/** jose's claim-set validation of an already verified payload (`typ` is the only header member it reads). */
function validateClaims(protectedHeader: CompactJWSHeaderParameters, encodedPayload: string, options: JWTVerifyOptions): JWTPayload {
  const unsecuredHeader: Record<string, unknown> = { alg: 'none' };
  if (protectedHeader.typ !== undefined) unsecuredHeader.typ = protectedHeader.typ;
  const unsecured = `${Buffer.from(JSON.stringify(unsecuredHeader)).toString('base64url')}.${encodedPayload}.`;
  return UnsecuredJWT.decode(unsecured, options).payload;
}
