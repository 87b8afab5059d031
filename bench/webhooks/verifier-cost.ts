/**
 * What verifying one delivery costs the receiver's event loop, with the published `standardwebhooks` library (pure
 * JavaScript SHA-256) and with node:crypto's HMAC (OpenSSL), on a real delivery body signed the way the relay
 * signs. The receiver shares its event loop with the producer, so this cost is part of every latency measured
 * there; the bench says which verifier it ran with and what that cost per request.
 */
import { webhookHeaders, type SigningKey } from '../../src/webhooks/signing.ts';
import { nearestRank } from '../lib/histogram.ts';
import { type VerifierKind, verifierFor, VERIFIERS } from './receiver.ts';

/** Timed verifications per verifier (after a tenth as many untimed ones). */
const VERIFICATIONS = 2000;
/** Verifications per timed batch: batches interleave the verifiers, so a noisy moment hits both. */
const BATCH = 50;

export interface VerifierCost {
  readonly bodyBytes: number;
  readonly verifications: number;
  /** Microseconds per verification: p50 and mean of per-batch means. */
  readonly microseconds: Record<VerifierKind, { readonly p50: number; readonly mean: number }>;
}

export function measureVerifierCost(secret: string, keys: readonly SigningKey[], body: string): VerifierCost {
  const id = 'evt_00000000000000000000000000000000_1';
  const headers = webhookHeaders(keys, id, Math.floor(Date.now() / 1000), body);
  const verifiers = Object.fromEntries(VERIFIERS.map((kind) => [kind, verifierFor(kind, secret)])) as Record<VerifierKind, ReturnType<typeof verifierFor>>;
  for (const kind of VERIFIERS) for (let i = 0; i < VERIFICATIONS / 10; i++) verifiers[kind](body, headers);
  const perBatch: Record<VerifierKind, number[]> = { library: [], hmac: [] };
  for (let round = 0; round < VERIFICATIONS / BATCH; round++) {
    for (const kind of round % 2 === 0 ? VERIFIERS : [...VERIFIERS].reverse()) {
      const started = performance.now();
      for (let i = 0; i < BATCH; i++) verifiers[kind](body, headers);
      perBatch[kind].push(((performance.now() - started) * 1000) / BATCH);
    }
  }
  const summary = (values: number[]) => {
    const sorted = Float64Array.from(values).sort();
    return { p50: nearestRank(sorted, 50), mean: values.reduce((a, b) => a + b, 0) / values.length };
  };
  return {
    bodyBytes: Buffer.byteLength(body),
    verifications: VERIFICATIONS,
    microseconds: { library: summary(perBatch.library), hmac: summary(perBatch.hmac) },
  };
}
