/**
 * RFC 7638 JWK thumbprints (SHA-256, base64url) computed synchronously with node:crypto. jose's
 * calculateJwkThumbprint runs the hash as an asynchronous WebCrypto job, and the DPoP check computes one per
 * request: under load those jobs cost about 3 % of the gateway's CPU (bench/README.md, e2e profile) for a ~100-byte
 * hash. The result is identical (a unit test compares both for every key type we accept).
 */
import { createHash } from 'node:crypto';

export class JwkThumbprintError extends Error {
  override readonly name = 'JwkThumbprintError';
}

/**
 * The required members of the key type, in lexicographic order (RFC 7638 §3.2), serialised without whitespace.
 * Only public key types: EC, OKP, RSA (never a symmetric `oct` key).
 */
export function jwkThumbprint(jwk: Readonly<Record<string, unknown>>): string {
  const text = (name: string): string => {
    const value = jwk[name];
    if (typeof value !== 'string' || value === '') throw new JwkThumbprintError(`jwk member "${name}" must be a non-empty string`);
    return value;
  };
  let required: Record<string, string>;
  switch (jwk.kty) {
    case 'EC':
      required = { crv: text('crv'), kty: 'EC', x: text('x'), y: text('y') };
      break;
    case 'OKP':
      required = { crv: text('crv'), kty: 'OKP', x: text('x') };
      break;
    case 'RSA':
      required = { e: text('e'), kty: 'RSA', n: text('n') };
      break;
    default:
      throw new JwkThumbprintError(`jwk kty must be EC, OKP or RSA (got ${JSON.stringify(jwk.kty)})`);
  }
  // Insertion order above is the lexicographic order RFC 7638 asks for; JSON.stringify keeps it.
  return createHash('sha256').update(JSON.stringify(required)).digest('base64url');
}
