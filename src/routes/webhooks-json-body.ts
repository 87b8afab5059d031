/**
 * Reading the small JSON bodies of the webhook API after the caller is authenticated (the route hands the body
 * over unread, like the intake, so a stranger never makes us buffer or parse anything). Strict on purpose: JSON
 * only, a small byte limit, a time limit, UTF-8 only, an object only, and every field the route does not know is
 * refused by name — a misspelt `evenTypes` must not silently subscribe an endpoint to everything.
 */

/** Bounds of a webhook API request body. */
export const WEBHOOK_API_BODY_LIMITS = Object.freeze({
  /** Bytes of a request body: a URL of at most 2,048 characters, a few event types and a description fit easily. */
  bodyBytesMax: 16 * 1024,
  /** The whole body must arrive within this (a trickling body holds a connection). */
  bodyReadMs: 10_000,
});

export type JsonBodyError = 'unsupported_media_type' | 'payload_too_large' | 'body_timeout' | 'incomplete_body' | 'invalid_json' | 'unknown_field';

export type JsonBodyOutcome =
  | { readonly kind: 'read'; readonly fields: Readonly<Record<string, unknown>> }
  | { readonly kind: 'refused'; readonly error: JsonBodyError; readonly description: string };

export interface JsonBodyRequest {
  readonly contentType: string | undefined;
  /** Declared length, when the client sent one. */
  readonly contentLength: number | undefined;
  /** The request body, unread. */
  readonly body: AsyncIterable<Uint8Array> | undefined;
}

export interface JsonBodyRules {
  /** The fields the route accepts; any other is refused with `unknown_field`. */
  readonly fields: readonly string[];
  /** Whether an empty body is a mistake (true) or means `{}` (false: bodies of optional-argument actions). */
  readonly required: boolean;
  readonly limits?: { readonly bodyBytesMax: number; readonly bodyReadMs: number };
}

/**
 * `application/json` (RFC 8259), with no parameters but an optional `charset=utf-8`: JSON has no other encoding
 * (RFC 8259 §8.1), and a charset we would ignore is better refused than misread.
 */
export function isJsonMediaType(contentType: string): boolean {
  const [type = '', ...parameters] = contentType.split(';').map((part) => part.trim().toLowerCase());
  if (type !== 'application/json') return false;
  return parameters.every((parameter) => /^charset\s*=\s*"?utf-8"?$/.test(parameter));
}

export async function readJsonBody(request: JsonBodyRequest, rules: JsonBodyRules): Promise<JsonBodyOutcome> {
  const limits = rules.limits ?? WEBHOOK_API_BODY_LIMITS;
  const refuse = (error: JsonBodyError, description: string): JsonBodyOutcome => ({ kind: 'refused', error, description });
  const example = rules.fields.length === 0 ? '{}' : `an object with ${rules.fields.map((field) => `"${field}"`).join(', ')}`;
  if (request.contentType !== undefined && !isJsonMediaType(request.contentType)) {
    return refuse('unsupported_media_type', 'send the body as application/json (UTF-8)');
  }
  const tooLarge = () => refuse('payload_too_large', `a request body may be at most ${limits.bodyBytesMax} bytes`);
  if (request.contentLength !== undefined && request.contentLength > limits.bodyBytesMax) return tooLarge();

  const read = await readAtMost(request.body, limits.bodyBytesMax, limits.bodyReadMs);
  if (read.kind === 'too_large') return tooLarge();
  if (read.kind === 'timed_out') return refuse('body_timeout', `the body must arrive within ${limits.bodyReadMs} ms`);
  if (read.kind === 'broken') return refuse('incomplete_body', `the request body could not be read: ${read.message}`);
  const bytes = read.bytes;

  if (bytes.length === 0) {
    return rules.required ? refuse('invalid_json', `the body must be a JSON object: ${example}`) : { kind: 'read', fields: {} };
  }
  if (request.contentType === undefined) return refuse('unsupported_media_type', 'send the body as application/json (UTF-8)');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return refuse('invalid_json', 'the body is not UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return refuse('invalid_json', `the body is not JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return refuse('invalid_json', `the body must be a JSON object: ${example}`);
  }
  const known = new Set(rules.fields);
  const unknown = Object.keys(value).find((field) => !known.has(field));
  if (unknown !== undefined) {
    const accepted = rules.fields.length === 0 ? 'this request takes no fields' : `accepted fields: ${rules.fields.join(', ')}`;
    return refuse('unknown_field', `unknown field ${JSON.stringify(unknown)}; ${accepted}`);
  }
  return { kind: 'read', fields: value as Record<string, unknown> };
}

type ReadResult =
  | { kind: 'read'; bytes: Buffer }
  | { kind: 'too_large' }
  | { kind: 'timed_out' }
  | { kind: 'broken'; message: string };

/** Reads the whole body, at most `bytesMax` bytes within `timeMs` (one timer for the whole read, not per chunk). */
async function readAtMost(body: AsyncIterable<Uint8Array> | undefined, bytesMax: number, timeMs: number): Promise<ReadResult> {
  if (body === undefined) return { kind: 'read', bytes: Buffer.alloc(0) };
  const iterator = body[Symbol.asyncIterator]();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), timeMs);
  });
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), timeout]);
      if (next === TIMED_OUT) {
        await iterator.return?.();
        return { kind: 'timed_out' };
      }
      if (next.done === true) break;
      size += next.value.byteLength;
      // Left unread, not destroyed: the client still gets its 413 (as the intake does).
      if (size > bytesMax) return { kind: 'too_large' };
      chunks.push(next.value);
    }
  } catch (error) {
    // The client went away or broke the framing mid-body: its mistake (or its network's), never a 500.
    return { kind: 'broken', message: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
  return { kind: 'read', bytes: Buffer.concat(chunks, size) };
}

const TIMED_OUT = Symbol('timed out');
