/**
 * src/security/jws-verify.ts against jose's `jwtVerify` on the same tokens: for each algorithm we accept (ES256,
 * PS256, EdDSA), valid tokens must give the same payload, and every refusal (tampered payload or signature, the
 * wrong key, a key that does not suit the alg, alg not allowed, crit, b64, each claim rule, typ) the same error
 * class and message — the callers map jose's errors to their answers, so "the same" is what keeps the auth matrix
 * unchanged. Tokens are signed here with node:crypto directly, so any header can be made.
 */
import { constants, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';

import { createLocalJWKSet, EmbeddedJWK, exportJWK, type JWK, type JWTVerifyGetKey, type JWTVerifyOptions, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';

import { embeddedJwkKey, verifyJwt } from '../../src/security/jws-verify.ts';

type Alg = 'ES256' | 'PS256' | 'EdDSA';

interface Pair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

function keyPair(alg: Alg): Pair {
  if (alg === 'ES256') return generateKeyPairSync('ec', { namedCurve: 'P-256' });
  if (alg === 'PS256') return generateKeyPairSync('rsa', { modulusLength: 2048 });
  return generateKeyPairSync('ed25519');
}

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

function signRaw(alg: Alg, privateKey: KeyObject, header: Record<string, unknown>, payload: unknown): string {
  const input = `${b64(header)}.${b64(payload)}`;
  const signature =
    alg === 'ES256'
      ? sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' })
      : alg === 'PS256'
        ? sign('sha256', Buffer.from(input), { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
        : sign(null, Buffer.from(input), privateKey);
  return `${input}.${signature.toString('base64url')}`;
}

interface Outcome {
  readonly ok: boolean;
  readonly payload?: unknown;
  readonly error?: string;
  readonly message?: string;
  readonly claim?: unknown;
}

async function outcome(run: () => Promise<{ payload: unknown }>): Promise<Outcome> {
  try {
    return { ok: true, payload: (await run()).payload };
  } catch (error) {
    const e = error as Error & { claim?: unknown };
    return { ok: false, error: e.constructor.name, message: e.message, claim: e.claim };
  }
}

/** Both verifiers on the same token with the same resolver and options; returns jose's outcome after comparing. */
async function same(token: string, key: JWTVerifyGetKey, options: JWTVerifyOptions): Promise<Outcome> {
  const jose = await outcome(() => jwtVerify(token, key, options));
  const ours = await outcome(() => verifyJwt(token, key, options));
  expect(ours).toEqual(jose);
  return jose;
}

const NOW_SECONDS = 1_900_000_000;
const NOW = new Date(NOW_SECONDS * 1000);
const ISSUER = 'https://as.example';
const AUDIENCE = 'https://gateway.example';
const OPTIONS: JWTVerifyOptions = {
  algorithms: ['PS256', 'ES256', 'EdDSA'],
  typ: 'at+jwt',
  issuer: ISSUER,
  audience: AUDIENCE,
  clockTolerance: 30,
  maxTokenAge: 3600,
  requiredClaims: ['iss', 'exp', 'aud', 'sub', 'client_id', 'iat', 'jti'],
  currentDate: NOW,
};
const CLAIMS = { iss: ISSUER, aud: AUDIENCE, sub: 'bank-alpha', client_id: 'bank-alpha', iat: NOW_SECONDS - 10, exp: NOW_SECONDS + 290, jti: 'j-1', cnf: { jkt: 'x' } };

for (const alg of ['ES256', 'PS256', 'EdDSA'] as const) {
  describe(`${alg}: node:crypto verification matches jose`, async () => {
    const signer = keyPair(alg);
    const other = keyPair(alg);
    const jwk: JWK = { ...(await exportJWK(signer.publicKey)), kid: 'k1', alg, use: 'sig' };
    // The production path: a JWKS resolver handing out CryptoKeys (our remote set is jose's, over the same code).
    const keys = createLocalJWKSet({ keys: [jwk] });
    const header = { alg, typ: 'at+jwt', kid: 'k1' };
    const valid = signRaw(alg, signer.privateKey, header, CLAIMS);

    it('accepts a valid token with the same payload', async () => {
      const result = await same(valid, keys, OPTIONS);
      expect(result).toEqual({ ok: true, payload: CLAIMS });
    });

    it('accepts it with a KeyObject, a CryptoKey-resolving JWKS and a plain JWK alike', async () => {
      await expect(verifyJwt(valid, signer.publicKey, OPTIONS)).resolves.toMatchObject({ payload: CLAIMS });
      await expect(verifyJwt(valid, jwk, OPTIONS)).resolves.toMatchObject({ payload: CLAIMS });
    });

    it('refuses a tampered payload, a tampered signature and another key’s signature', async () => {
      const [h, , s] = valid.split('.');
      const tamperedPayload = `${h}.${b64({ ...CLAIMS, sub: 'bank-beta' })}.${s}`;
      expect(await same(tamperedPayload, keys, OPTIONS)).toMatchObject({ ok: false, error: 'JWSSignatureVerificationFailed' });
      const signature = Buffer.from(s!, 'base64url');
      signature[signature.length - 1]! ^= 1;
      const tamperedSignature = `${valid.split('.').slice(0, 2).join('.')}.${signature.toString('base64url')}`;
      expect(await same(tamperedSignature, keys, OPTIONS)).toMatchObject({ ok: false, error: 'JWSSignatureVerificationFailed' });
      const truncated = `${valid.split('.').slice(0, 2).join('.')}.${signature.subarray(0, 10).toString('base64url')}`;
      expect(await same(truncated, keys, OPTIONS)).toMatchObject({ ok: false, error: 'JWSSignatureVerificationFailed' });
      const forged = signRaw(alg, other.privateKey, header, CLAIMS);
      expect(await same(forged, keys, OPTIONS)).toMatchObject({ ok: false, error: 'JWSSignatureVerificationFailed' });
    });

    it('refuses a kid the key set does not have, as jose does', async () => {
      const token = signRaw(alg, signer.privateKey, { ...header, kid: 'nope' }, CLAIMS);
      expect(await same(token, keys, OPTIONS)).toMatchObject({ ok: false, error: 'JWKSNoMatchingKey' });
    });

    it('refuses an alg outside the allow-list before looking up any key', async () => {
      let lookups = 0;
      const counting: JWTVerifyGetKey = async (...args) => {
        lookups += 1;
        return keys(...args);
      };
      for (const bad of ['none', 'HS256', 'RS256', 'ES384']) {
        const token = `${b64({ ...header, alg: bad })}.${b64(CLAIMS)}.${valid.split('.')[2]}`;
        expect(await same(token, counting, OPTIONS)).toMatchObject({ ok: false, error: 'JOSEAlgNotAllowed' });
      }
      expect(await same(`${b64({ typ: 'at+jwt' })}.${b64(CLAIMS)}.AAAA`, counting, OPTIONS)).toMatchObject({ ok: false, error: 'JWSInvalid' });
      expect(lookups).toBe(0);
    });

    it('refuses a key that does not suit the alg (never verifies ES256 with an RSA key, etc.)', async () => {
      const misfit = alg === 'EdDSA' ? keyPair('ES256') : keyPair('EdDSA');
      await expect(verifyJwt(valid, misfit.publicKey, OPTIONS)).rejects.toThrow(/does not suit/);
      await expect(verifyJwt(valid, signer.privateKey, OPTIONS)).rejects.toThrow(/public key/);
      await expect(verifyJwt(valid, new Uint8Array(32), OPTIONS)).rejects.toThrow(/public key/);
    });

    it('handles crit and b64 as jose does', async () => {
      const crits: Record<string, unknown>[] = [
        { crit: ['exp'], exp: 1 },
        { crit: [] },
        { crit: 'b64', b64: true },
        { crit: [''] },
        { crit: ['b64'] },
        { crit: ['b64'], b64: 'no' },
        { crit: ['b64'], b64: false },
        { crit: ['b64'], b64: true },
        { b64: false },
      ];
      for (const extra of crits) {
        const token = signRaw(alg, signer.privateKey, { ...header, ...extra }, CLAIMS);
        const result = await same(token, keys, OPTIONS);
        const acceptable = extra.b64 === true && Array.isArray(extra.crit) ? true : extra.crit === undefined;
        expect(result.ok, JSON.stringify(extra)).toBe(acceptable);
      }
    });

    it('applies every claim rule with jose’s errors', async () => {
      const variants: Record<string, unknown>[] = [
        { exp: NOW_SECONDS - 31 },
        { exp: NOW_SECONDS - 29 },
        { nbf: NOW_SECONDS + 300 },
        { iss: 'https://evil.example' },
        { aud: 'https://other.example' },
        { aud: [AUDIENCE, 'x'] },
        { sub: undefined },
        { client_id: undefined },
        { jti: undefined },
        { exp: undefined },
        { iat: NOW_SECONDS - 4000 },
        { iat: NOW_SECONDS + 300 },
        { iat: 'yesterday' },
      ];
      for (const change of variants) {
        const token = signRaw(alg, signer.privateKey, header, { ...CLAIMS, ...change });
        await same(token, keys, OPTIONS);
      }
      for (const typ of [undefined, 'JWT', 'application/at+jwt', 'AT+JWT']) {
        await same(signRaw(alg, signer.privateKey, { ...header, typ }, CLAIMS), keys, OPTIONS);
      }
      await same(signRaw(alg, signer.privateKey, header, 'not json'), keys, OPTIONS);
      await same(signRaw(alg, signer.privateKey, header, [1, 2]), keys, OPTIONS);
    });

    it('verifies a DPoP-style proof with its embedded jwk as jose’s EmbeddedJWK does', async () => {
      const publicJwk = await exportJWK(signer.publicKey);
      const proofOptions: JWTVerifyOptions = { typ: 'dpop+jwt', algorithms: ['PS256', 'ES256', 'EdDSA'], currentDate: NOW };
      const claims = { jti: 'p-1', htm: 'POST', htu: 'https://gw.example/x', iat: NOW_SECONDS };
      const compare = async (token: string): Promise<Outcome> => {
        const jose = await outcome(() => jwtVerify(token, EmbeddedJWK, proofOptions));
        const ours = await outcome(() => verifyJwt(token, embeddedJwkKey, proofOptions));
        expect(ours.ok, token).toBe(jose.ok);
        if (jose.ok) expect(ours.payload).toEqual(jose.payload);
        else expect(ours.error).toBe(jose.error === 'TypeError' ? 'JWSInvalid' : jose.error);
        return ours;
      };
      const proof = (jwkHeader: unknown, key: KeyObject = signer.privateKey, extra: Record<string, unknown> = {}): string =>
        signRaw(alg, key, { alg, typ: 'dpop+jwt', jwk: jwkHeader, ...extra }, claims);

      expect(await compare(proof(publicJwk))).toMatchObject({ ok: true, payload: claims });
      // twice: the second one comes from the key cache
      expect(await compare(proof(publicJwk))).toMatchObject({ ok: true });
      expect(await compare(proof(publicJwk, other.privateKey))).toMatchObject({ ok: false, error: 'JWSSignatureVerificationFailed' });
      expect(await compare(proof({ ...publicJwk, use: 'enc' }))).toMatchObject({ ok: false });
      expect(await compare(proof({ ...publicJwk, alg: alg === 'ES256' ? 'EdDSA' : 'ES256' }))).toMatchObject({ ok: false });
      expect(await compare(proof({ ...publicJwk, alg }))).toMatchObject({ ok: true });
      expect(await compare(proof('not an object'))).toMatchObject({ ok: false, error: 'JWSInvalid' });
      expect(await compare(proof(undefined))).toMatchObject({ ok: false, error: 'JWSInvalid' });
      const misfit = alg === 'EdDSA' ? keyPair('ES256') : keyPair('EdDSA');
      expect(await compare(proof(await exportJWK(misfit.publicKey)))).toMatchObject({ ok: false });
      expect(await compare(proof(await exportJWK(signer.privateKey)))).toMatchObject({ ok: false });
    });
  });
}
