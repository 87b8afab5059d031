/**
 * Reads the authorization server's secrets from the files `isogw certs` writes (src/certs/layout.ts): its private
 * signing JWKs and `{cookieKeys, dpopNonceSecret}`. Checked once here; provider.ts checks the keys' algorithms.
 */
import { readFile } from 'node:fs/promises';

import type { JWK } from 'oidc-provider';

import { DPOP_NONCE_SECRET_BYTES } from './provider.ts';

export interface AuthorizationServerKeyMaterial {
  readonly signingKeys: { readonly keys: readonly JWK[] };
  readonly cookieKeys: readonly string[];
  readonly dpopNonceSecret: Buffer;
}

export class KeyMaterialError extends Error {
  override readonly name = 'KeyMaterialError';
}

export async function loadAuthorizationServerKeyMaterial(files: {
  readonly signingKeysFile: string;
  readonly secretsFile: string;
}): Promise<AuthorizationServerKeyMaterial> {
  const signing = await readJson(files.signingKeysFile);
  const secrets = await readJson(files.secretsFile);
  if (!isObject(signing) || !Array.isArray(signing.keys) || signing.keys.length === 0 || !signing.keys.every(isObject)) {
    throw new KeyMaterialError(`${files.signingKeysFile}: expected {"keys": [JWK, ...]}`);
  }
  if (!isObject(secrets) || !Array.isArray(secrets.cookieKeys) || secrets.cookieKeys.length === 0
    || !secrets.cookieKeys.every((key) => typeof key === 'string' && key !== '')) {
    throw new KeyMaterialError(`${files.secretsFile}: expected a non-empty "cookieKeys" array of strings`);
  }
  const dpopNonceSecret = typeof secrets.dpopNonceSecret === 'string' ? Buffer.from(secrets.dpopNonceSecret, 'base64url') : undefined;
  if (dpopNonceSecret?.length !== DPOP_NONCE_SECRET_BYTES) {
    throw new KeyMaterialError(`${files.secretsFile}: "dpopNonceSecret" must be ${DPOP_NONCE_SECRET_BYTES} bytes, base64url`);
  }
  return {
    signingKeys: { keys: signing.keys as JWK[] },
    cookieKeys: secrets.cookieKeys as string[],
    dpopNonceSecret,
  };
}

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new KeyMaterialError(`${file}: ${(error as Error).message}`, { cause: error });
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
