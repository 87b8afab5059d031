/**
 * A load-generator worker thread: for the banks it owns it obtains and refreshes access tokens at the real
 * authorization server, and makes batches of complete requests (body, Idempotency-Key, Authorization, DPoP proof)
 * when the main thread asks for them. Proof signing and body rendering therefore never run on the event loop that
 * drives the sockets (BENCHMARKING.md trap 6).
 *
 * Tokens live ACCESS_TOKEN_TTL_SECONDS (5 minutes, the production setting); each is replaced when half its lifetime
 * has passed, so requests already queued with the previous token are still good when sent.
 */
import { parentPort } from 'node:worker_threads';

import { accessTokenHash, type DpopSigner, dpopSigner, requestAccessToken } from './dpop.ts';
import type { FromWorker, ToWorker, WorkerBank, WorkerInit } from './factory-protocol.ts';
import { BODY_KINDS, compileTemplate, type MessageTemplate } from './messages.ts';
import { type BankCredentials, type MessagePlan, produceBatch, type RequestSpec } from './request-factory.ts';

/** A token is replaced after this share of its lifetime. */
const TOKEN_REFRESH_AT_SHARE = 0.5;
/** A failed token request is retried after this long. */
const TOKEN_RETRY_MS = 5_000;

interface BankState {
  readonly bank: WorkerBank;
  readonly dpop: DpopSigner;
  token: BankCredentials['token'];
  spec: RequestSpec;
  generation: number;
  readonly cursor: { next: number };
  refresh?: NodeJS.Timeout;
}

const port = parentPort;
if (port === null) throw new Error('factory-worker.ts runs as a worker thread (request-supply.ts starts it)');
const post = (message: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);

let init: WorkerInit | undefined;
let plan: MessagePlan | undefined;
const banks = new Map<number, BankState>();

async function refreshToken(state: BankState): Promise<void> {
  const settings = init!;
  try {
    const issued = await requestAccessToken({
      tokenEndpoint: settings.tokenEndpoint,
      issuer: settings.issuer,
      caPem: settings.caPem,
      clientId: state.bank.clientId,
      signingJwk: state.bank.signingJwk,
      dpop: state.dpop,
      scope: state.bank.scope,
    });
    const expiresAt = Date.now() + issued.expiresInSeconds * 1000;
    state.token = { authorization: `DPoP ${issued.accessToken}`, ath: accessTokenHash(issued.accessToken), expiresAt };
    post({ type: 'token', bank: state.bank.index, accessToken: issued.accessToken, expiresAt });
    state.refresh = setTimeout(() => void refreshToken(state), issued.expiresInSeconds * 1000 * TOKEN_REFRESH_AT_SHARE);
  } catch (error) {
    post({ type: 'problem', bank: state.bank.index, message: (error as Error).message });
    state.refresh = setTimeout(() => void refreshToken(state), TOKEN_RETRY_MS);
  }
  state.refresh.unref();
}

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'init': {
      init = message;
      const templates = Object.fromEntries(BODY_KINDS.map((kind) => [kind, compileTemplate(kind, message.templateTexts[kind])])) as Record<
        (typeof BODY_KINDS)[number],
        MessageTemplate
      >;
      plan = { origin: message.origin, templates, tenTxShare: message.tenTxShare, onwardShare: message.onwardShare, creditorBics: message.creditorBics };
      for (const bank of message.banks) {
        const state: BankState = { bank, dpop: dpopSigner(bank.dpopJwk), token: undefined, spec: { kind: 'intake' }, generation: 0, cursor: { next: 0 } };
        banks.set(bank.index, state);
        void refreshToken(state);
      }
      return;
    }
    case 'spec': {
      const state = banks.get(message.bank);
      if (state === undefined) return;
      state.spec = message.spec;
      state.generation = message.generation;
      state.cursor.next = 0;
      return;
    }
    case 'produce': {
      const state = banks.get(message.bank);
      // A request for an outdated spec is simply not answered: the main thread forgets it on the spec change.
      if (state === undefined || message.generation !== state.generation || plan === undefined) return;
      const batch = produceBatch(plan, state.bank.index, { bic: state.bank.bic, dpop: state.dpop, token: state.token }, state.spec, state.generation, message.count, state.cursor);
      post({ type: 'batch', batch }, [batch.bodies]);
      return;
    }
    case 'stop':
      for (const state of banks.values()) clearTimeout(state.refresh);
      port.close();
      return;
  }
});
