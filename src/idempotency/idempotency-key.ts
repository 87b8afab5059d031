/**
 * The Idempotency-Key request header (draft-ietf-httpapi-idempotency-key-header) and the request fingerprint that
 * tells a genuine retry (same key, same body) from a key reused for a different request.
 *
 * The draft defines the field as an RFC 8941 sf-string (`Idempotency-Key: "8e03978e-40d5-43e8-bc93-6894a57f9324"`);
 * many clients, Stripe style, send the value bare. Both are accepted and mean the same key: `"abc"` and `abc` are one
 * key, because the key is the string the client chose, not its spelling on the wire.
 */
import { createHash } from 'node:crypto';

/** Longest key accepted, in characters (after removing the quotes and escapes of an sf-string). */
export const IDEMPOTENCY_KEY_LENGTH_MAX = 255;

export type IdempotencyKeyHeader =
  | { kind: 'ok'; key: string }
  | { kind: 'missing' }
  | { kind: 'invalid'; reason: string };

/** Reasons are shown to API clients as they are; keep them short sentences. */
const REASON_NOT_ONE = 'send exactly one Idempotency-Key';
const REASON_EMPTY = 'Idempotency-Key is empty';
const REASON_TOO_LONG = `Idempotency-Key is longer than ${IDEMPOTENCY_KEY_LENGTH_MAX} characters`;
const REASON_BARE_CHARACTERS =
  'Idempotency-Key may contain only visible ASCII characters, or be a quoted string of printable ASCII';
const REASON_QUOTED_CHARACTERS = 'Idempotency-Key quoted string may contain only printable ASCII characters';
const REASON_QUOTED_ESCAPE = 'Idempotency-Key quoted string may escape only \\" and \\\\';
const REASON_QUOTED_UNCLOSED = 'Idempotency-Key quoted string is not closed';
const REASON_QUOTED_TRAILER = 'Idempotency-Key has text after its closing quote';

/** A bare key: visible ASCII (0x21–0x7E) except DQUOTE, which would make it ambiguous with a quoted key. */
const BARE_KEY = /^[\x21\x23-\x7e]+$/;
/** HTTP optional whitespace (RFC 9110 §5.6.3): SP and HTAB only, not every Unicode space String.trim knows. */
const SURROUNDING_OWS = /^[ \t]+|[ \t]+$/g;

/**
 * Reads the Idempotency-Key header as a Node/Fastify request carries it: undefined when absent, a string for one
 * field, an array when the server keeps repeated fields apart (e.g. `request.headersDistinct`).
 */
export function parseIdempotencyKey(value: string | readonly string[] | undefined): IdempotencyKeyHeader {
  if (value === undefined) return { kind: 'missing' };
  let field: string;
  if (typeof value === 'string') {
    field = value;
  } else {
    if (value.length > 1) return invalid(REASON_NOT_ONE);
    const only = value[0];
    if (only === undefined) return { kind: 'missing' };
    field = only;
  }

  const trimmed = field.replace(SURROUNDING_OWS, '');
  if (trimmed === '') return invalid(REASON_EMPTY);
  const parsed = trimmed.startsWith('"') ? parseSfString(trimmed) : parseBare(trimmed);
  if (parsed.kind !== 'ok') return parsed;
  if (parsed.key === '') return invalid(REASON_EMPTY);
  if (parsed.key.length > IDEMPOTENCY_KEY_LENGTH_MAX) return invalid(REASON_TOO_LONG);
  return parsed;
}

/**
 * Fingerprint of a request body: base64url SHA-256 of its bytes. It is of the exact bytes, not of the parsed
 * message, so a retry must resend the same bytes; re-serialising the same payment differently reads as a different
 * request under the same key (refused), which is the safe side.
 */
export function requestFingerprint(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('base64url');
}

function parseBare(text: string): IdempotencyKeyHeader {
  // Length first, so an over-long key gets the reason that tells the client what to fix.
  if (text.length > IDEMPOTENCY_KEY_LENGTH_MAX) return invalid(REASON_TOO_LONG);
  return BARE_KEY.test(text) ? { kind: 'ok', key: text } : invalid(REASON_BARE_CHARACTERS);
}

/** RFC 8941 §4.2.5: DQUOTE, then printable ASCII with `\"` and `\\` as the only escapes, then DQUOTE. */
function parseSfString(text: string): IdempotencyKeyHeader {
  let key = '';
  for (let index = 1; index < text.length; index += 1) {
    const character = text.charAt(index);
    const code = character.charCodeAt(0);
    if (code < 0x20 || code > 0x7e) return invalid(REASON_QUOTED_CHARACTERS);
    if (character === '\\') {
      index += 1;
      const escaped = text.charAt(index);
      if (escaped !== '"' && escaped !== '\\') return invalid(REASON_QUOTED_ESCAPE);
      key += escaped;
    } else if (character === '"') {
      // Trailing whitespace was trimmed already, so anything left (a parameter, a second member) is refused.
      return index === text.length - 1 ? { kind: 'ok', key } : invalid(REASON_QUOTED_TRAILER);
    } else {
      key += character;
    }
    if (key.length > IDEMPOTENCY_KEY_LENGTH_MAX) return invalid(REASON_TOO_LONG);
  }
  return invalid(REASON_QUOTED_UNCLOSED);
}

function invalid(reason: string): IdempotencyKeyHeader {
  return { kind: 'invalid', reason };
}
