/**
 * The partners' side of the webhook API for tests: a request by one dev partner over its own mTLS connection with
 * its usual binding (bank-alpha and bank-gamma: DPoP-bound tokens; bank-beta: certificate-bound), a JSON body or
 * raw bytes, and the assertions every answer of these routes must pass. Plus a relay on the test gateway's
 * database, run a round at a time, so deliveries happen exactly when a test says.
 */
import { expect } from 'vitest';

import { createDatabasePool } from '../../src/db/pool.ts';
import { createWebhookRelay, type WebhookRelay } from '../../src/webhooks/relay.ts';
import { createWebhookSender } from '../../src/webhooks/sender.ts';
import { type DevPartnerId, type Matrix, sendMatrix, UUID, validCertificateBoundRequest, validDpopRequest } from './auth-matrix.ts';
import type { GatewayAnswer, TestGateway } from './gateway.ts';

export interface ApiCall {
  /** An object is sent as JSON; a string as is. */
  readonly body?: unknown;
  /** Headers to add, replace or (undefined) remove; content-type is application/json when a body is given. */
  readonly headers?: Record<string, string | undefined>;
  /** Appended to the URL as is (`?state=dead`); the DPoP htu never has it. */
  readonly query?: string;
  /** The token's scope, when not the partner's usual one. */
  readonly scope?: string;
  readonly gateway?: TestGateway;
}

export async function callApi(matrix: Matrix, partner: DevPartnerId, method: string, path: string, call: ApiCall = {}): Promise<GatewayAnswer> {
  const target = call.gateway === undefined ? matrix : { ...matrix, gateway: call.gateway };
  const body = call.body === undefined ? undefined : typeof call.body === 'string' ? call.body : JSON.stringify(call.body);
  const headers: Record<string, string | undefined> = {
    // The matrix adds an XML content type and an Idempotency-Key to every POST; these routes take neither.
    'content-type': body === undefined ? undefined : 'application/json',
    'idempotency-key': undefined,
    ...call.headers,
  };
  const spoil = {
    method,
    path,
    headers,
    body,
    ...(call.query === undefined ? {} : { query: call.query }),
    ...(call.scope === undefined ? {} : { tokenClaims: { scope: call.scope } }),
  };
  const { request } = partner === 'bank-beta' ? await validCertificateBoundRequest(target, spoil) : await validDpopRequest(target, { ...spoil, partner });
  return sendMatrix(request);
}

/** A JSON answer with the house headers; returns the parsed body. */
export function expectJson(answer: GatewayAnswer, status: number): any {
  const context = `answer: ${answer.status} ${answer.body}`;
  expect(answer.status, context).toBe(status);
  expect(answer.headers['content-type'], context).toBe('application/json; charset=utf-8');
  expect(answer.headers['cache-control'], context).toBe('no-store');
  expect(String(answer.headers['x-fapi-interaction-id']), context).toMatch(UUID);
  return JSON.parse(answer.body);
}

/** `{error, error_description}` and nothing else; returns the description. */
export function expectProblem(answer: GatewayAnswer, status: number, error: string): string {
  const body = expectJson(answer, status) as { error?: unknown; error_description?: unknown };
  expect(body.error, answer.body).toBe(error);
  expect(typeof body.error_description).toBe('string');
  expect(Object.keys(body).sort()).toEqual(['error', 'error_description']);
  return body.error_description as string;
}

export interface TestRelay extends WebhookRelay {
  close(): Promise<void>;
}

/**
 * A relay as the gateway runs it (the app role, plain http to loopback allowed), never started: tests call
 * runOnce(). `retryScheduleMs` defaults to one immediate retry step, so a failure is retried or, with [], dead.
 */
export function testRelay(gateway: TestGateway, options: { retryScheduleMs?: readonly number[] } = {}): TestRelay {
  const pool = createDatabasePool({ url: gateway.database.url, role: 'isogw_app', poolConnectionsMax: 4 });
  const sender = createWebhookSender({ allowInsecureEndpoints: true });
  const relay = createWebhookRelay({
    pool,
    databaseUrl: gateway.database.url,
    databaseRole: 'isogw_app',
    sender,
    retryScheduleMs: options.retryScheduleMs ?? [0],
    log: () => {},
  });
  return {
    ...relay,
    relayId: relay.relayId,
    close: async () => {
      await sender.close();
      await pool.end();
    },
  };
}

/** Runs relay rounds until `done()` holds, at most `roundsMax` (a bound, so a test that waits wrongly fails). */
export async function relayUntil(relay: WebhookRelay, done: () => boolean | Promise<boolean>, roundsMax = 20): Promise<void> {
  for (let round = 0; round < roundsMax; round += 1) {
    if (await done()) return;
    await relay.runOnce();
  }
  if (!(await done())) throw new Error(`relay: condition not met after ${roundsMax} rounds`);
}
