/**
 * Operator authentication for the operator's page. The design, chosen as the simplest one that stays secure:
 *
 * - One operator token, configured only as its SHA-256 (ISOGW_OPERATOR_TOKEN_SHA256, hex), so the configuration
 *   holds no secret. A presented token is hashed and the two 32-byte digests are compared in constant time
 *   (comparing digests also hides the token's length). The token should be random (e.g. `openssl rand -base64 32`):
 *   with 256 bits there is nothing to guess, so no lockout state is needed.
 * - Scripts send it as `Authorization: Bearer <token>` on every request (the JSON API under /ops/api/ takes nothing
 *   else, so no browser can be made to call it with ambient credentials).
 * - Browsers log in once with a form POST of the token and get a session cookie: HttpOnly (no script reads it),
 *   SameSite=Strict (no other site's page sends it along: no CSRF on a page that only reads anyway), Path=/ops. The
 *   cookie is stateless: `<expiry seconds>.<HMAC-SHA256 of it>`, under a key drawn at random when the process
 *   starts. Nothing is stored, a restart logs everyone out, and a leaked cookie is worth OPERATOR_LIMITS
 *   .sessionTtlSeconds at most — which is why it is short, since it cannot be revoked. The listener is plain HTTP
 *   (loopback by default), so the cookie cannot be marked Secure; put TLS in front if the page leaves the host.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

import { OPERATOR_LIMITS } from './limits.ts';

export const SESSION_COOKIE_NAME = 'isogw_operator';

/** What a request proved: a token (Bearer), a session cookie, or nothing valid. */
export type OperatorCredential = 'bearer' | 'session' | 'none' | 'invalid_token';

export interface OperatorAuth {
  /** Whether `token` is the operator token (constant time). */
  tokenMatches(token: string): boolean;
  /** A fresh session cookie value, valid for sessionTtlSeconds from `now`. */
  newSession(now: Date): string;
  /** The Set-Cookie header value of a new session (and of a logout, with `undefined`). */
  sessionCookie(value: string | undefined): string;
  /** How the request authenticates; `acceptSession` false for the JSON API (Bearer only). */
  credentialOf(request: IncomingMessage, now: Date, acceptSession: boolean): OperatorCredential;
}

/** `tokenSha256`: the 32-byte SHA-256 of the operator token. */
export function createOperatorAuth(tokenSha256: Uint8Array, sessionKey: Uint8Array = randomBytes(32)): OperatorAuth {
  if (tokenSha256.length !== 32) throw new RangeError(`the operator token's SHA-256 is 32 bytes, not ${tokenSha256.length}`);
  const expected = Buffer.from(tokenSha256);
  const ttlSeconds = OPERATOR_LIMITS.sessionTtlSeconds;
  const mac = (expiry: string) => createHmac('sha256', sessionKey).update(`isogw-operator-session:${expiry}`).digest();

  const tokenMatches = (token: string) => timingSafeEqual(createHash('sha256').update(token, 'utf8').digest(), expected);

  function sessionValid(value: string, now: Date): boolean {
    const match = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(value);
    if (match === null) return false;
    const expiry = Number(match[1]);
    const nowSeconds = Math.floor(now.getTime() / 1000);
    // Expired, or further ahead than we ever issue (not ours, whatever its MAC says).
    if (expiry <= nowSeconds || expiry > nowSeconds + ttlSeconds) return false;
    return timingSafeEqual(Buffer.from(match[2]!, 'base64url'), mac(match[1]!));
  }

  return {
    tokenMatches,
    newSession(now) {
      const expiry = String(Math.floor(now.getTime() / 1000) + ttlSeconds);
      return `${expiry}.${mac(expiry).toString('base64url')}`;
    },
    sessionCookie(value) {
      const attributes = `Path=/ops; HttpOnly; SameSite=Strict`;
      return value === undefined ? `${SESSION_COOKIE_NAME}=; ${attributes}; Max-Age=0` : `${SESSION_COOKIE_NAME}=${value}; ${attributes}; Max-Age=${ttlSeconds}`;
    },
    credentialOf(request, now, acceptSession) {
      const authorization = request.headers.authorization;
      if (authorization !== undefined) {
        const bearer = /^Bearer ([\x21-\x7e]+)$/.exec(authorization);
        return bearer !== null && tokenMatches(bearer[1]!) ? 'bearer' : 'invalid_token';
      }
      if (!acceptSession) return 'none';
      const session = cookieValue(request.headers.cookie, SESSION_COOKIE_NAME);
      return session !== undefined && sessionValid(session, now) ? 'session' : 'none';
    },
  };
}

/** `"a=1; b=2"`, `b` → `"2"`; the first one when a name repeats. */
function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const equals = part.indexOf('=');
    if (equals > 0 && part.slice(0, equals).trim() === name) return part.slice(equals + 1).trim();
  }
  return undefined;
}

