/**
 * Graceful shutdown of the production gateway process (`node src/server.ts`, configured by ISOGW_* variables):
 * SIGTERM lets a request that is still arriving finish with its answer while new connections are refused, then the
 * process exits 0; past the shutdown deadline the connections still open are destroyed; a second signal exits at
 * once. The request in flight is a real pacs.008 whose body is held back by the client; that the gateway is working
 * on it is seen in Redis (its DPoP proof's jti is recorded by the authentication stage, before the body is read).
 */
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { Readable } from 'node:stream';

import { Redis } from 'ioredis';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { INTAKE_TIME_LIMITS } from '../../src/payments/intake.ts';
import { startTestAuthorizationServer, type TestAuthorizationServer } from '../support/authz.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { freePort, fundDevParticipants, mintAccessToken, newKey, partnerAgent, dpopProof, thumbprintOfJwk } from '../support/gateway.ts';
import { type ChildHandle, gatewayProcess, gatewayProcessEnv, type PrivateRedis, startRedisServer } from '../support/gateway-process.ts';
import { freshPacs008 } from '../support/messages.ts';

/** Generous: a loaded CI box may be slow to notice a signal, finish a booking and exit. */
const WAIT_MS = 20_000;

let as: TestAuthorizationServer;
let database: TestDatabase;
let redis: PrivateRedis;
let redisClient: Redis;

beforeAll(async () => {
  as = await startTestAuthorizationServer();
  database = await createTestDatabase();
  await fundDevParticipants(database);
  redis = await startRedisServer();
  redisClient = new Redis(redis.url, { maxRetriesPerRequest: 1 });
}, 60_000);

afterAll(async () => {
  redisClient?.disconnect();
  await redis?.kill();
  await database?.close();
  await as?.close();
});

async function startGatewayProcess(extraEnv: Record<string, string> = {}): Promise<{ gateway: ChildHandle; port: number }> {
  const port = await freePort();
  const gateway = gatewayProcess({
    ...gatewayProcessEnv({ as, port, databaseUrl: database.url, redisUrl: redis.url }),
    ISOGW_WEBHOOK_RELAY: 'off',
    ISOGW_LOG_LEVEL: 'warn',
    ...extraEnv,
  });
  await gateway.start();
  return { gateway, port };
}

/**
 * Starts a pacs.008 from bank-alpha whose body stops halfway until `finish()` is called; resolves `handling` once
 * the gateway has authenticated it (its proof's jti is in the replay store) and is waiting for the rest of the body.
 */
async function heldBackPayment(port: number) {
  const origin = `https://localhost:${port}`;
  const url = `${origin}/iso20022/pacs.008`;
  const key = await newKey('ES256');
  const jkt = await thumbprintOfJwk(key.publicJwk);
  const token = await mintAccessToken(as, { claims: { cnf: { jkt } } });
  const jti = randomUUID();
  const proof = await dpopProof(key, 'POST', url, token, { claims: { jti } });
  const body = Buffer.from(freshPacs008('alpha1').xml);
  const half = Math.floor(body.length / 2);
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const agent = partnerAgent(as, 'bank-alpha');
  const answer = request(url, {
    method: 'POST',
    dispatcher: agent,
    headers: {
      authorization: `DPoP ${token}`,
      dpop: proof,
      'content-type': 'application/xml',
      'content-length': String(body.length),
      'idempotency-key': randomUUID(),
    },
    body: Readable.from(
      (async function* () {
        yield body.subarray(0, half);
        await finished;
        yield body.subarray(half);
      })(),
    ),
  }).then(async (response) => ({ status: response.statusCode, body: await response.body.text() }));
  answer.catch(() => {}); // awaited by the tests that expect an answer
  const replayKey = `isogw:replay:dpop:${jkt}:${jti}`;
  const handling = poll(async () => (await redisClient.exists(replayKey)) === 1, 'the gateway to authenticate the held-back request');
  return { answer, handling, finish, close: () => agent.close() };
}

async function poll(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Whether a new TCP connection to the port is refused. */
function connectionRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

describe('graceful shutdown of the gateway process', () => {
  it('on SIGTERM refuses new connections, answers the request in flight, and exits 0', async () => {
    const { gateway, port } = await startGatewayProcess();
    const payment = await heldBackPayment(port);
    try {
      await payment.handling;
      expect(gateway.signal('SIGTERM')).toBe(true);
      await poll(() => connectionRefused(port), 'new connections to be refused');
      payment.finish();
      const answer = await payment.answer;
      expect(answer.status, answer.body).toBe(200);
      expect(answer.body).toContain('pacs.002');
      expect(await gateway.exit(WAIT_MS)).toEqual({ code: 0, signal: null });
      // The payment the gateway answered during its shutdown is in the ledger.
      const { rows } = await database.pool.query<{ count: string }>('select count(*) from payments');
      expect(Number(rows[0]?.count)).toBeGreaterThanOrEqual(1);
    } finally {
      payment.finish();
      await gateway.kill();
      await payment.close();
    }
  }, 90_000);

  it('past the shutdown deadline destroys the connections still open and exits 0', async () => {
    const deadlineMs = 500;
    const { gateway, port } = await startGatewayProcess({ ISOGW_SHUTDOWN_DEADLINE_MS: String(deadlineMs) });
    const payment = await heldBackPayment(port);
    try {
      await payment.handling;
      const signalled = Date.now();
      gateway.signal('SIGTERM');
      // The body never completes (the intake would wait 10 s for it): the deadline ends the wait.
      expect(await gateway.exit(WAIT_MS)).toEqual({ code: 0, signal: null });
      expect(Date.now() - signalled).toBeGreaterThanOrEqual(deadlineMs);
      await expect(payment.answer).rejects.toThrow();
      expect(gateway.output()).toContain('shutdown deadline passed');
    } finally {
      payment.finish();
      await gateway.kill();
      await payment.close();
    }
  }, 90_000);

  it('a second signal exits at once, with status 1, without waiting for the request in flight', async () => {
    const { gateway, port } = await startGatewayProcess();
    const payment = await heldBackPayment(port);
    try {
      await payment.handling;
      gateway.signal('SIGTERM');
      await poll(() => connectionRefused(port), 'new connections to be refused');
      gateway.signal('SIGINT');
      // Before the intake's own body limit (10 s) could end the request, and far before the 25 s shutdown deadline:
      // only the second signal can have ended the process.
      expect(await gateway.exit(INTAKE_TIME_LIMITS.bodyReadMs * 0.75)).toEqual({ code: 1, signal: null });
      expect(gateway.output()).toContain('SIGINT again');
      await expect(payment.answer).rejects.toThrow();
    } finally {
      payment.finish();
      await gateway.kill();
      await payment.close();
    }
  }, 90_000);
});
