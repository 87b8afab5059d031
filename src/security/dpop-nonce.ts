/**
 * Server-provided DPoP nonces (RFC 9449 §9) without shared mutable state: a nonce is the rotation window number
 * plus an HMAC of it under a secret every gateway instance shares. Any instance can check any instance's nonce; the
 * current and the previous window are accepted so a nonce handed out just before a rotation still works once.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Bytes of HMAC-SHA256 kept in a nonce: 128 bits is plenty against guessing within one window. */
const NONCE_MAC_BYTES = 16;
/** A shared secret shorter than this is refused at boot. */
export const DPOP_NONCE_SECRET_BYTES_MIN = 32;

export interface DpopNonces {
  /** The nonce to hand out now. */
  current(now: Date): string;
  /** Whether a nonce from a proof is the current or the previous one. */
  accepts(nonce: string, now: Date): boolean;
}

export function createDpopNonces(secret: Uint8Array, rotationSeconds: number): DpopNonces {
  if (secret.byteLength < DPOP_NONCE_SECRET_BYTES_MIN) {
    throw new TypeError(`the DPoP nonce secret must be at least ${DPOP_NONCE_SECRET_BYTES_MIN} bytes`);
  }
  if (!Number.isInteger(rotationSeconds) || rotationSeconds <= 0) throw new TypeError('rotationSeconds must be > 0');
  const windowOf = (now: Date): number => Math.floor(now.getTime() / 1000 / rotationSeconds);
  const nonceFor = (window: number): Buffer => {
    const counter = Buffer.alloc(8);
    counter.writeBigUInt64BE(BigInt(window));
    const mac = createHmac('sha256', secret).update(counter).digest().subarray(0, NONCE_MAC_BYTES);
    return Buffer.concat([counter, mac]);
  };
  return {
    current: (now) => nonceFor(windowOf(now)).toString('base64url'),
    accepts: (nonce, now) => {
      if (nonce.length > 64) return false;
      const presented = Buffer.from(nonce, 'base64url');
      if (presented.length !== 8 + NONCE_MAC_BYTES) return false;
      const window = windowOf(now);
      return [window, window - 1].some((candidate) => timingSafeEqual(presented, nonceFor(candidate)));
    },
  };
}
