import { randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { createDpopNonces } from '../../src/security/dpop-nonce.ts';

const ROTATION_SECONDS = 300;
const t0 = new Date('2026-11-21T18:00:00Z');
const later = (seconds: number) => new Date(t0.getTime() + seconds * 1000);

describe('server-provided DPoP nonces', () => {
  const secret = randomBytes(32);
  const nonces = createDpopNonces(secret, ROTATION_SECONDS);

  it('accepts the current nonce', () => {
    expect(nonces.accepts(nonces.current(t0), t0)).toBe(true);
  });

  it('accepts the previous window’s nonce once rotated, not the one before', () => {
    const issued = nonces.current(t0);
    expect(nonces.current(later(ROTATION_SECONDS))).not.toBe(issued);
    expect(nonces.accepts(issued, later(ROTATION_SECONDS))).toBe(true);
    expect(nonces.accepts(issued, later(2 * ROTATION_SECONDS))).toBe(false);
  });

  it('is checkable by any instance sharing the secret, and by no other', () => {
    expect(createDpopNonces(Buffer.from(secret), ROTATION_SECONDS).accepts(nonces.current(t0), t0)).toBe(true);
    expect(createDpopNonces(randomBytes(32), ROTATION_SECONDS).accepts(nonces.current(t0), t0)).toBe(false);
  });

  it('refuses tampered, truncated and oversized nonces', () => {
    const issued = Buffer.from(nonces.current(t0), 'base64url');
    issued[issued.length - 1]! ^= 1;
    expect(nonces.accepts(issued.toString('base64url'), t0)).toBe(false);
    expect(nonces.accepts(nonces.current(t0).slice(0, 10), t0)).toBe(false);
    expect(nonces.accepts('A'.repeat(1000), t0)).toBe(false);
  });

  it('refuses a secret shorter than 32 bytes at construction', () => {
    expect(() => createDpopNonces(randomBytes(16), ROTATION_SECONDS)).toThrow(/at least 32 bytes/);
  });
});
