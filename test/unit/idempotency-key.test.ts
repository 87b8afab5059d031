/**
 * The Idempotency-Key header as clients send it: quoted (the draft's sf-string) or bare (Stripe style), one field,
 * bounded, ASCII; and the body fingerprint that tells a retry from a different request under the same key.
 */
import { describe, expect, it } from 'vitest';

import {
  IDEMPOTENCY_KEY_LENGTH_MAX,
  parseIdempotencyKey,
  requestFingerprint,
} from '../../src/idempotency/idempotency-key.ts';

const UUID = '8e03978e-40d5-43e8-bc93-6894a57f9324';

function reasonFor(value: string | readonly string[]): string {
  const parsed = parseIdempotencyKey(value);
  if (parsed.kind !== 'invalid') throw new Error(`expected invalid, got ${JSON.stringify(parsed)}`);
  return parsed.reason;
}

describe('parseIdempotencyKey', () => {
  it('accepts a quoted sf-string, as the draft defines the field', () => {
    expect(parseIdempotencyKey(`"${UUID}"`)).toEqual({ kind: 'ok', key: UUID });
  });

  it('accepts a bare key and reads it as the same key as its quoted form', () => {
    expect(parseIdempotencyKey(UUID)).toEqual({ kind: 'ok', key: UUID });
  });

  it('unescapes \\" and \\\\ inside a quoted key', () => {
    expect(parseIdempotencyKey('"a\\"b\\\\c"')).toEqual({ kind: 'ok', key: 'a"b\\c' });
  });

  it('accepts spaces inside a quoted key', () => {
    expect(parseIdempotencyKey('"order 42 retry"')).toEqual({ kind: 'ok', key: 'order 42 retry' });
  });

  it('accepts every visible ASCII character but DQUOTE in a bare key, commas included', () => {
    expect(parseIdempotencyKey('a,b;c=d/e\\f~!')).toEqual({ kind: 'ok', key: 'a,b;c=d/e\\f~!' });
  });

  it('trims surrounding spaces and tabs', () => {
    expect(parseIdempotencyKey(` \t${UUID}\t `)).toEqual({ kind: 'ok', key: UUID });
    expect(parseIdempotencyKey(` \t"${UUID}" \t`)).toEqual({ kind: 'ok', key: UUID });
  });

  it('reads a single-element array like a string', () => {
    expect(parseIdempotencyKey([UUID])).toEqual({ kind: 'ok', key: UUID });
  });

  it('reports an absent header as missing', () => {
    expect(parseIdempotencyKey(undefined)).toEqual({ kind: 'missing' });
    expect(parseIdempotencyKey([])).toEqual({ kind: 'missing' });
  });

  it('refuses two header fields', () => {
    expect(reasonFor([UUID, UUID])).toBe('send exactly one Idempotency-Key');
  });

  it('refuses an empty key, bare or quoted', () => {
    expect(reasonFor('')).toMatch(/empty/);
    expect(reasonFor(' \t ')).toMatch(/empty/);
    expect(reasonFor('""')).toMatch(/empty/);
  });

  it('accepts a key of exactly the maximum length and refuses a longer one, naming the maximum', () => {
    const longest = 'k'.repeat(IDEMPOTENCY_KEY_LENGTH_MAX);
    expect(parseIdempotencyKey(longest)).toEqual({ kind: 'ok', key: longest });
    expect(parseIdempotencyKey(`"${longest}"`)).toEqual({ kind: 'ok', key: longest });
    expect(reasonFor(`${longest}k`)).toContain(String(IDEMPOTENCY_KEY_LENGTH_MAX));
    expect(reasonFor(`"${longest}k"`)).toContain(String(IDEMPOTENCY_KEY_LENGTH_MAX));
  });

  it('counts the length of a quoted key after unescaping', () => {
    const escapedLongest = '\\\\'.repeat(IDEMPOTENCY_KEY_LENGTH_MAX);
    expect(parseIdempotencyKey(`"${escapedLongest}"`)).toEqual({ kind: 'ok', key: '\\'.repeat(IDEMPOTENCY_KEY_LENGTH_MAX) });
  });

  it('refuses a space or a DQUOTE inside a bare key', () => {
    expect(reasonFor('order 42')).toMatch(/ASCII/);
    expect(reasonFor('ab"c')).toMatch(/ASCII/);
  });

  it('refuses control characters, bare or quoted', () => {
    expect(reasonFor('abc\x00def')).toMatch(/ASCII/);
    expect(reasonFor('abc\x7fdef')).toMatch(/ASCII/);
    expect(reasonFor('"abc\tdef"')).toMatch(/ASCII/);
    expect(reasonFor('"abc\x1bdef"')).toMatch(/ASCII/);
  });

  it('refuses non-ASCII characters, bare or quoted', () => {
    expect(reasonFor('clé-42')).toMatch(/ASCII/);
    expect(reasonFor('"clé-42"')).toMatch(/ASCII/);
    // What Node hands over for UTF-8 bytes on the wire: header values are read as latin1.
    expect(reasonFor(Buffer.from('clé-42', 'utf8').toString('latin1'))).toMatch(/ASCII/);
  });

  it('refuses an escape other than \\" and \\\\', () => {
    expect(reasonFor('"a\\nb"')).toMatch(/escape/);
    expect(reasonFor('"abc\\')).toMatch(/escape/);
  });

  it('refuses an unclosed quoted key', () => {
    expect(reasonFor('"abc')).toMatch(/not closed/);
  });

  it('refuses anything after the closing quote: a parameter, a second member, more text', () => {
    expect(reasonFor('"abc";v=1')).toMatch(/after its closing quote/);
    expect(reasonFor('"abc", "def"')).toMatch(/after its closing quote/);
    expect(reasonFor('"abc"def')).toMatch(/after its closing quote/);
  });
});

describe('requestFingerprint', () => {
  const body = new TextEncoder().encode('<Document>Zahlung für Müller</Document>');

  it('is the base64url SHA-256 of the body bytes', () => {
    expect(requestFingerprint(body)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(requestFingerprint(new Uint8Array())).toBe('47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU');
  });

  it('is the same for the same bytes, however they are held', () => {
    expect(requestFingerprint(Buffer.from(body))).toBe(requestFingerprint(body));
    expect(requestFingerprint(body.slice())).toBe(requestFingerprint(body));
  });

  it('differs when a single byte differs, even if the message means the same', () => {
    const reformatted = new TextEncoder().encode('<Document>Zahlung für Müller</Document>\n');
    expect(requestFingerprint(reformatted)).not.toBe(requestFingerprint(body));
  });
});
