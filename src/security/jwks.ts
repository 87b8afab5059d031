/**
 * The authorization server's key set, fetched over HTTPS with our CA, cached, and refetched at most once per
 * cooldown when a token names an unknown kid (so a flood of forged kids cannot make us hammer the AS).
 * jose's remote key set does the caching; we only give it a fetch that trusts the right CA and has a timeout.
 */
import { createRemoteJWKSet, customFetch, type JWTVerifyGetKey } from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';

import type { SecurityLimits } from './limits.ts';

export interface RemoteKeySetOptions {
  readonly jwksUri: URL;
  /** PEM of the CA(s) that issued the AS's TLS certificate; undefined = the system trust store. */
  readonly ca?: string | undefined;
  readonly limits: Pick<SecurityLimits, 'jwksRefetchCooldownSeconds' | 'jwksCacheMaxAgeSeconds' | 'jwksFetchTimeoutMs'>;
}

export interface RemoteKeySet {
  readonly getKey: JWTVerifyGetKey;
  close(): Promise<void>;
}

export function createRemoteKeySet(options: RemoteKeySetOptions): RemoteKeySet {
  if (options.jwksUri.protocol !== 'https:') throw new TypeError('the JWKS must be fetched over https');
  const dispatcher = new Agent({
    connect: { ...(options.ca === undefined ? {} : { ca: options.ca }), timeout: options.limits.jwksFetchTimeoutMs },
    headersTimeout: options.limits.jwksFetchTimeoutMs,
    bodyTimeout: options.limits.jwksFetchTimeoutMs,
  });
  const getKey = createRemoteJWKSet(options.jwksUri, {
    timeoutDuration: options.limits.jwksFetchTimeoutMs,
    cooldownDuration: options.limits.jwksRefetchCooldownSeconds * 1000,
    cacheMaxAge: options.limits.jwksCacheMaxAgeSeconds * 1000,
    // Two copies of the fetch types (Node's bundled undici-types and undici 8) disagree on Headers; the objects are
    // the same at run time, so we pass the headers through as a plain record.
    [customFetch]: async (url, init) =>
      (await undiciFetch(url, {
        method: init.method,
        headers: Object.fromEntries(init.headers.entries()),
        signal: init.signal,
        redirect: 'error',
        dispatcher,
      })) as unknown as Response,
  });
  return { getKey, close: () => dispatcher.close() };
}
