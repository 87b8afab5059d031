/**
 * The shapes of the intake's answers: a pacs.002 (XML), an OAuth refusal (RFC 6750 / RFC 9449 headers, JSON body),
 * or a JSON problem for requests that never became a payment message. Every one is `Cache-Control: no-store`:
 * payment statuses and auth errors must not sit in shared caches.
 */
import { type AuthFailure, wwwAuthenticate } from '../security/auth-failure.ts';

export interface IntakeResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly body: string;
}

const NO_STORE = { 'cache-control': 'no-store' } as const;

export function authFailureResponse(failure: AuthFailure, dpopAlgorithms: readonly string[]): IntakeResponse {
  const headers: Record<string, string | string[]> = {
    ...NO_STORE,
    'content-type': 'application/json; charset=utf-8',
    'www-authenticate': wwwAuthenticate(failure, dpopAlgorithms),
  };
  if (failure.dpopNonce !== undefined) headers['dpop-nonce'] = failure.dpopNonce;
  if (failure.retryAfterSeconds !== undefined) headers['retry-after'] = String(failure.retryAfterSeconds);
  const body = failure.error === undefined ? { error_description: failure.description } : { error: failure.error, error_description: failure.description };
  return { status: failure.status, headers, body: JSON.stringify(body) };
}

/** A request that is not (or not yet) a pacs.008: wrong media type, too large, unreadable XML. */
export function problemResponse(
  status: number,
  error: string,
  description: string,
  reasons: readonly { code: string; path?: string | undefined; message: string }[] = [],
): IntakeResponse {
  return {
    status,
    headers: { ...NO_STORE, 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify({ error, error_description: description, ...(reasons.length > 0 ? { reasons } : {}) }),
  };
}

export function pacs002Response(status: number, xml: string, extraHeaders: Record<string, string> = {}): IntakeResponse {
  return { status, headers: { ...NO_STORE, 'content-type': 'application/xml; charset=utf-8', ...extraHeaders }, body: xml };
}
