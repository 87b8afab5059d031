/**
 * Batches of ready-to-send requests for one bench bank: body, Idempotency-Key, `Authorization: DPoP <token>` and a
 * fresh DPoP proof per request. Runs in the factory workers (factory-worker.ts), so the load generator's event loop
 * only hands prepared bytes to autocannon; the main thread uses the same code for the rare request its queue could
 * not supply in time (counted, and reported as `fallbacks`).
 *
 * A batch carries its bodies in one ArrayBuffer (transferred between threads, not copied) plus per-request strings.
 */
import { randomUUID } from 'node:crypto';

import type { DpopSigner } from './dpop.ts';
import { type BodyKind, type MessageTemplate, ONWARD_CREDITOR_BIC, renderMessage } from './messages.ts';

/** What a bank's requests look like in the current phase. */
export type RequestSpec =
  | { readonly kind: 'intake' }
  /** GETs cycling through `paths` (each proof is made for its own URL). */
  | { readonly kind: 'get'; readonly paths: readonly string[] };

export const INTAKE_PATH = '/iso20022/pacs.008';

export interface MessagePlan {
  /** The gateway's external origin: the htu of every proof. */
  readonly origin: string;
  readonly templates: Readonly<Record<BodyKind, MessageTemplate>>;
  /** Share of messages with 10 transactions (the rest have 1). */
  readonly tenTxShare: number;
  /** Share of messages to a non-participant creditor agent (held in suspense, ACSP); the rest settle on us. */
  readonly onwardShare: number;
  readonly creditorBics: readonly string[];
}

export interface BankCredentials {
  readonly bic: string;
  readonly dpop: DpopSigner;
  readonly token: { readonly authorization: string; readonly ath: string; readonly expiresAt: number } | undefined;
}

export interface PreparedBatch {
  readonly bank: number;
  /** The spec generation it was made for; older generations are dropped by the consumer. */
  readonly generation: number;
  /** Date.now() when made: proofs are only good for SECURITY_LIMITS.dpopProofAgeMaxSeconds. */
  readonly createdAt: number;
  /** When the access token in its requests expires (epoch ms): a batch is not sent close to that. */
  readonly tokenExpiresAt: number;
  readonly count: number;
  readonly method: 'POST' | 'GET';
  readonly bodies: ArrayBuffer;
  /** End offset of each body in `bodies` (start = previous end). */
  readonly bodyEnds: readonly number[];
  readonly paths: readonly string[];
  readonly idempotencyKeys: readonly string[];
  readonly authorizations: readonly string[];
  readonly proofs: readonly string[];
}

export function produceBatch(plan: MessagePlan, bank: number, credentials: BankCredentials, spec: RequestSpec, generation: number, count: number, cursor: { next: number }): PreparedBatch {
  const token = credentials.token;
  if (token === undefined) throw new Error(`bank ${bank}: no access token yet`);
  const bodies: string[] = [];
  const paths: string[] = [];
  const keys: string[] = [];
  const proofs: string[] = [];
  const now = new Date();
  for (let i = 0; i < count; i++) {
    if (spec.kind === 'intake') {
      const template = plan.templates[Math.random() < plan.tenTxShare ? '10tx' : '1tx'];
      const creditor = Math.random() < plan.onwardShare ? ONWARD_CREDITOR_BIC : plan.creditorBics[Math.floor(Math.random() * plan.creditorBics.length)]!;
      bodies.push(renderMessage(template, credentials.bic, creditor, now).xml);
      paths.push(INTAKE_PATH);
      keys.push(randomUUID());
      proofs.push(credentials.dpop.proof('POST', `${plan.origin}${INTAKE_PATH}`, token.ath));
    } else {
      const path = spec.paths[cursor.next++ % spec.paths.length]!;
      bodies.push('');
      paths.push(path);
      keys.push('');
      proofs.push(credentials.dpop.proof('GET', `${plan.origin}${path}`, token.ath));
    }
  }
  const ends: number[] = [];
  let total = 0;
  for (const body of bodies) ends.push((total += Buffer.byteLength(body)));
  // Not Buffer.from: a small buffer would be a slice of Node's shared pool, which must not be transferred.
  const buffer = Buffer.allocUnsafeSlow(total);
  let offset = 0;
  for (const body of bodies) offset += buffer.write(body, offset, 'utf8');
  return {
    bank,
    generation,
    createdAt: now.getTime(),
    tokenExpiresAt: token.expiresAt,
    count,
    method: spec.kind === 'intake' ? 'POST' : 'GET',
    bodies: buffer.buffer as ArrayBuffer,
    bodyEnds: ends,
    paths,
    idempotencyKeys: keys,
    authorizations: new Array<string>(count).fill(token.authorization),
    proofs,
  };
}
