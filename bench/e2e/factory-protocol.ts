/** The messages between the load generator's main thread (request-supply.ts) and its factory workers. */
import type { JWK } from 'jose';

import type { BodyKind } from './messages.ts';
import type { PreparedBatch, RequestSpec } from './request-factory.ts';

export interface WorkerBank {
  readonly index: number;
  readonly clientId: string;
  readonly bic: string;
  /** The bank's registered private_key_jwt key (from the bench PKI). */
  readonly signingJwk: JWK;
  /** The ES256 key its tokens are bound to; the main thread has it too (for fallbacks). */
  readonly dpopJwk: JWK;
  /** Scope asked for at the token endpoint. */
  readonly scope: string;
}

export interface WorkerInit {
  readonly type: 'init';
  readonly banks: readonly WorkerBank[];
  readonly issuer: string;
  readonly tokenEndpoint: string;
  readonly caPem: string;
  readonly origin: string;
  readonly templateTexts: Readonly<Record<BodyKind, string>>;
  readonly tenTxShare: number;
  readonly onwardShare: number;
  readonly creditorBics: readonly string[];
}

export type ToWorker =
  | WorkerInit
  | { readonly type: 'spec'; readonly bank: number; readonly generation: number; readonly spec: RequestSpec }
  | { readonly type: 'produce'; readonly bank: number; readonly generation: number; readonly count: number }
  | { readonly type: 'stop' };

export type FromWorker =
  | { readonly type: 'token'; readonly bank: number; readonly accessToken: string; readonly expiresAt: number }
  | { readonly type: 'batch'; readonly batch: PreparedBatch }
  /** A token request failed; the worker retries, the main thread reports it. */
  | { readonly type: 'problem'; readonly bank: number; readonly message: string };
