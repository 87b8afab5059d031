/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com/): every delivery carries `webhook-id`,
 * `webhook-timestamp` and `webhook-signature`, and the signature covers `${id}.${timestamp}.${body}` so neither the
 * body nor the id nor the time can be changed or replayed later without detection.
 *
 * Two schemes, both always sent: `v1` (HMAC-SHA256 with a shared `whsec_` secret — what the published libraries
 * verify) and `v1a` (Ed25519; the partner holds only the `whpk_` public key, so a leak on their side cannot forge
 * our deliveries). During a key rotation the old and the new keys both sign, so a receiver that still knows only
 * the old secret keeps verifying until it switches.
 *
 * node:crypto only: no third-party code touches the keys.
 */
import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, randomBytes, sign, verify } from 'node:crypto';

import { WEBHOOK_LIMITS } from './limits.ts';

export interface SigningKey {
  readonly scheme: 'v1' | 'v1a';
  /** v1: the HMAC secret; v1a: the Ed25519 private key as PKCS#8 DER. */
  readonly secret: Uint8Array;
  /** v1a only: the raw 32-byte Ed25519 public key. */
  readonly publicKey?: Uint8Array;
}

/** Standard Webhooks' prefixes for a symmetric secret and an Ed25519 public key. */
export const SECRET_PREFIX = 'whsec_';
export const PUBLIC_KEY_PREFIX = 'whpk_';
/** Of a fresh HMAC secret: 256 bits, the size of the SHA-256 block's useful key strength (the spec allows 24–64). */
export const HMAC_SECRET_BYTES = 32;
/** Of a raw Ed25519 public key (RFC 8032). */
export const ED25519_PUBLIC_KEY_BYTES = 32;

/** A fresh pair for an endpoint: a random HMAC secret (v1) and an Ed25519 key pair (v1a). */
export function generateSigningKeys(): { v1: SigningKey; v1a: SigningKey } {
  const pair = generateKeyPairSync('ed25519');
  const secret = new Uint8Array(pair.privateKey.export({ format: 'der', type: 'pkcs8' }));
  return {
    v1: { scheme: 'v1', secret: new Uint8Array(randomBytes(HMAC_SECRET_BYTES)) },
    v1a: { scheme: 'v1a', secret, publicKey: rawPublicKey(pair.publicKey) },
  };
}

/** `whsec_` + base64 of the secret — what the standardwebhooks library's `new Webhook(secret)` accepts. */
export function formatSecret(secret: Uint8Array): string {
  return SECRET_PREFIX + Buffer.from(secret).toString('base64');
}

/** `whpk_` + base64 of the raw Ed25519 public key. */
export function formatPublicKey(publicKey: Uint8Array): string {
  return PUBLIC_KEY_PREFIX + Buffer.from(publicKey).toString('base64');
}

/** `${id}.${timestamp}.${body}`; `timestamp` = whole seconds since the epoch. */
export function signedContent(id: string, timestampSeconds: number, body: string): string {
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
    throw new TypeError(`webhook timestamp must be whole seconds since the epoch, got ${timestampSeconds}`);
  }
  return `${id}.${timestampSeconds}.${body}`;
}

/** Space-separated `v1,<base64>` / `v1a,<base64>` signatures, one per key (old and new during a rotation overlap). */
export function signatureHeader(keys: readonly SigningKey[], id: string, timestampSeconds: number, body: string): string {
  // A delivery nobody can verify is a bug upstream (an endpoint always has current keys), not something to send.
  if (keys.length === 0) throw new TypeError('cannot sign a webhook without a signing key');
  const content = Buffer.from(signedContent(id, timestampSeconds, body), 'utf8');
  return keys.map((key) => `${key.scheme},${signatureOf(key, content)}`).join(' ');
}

/** The three Standard Webhooks headers plus content-type application/json. */
export function webhookHeaders(keys: readonly SigningKey[], id: string, timestampSeconds: number, body: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': signatureHeader(keys, id, timestampSeconds, body),
  };
}

/**
 * Verifies the `v1a` signatures of a delivery with a `whpk_` public key (the standardwebhooks JS library only does
 * v1): true if any v1a signature matches and the timestamp is within WEBHOOK_LIMITS.timestampToleranceSeconds of
 * `now`. Missing or malformed headers are simply false. For partners' docs and our tests.
 */
export function verifyAsymmetric(publicKey: string, headers: Record<string, string>, body: string, now: Date = new Date()): boolean {
  const key = publicKeyFromText(publicKey);
  const lower = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
  const id = lower['webhook-id'];
  const timestamp = lower['webhook-timestamp'];
  const signatures = lower['webhook-signature'];
  if (!id || !timestamp || !signatures || !/^\d{1,15}$/.test(timestamp)) return false;
  const seconds = Number(timestamp);
  if (Math.abs(Math.floor(now.getTime() / 1000) - seconds) > WEBHOOK_LIMITS.timestampToleranceSeconds) return false;
  const content = Buffer.from(signedContent(id, seconds, body), 'utf8');
  return signatures.split(' ').some((versioned) => {
    const [scheme, signature, ...rest] = versioned.split(',');
    if (scheme !== 'v1a' || signature === undefined || rest.length > 0) return false;
    const bytes = Buffer.from(signature, 'base64');
    return bytes.length === 64 && verify(null, content, key, bytes);
  });
}

function signatureOf(key: SigningKey, content: Buffer): string {
  switch (key.scheme) {
    case 'v1':
      return createHmac('sha256', key.secret).update(content).digest('base64');
    case 'v1a':
      return sign(null, content, privateKeyOf(key)).toString('base64');
  }
}

/**
 * Parsing a PKCS#8 key is the costly part of an Ed25519 signature; the relay signs a batch of deliveries with the
 * same key objects, so parse once per object. A WeakMap keeps no key alive after its batch.
 */
const privateKeys = new WeakMap<SigningKey, KeyObject>();

function privateKeyOf(key: SigningKey): KeyObject {
  let object = privateKeys.get(key);
  if (object === undefined) {
    object = createPrivateKey({ key: Buffer.from(key.secret), format: 'der', type: 'pkcs8' });
    if (object.asymmetricKeyType !== 'ed25519') throw new TypeError(`a v1a signing key must be Ed25519, not ${object.asymmetricKeyType}`);
    privateKeys.set(key, object);
  }
  return object;
}

function rawPublicKey(publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new TypeError('an Ed25519 public key exports its point as `x`');
  return new Uint8Array(Buffer.from(jwk.x, 'base64url'));
}

function publicKeyFromText(text: string): KeyObject {
  const raw = text.startsWith(PUBLIC_KEY_PREFIX) ? Buffer.from(text.slice(PUBLIC_KEY_PREFIX.length), 'base64') : undefined;
  if (raw === undefined || raw.length !== ED25519_PUBLIC_KEY_BYTES) {
    throw new TypeError(`expected a ${PUBLIC_KEY_PREFIX} public key of ${ED25519_PUBLIC_KEY_BYTES} bytes`);
  }
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
}
