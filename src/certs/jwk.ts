/**
 * Signing keys as JWKs: generated with WebCrypto, exported through node:crypto (which gives plain RFC 7517 members,
 * without WebCrypto's `ext` and `key_ops`), named by their RFC 7638 thumbprint.
 */
import { createPrivateKey, KeyObject, type JsonWebKey, type webcrypto } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';

import type { FapiSigningAlgorithm } from '../partners/registry.ts';

/** RSA keys below this size are refused by FAPI 2.0 (and by us when we read one back). */
export const RSA_MODULUS_BITS = 2048;

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** The key shape behind each algorithm we issue keys for. */
const KEY_SHAPES: Record<FapiSigningAlgorithm, { generate: webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams | webcrypto.Algorithm; check: (key: KeyObject) => boolean }> = {
  ES256: {
    generate: { name: 'ECDSA', namedCurve: 'P-256' } satisfies webcrypto.EcKeyGenParams,
    check: (key) => key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1',
  },
  PS256: {
    generate: { name: 'RSA-PSS', modulusLength: RSA_MODULUS_BITS, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' } satisfies webcrypto.RsaHashedKeyGenParams,
    check: (key) => key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= RSA_MODULUS_BITS,
  },
  EdDSA: {
    generate: { name: 'Ed25519' },
    check: (key) => key.asymmetricKeyType === 'ed25519',
  },
};

/** A private signing JWK: key material plus `kid` (RFC 7638 thumbprint), `alg` and `use: "sig"`. */
export type PrivateSigningJwk = JWK & { kid: string; alg: FapiSigningAlgorithm; use: 'sig'; d: string };

export async function generateSigningJwk(alg: FapiSigningAlgorithm): Promise<PrivateSigningJwk> {
  const pair = (await crypto.subtle.generateKey(KEY_SHAPES[alg].generate, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  // RSA-PSS keys export from node:crypto as `kty: RSA` with the usual members, as JOSE expects.
  const material = KeyObject.from(pair.privateKey).export({ format: 'jwk' }) as JWK;
  const kid = await calculateJwkThumbprint(material, 'sha256');
  return { kid, alg, use: 'sig', ...material } as PrivateSigningJwk;
}

/** The public half: every private member removed, `kid`, `alg` and `use` kept. */
export function publicJwk(jwk: JWK): JWK {
  const copy: Record<string, unknown> = { ...jwk };
  for (const member of PRIVATE_MEMBERS) delete copy[member];
  return copy as JWK;
}

/**
 * Whether `value` is a usable private signing key for `alg`: it parses, has the right key type and size, `use` is
 * "sig" and `kid` is its thumbprint (so a hand-edited key cannot keep a stale kid).
 */
export async function isGoodSigningJwk(value: unknown, alg: FapiSigningAlgorithm): Promise<boolean> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const jwk = value as Record<string, unknown>;
  if (jwk.alg !== alg || jwk.use !== 'sig' || typeof jwk.kid !== 'string' || typeof jwk.d !== 'string') return false;
  try {
    const key = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
    if (!KEY_SHAPES[alg].check(key)) return false;
    return jwk.kid === (await calculateJwkThumbprint(jwk as JWK, 'sha256'));
  } catch {
    return false;
  }
}
