/**
 * The gateway process dies mid-stream (SIGKILL: no shutdown hook, no rollback by the process, requests cut off
 * wherever they were) several times while partners keep sending, and the partners retry every message with its
 * Idempotency-Key until it has a final answer. Nothing may be lost, duplicated or invented:
 *
 * - every message is booked exactly once (as many message rows as distinct messages, all their payments);
 * - the balances are exactly the funding minus/plus the sum of the booked amounts, and every ledger invariant holds;
 * - every 200 a partner ever saw for a message — before a kill, after a restart, replayed from Redis or from the
 *   database — is byte for byte the same pacs.002, and it is the answer the database stored for that key.
 *
 * The gateway is the production entry point, `node src/server.ts`, configured through its ISOGW_* variables only,
 * against a database of its own and a private redis-server; there are no failpoints in the production code.
 *
 * A request killed after its Redis claim and before its completion leaves that key "in flight" in Redis until
 * IDEMPOTENCY_IN_FLIGHT_SECONDS pass (409 + Retry-After to every retry meanwhile, whatever the database knows). The
 * test checks that only keys whose request was cut off are in that state, then restarts its private Redis empty
 * (as a failover without replication would) rather than wait 30 s; from then on the database alone decides.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

import type { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { REPLAY_HEADER } from '../../src/payments/intake.ts';
import { INTAKE_PATH } from '../support/auth-matrix.ts';
import { startTestAuthorizationServer, type TestAuthorizationServer } from '../support/authz.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import {
  certificateThumbprint,
  DEV_FUNDING_MINOR,
  dpopProof,
  freePort,
  fundDevParticipants,
  type GatewayAnswer,
  mintAccessToken,
  newKey,
  partnerAgent,
  send,
  thumbprintOfJwk,
} from '../support/gateway.ts';
import { type ChildHandle, gatewayProcess, gatewayProcessEnv, type PrivateRedis, startRedisServer } from '../support/gateway-process.ts';
import { expectLedgerConsistent, expectReconciled } from '../support/ledger-invariants.ts';
import { freshPacs008 } from '../support/messages.ts';

const BETA_MESSAGES = 18; // 10 payments each, on-us (ACSC)
const ALPHA_MESSAGES = 12; // 1 payment each, onward (ACSP)
const CLIENTS = 4;
/** Kill the gateway once this many messages have their first final answer (each time a little later, at random). */
const KILL_AFTER_ANSWERS = [3, 11, 20] as const;

let as: TestAuthorizationServer | undefined;
let db: TestDatabase | undefined;
let redis: PrivateRedis | undefined;
let gateway: ChildHandle | undefined;
const agents: Agent[] = [];
/** https://localhost:<port>: the same port across restarts. */
let origin = '';

beforeAll(async () => {
  as = await startTestAuthorizationServer();
  db = await createTestDatabase();
  await fundDevParticipants(db);
  redis = await startRedisServer();
  const port = await freePort();
  gateway = gatewayProcess(gatewayProcessEnv({ as, port, databaseUrl: db.url, redisUrl: redis.url }));
  await gateway.start();
  origin = `https://localhost:${port}`;
});

afterAll(async () => {
  await gateway?.kill();
  await redis?.kill();
  await Promise.all(agents.map((agent) => agent.close()));
  await db?.close();
  await as?.close();
});

interface Message {
  readonly partner: 'bank-alpha' | 'bank-beta';
  readonly msgId: string;
  readonly xml: string;
  readonly key: string;
  /** Every attempt's outcome, in order: an answer, or the network error of a request the kill cut off. */
  readonly outcomes: (GatewayAnswer | { readonly networkError: string })[];
}

/** The problems of a 503: nothing was done, try again. */
const RETRY_LATER = new Set(['ledger_unavailable', 'temporarily_unavailable']);
const isAnswer = (outcome: Message['outcomes'][number]): outcome is GatewayAnswer => 'status' in outcome;
const problemOf = (answer: GatewayAnswer): string | undefined =>
  String(answer.headers['content-type']).startsWith('application/json') ? (JSON.parse(answer.body) as { error?: string }).error : undefined;
/** 200/422/409 with a pacs.002: what the gateway answers once it has decided. */
const isFinal = (answer: GatewayAnswer): boolean => [200, 409, 422].includes(answer.status) && String(answer.headers['content-type']).startsWith('application/xml');
const describeOutcome = (outcome: Message['outcomes'][number]): string =>
  isAnswer(outcome) ? `${outcome.status}${outcome.headers[REPLAY_HEADER] === 'true' ? ' (replayed)' : ''} ${outcome.body.slice(0, 160)}` : `network error: ${outcome.networkError}`;

function totalCents(xml: string): bigint {
  return [...xml.matchAll(/<IntrBkSttlmAmt Ccy="EUR">(\d+)\.(\d{2})<\/IntrBkSttlmAmt>/g)].reduce((sum, m) => sum + BigInt(m[1]! + m[2]!), 0n);
}

describe('SIGKILL of the gateway process in the middle of a stream of payments', () => {
  it('books every message exactly once and answers every retry with the same bytes', async () => {
    const pki = as!.pki;
    const alphaAgent = partnerAgent(as!, 'bank-alpha');
    const betaAgent = partnerAgent(as!, 'bank-beta');
    agents.push(alphaAgent, betaAgent);
    const url = `${origin}${INTAKE_PATH}`;

    // bank-beta: one certificate-bound token for everything; bank-alpha: a DPoP key and token per message, a fresh proof per attempt
    const betaToken = await mintAccessToken(as!, {
      claims: { sub: 'bank-beta', client_id: 'bank-beta', cnf: { 'x5t#S256': certificateThumbprint(readFileSync(pki.partners['bank-beta']!.clientCert, 'utf8')) } },
    });
    const alphaKey = await newKey('ES256');
    const alphaToken = await mintAccessToken(as!, { claims: { sub: 'bank-alpha', client_id: 'bank-alpha', cnf: { jkt: await thumbprintOfJwk(alphaKey.publicJwk) } } });

    const messages: Message[] = [
      ...Array.from({ length: BETA_MESSAGES }, () => ({ partner: 'bank-beta' as const, ...freshPacs008('beta10') })),
      ...Array.from({ length: ALPHA_MESSAGES }, () => ({ partner: 'bank-alpha' as const, ...freshPacs008('alpha1') })),
    ]
      .sort(() => Math.random() - 0.5)
      .map(({ partner, xml, messageId }) => ({ partner, xml, msgId: messageId, key: randomUUID(), outcomes: [] }));

    let outstanding = 0;
    const attempt = async (message: Message): Promise<Message['outcomes'][number]> => {
      const headers: Record<string, string> = { 'content-type': 'application/xml', 'idempotency-key': message.key };
      if (message.partner === 'bank-beta') headers.authorization = `Bearer ${betaToken}`;
      else {
        headers.authorization = `DPoP ${alphaToken}`;
        headers.dpop = await dpopProof(alphaKey, 'POST', url, alphaToken);
      }
      outstanding += 1;
      try {
        const answer = await send(message.partner === 'bank-beta' ? betaAgent : alphaAgent, url, { headers, body: message.xml });
        message.outcomes.push(answer);
        return answer;
      } catch (error) {
        const outcome = { networkError: `${(error as Error).message} ${(error as { code?: string }).code ?? ''}` };
        message.outcomes.push(outcome);
        return outcome;
      } finally {
        outstanding -= 1;
      }
    };

    /**
     * Resends while the gateway is away (connection refused or cut) or cannot serve right now (503); stops at a
     * final answer or at "in flight" (a claim the killed process left: phase 2 deals with it).
     */
    const deliver = async (message: Message): Promise<void> => {
      for (let tries = 0; tries < 400; tries += 1) {
        const outcome = await attempt(message);
        if (isAnswer(outcome) && (isFinal(outcome) || problemOf(outcome) === 'idempotency_key_in_flight')) return;
        // 503s say "not now": ledger_unavailable, or temporarily_unavailable from DPoP's replay check, which fails
        // closed while Redis is away; anything else is unexpected and reported below
        if (isAnswer(outcome) && !RETRY_LATER.has(problemOf(outcome) ?? '')) return;
        await sleep(20);
      }
      throw new Error(`message ${message.msgId}: no answer after 400 attempts:\n${message.outcomes.map(describeOutcome).join('\n')}`);
    };

    // Phase 1: CLIENTS clients stream the messages; the gateway is SIGKILLed and restarted as the answers come in.
    const firstAnswered = () => messages.filter((m) => m.outcomes.some(isAnswer)).length;
    let next = 0;
    let streaming = true;
    const stop = new AbortController();
    const clients = Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (next < messages.length && !stop.signal.aborted) await deliver(messages[next++]!);
      }),
    ).finally(() => {
      streaming = false;
    });
    const kills: { afterAnswers: number; outstanding: number }[] = [];
    const killer = (async () => {
      for (const threshold of KILL_AFTER_ANSWERS) {
        while (streaming && (firstAnswered() < threshold || outstanding < 2)) await sleep(2);
        if (!streaming) return;
        await sleep(Math.random() * 30);
        kills.push({ afterAnswers: firstAnswered(), outstanding });
        await gateway!.kill();
        await sleep(Math.random() * 100);
        await gateway!.start();
      }
    })();
    try {
      await Promise.all([clients, killer]);
    } finally {
      stop.abort();
    }
    expect(kills, 'the gateway was killed three times while requests were on their way').toHaveLength(KILL_AFTER_ANSWERS.length);
    const cutOff = messages.filter((m) => m.outcomes.some((o) => !isAnswer(o)));
    expect(cutOff.length, 'some requests were cut off by the kills').toBeGreaterThan(0);

    // Phase 2a: Redis as the killed processes left it. Every message once more with its key.
    await Promise.all(messages.map((message) => deliver(message)));
    const stuck = messages.filter((m) => problemOf(m.outcomes.at(-1) as GatewayAnswer) === 'idempotency_key_in_flight');
    for (const message of stuck) {
      // only a key whose request was cut off mid-way can be left in flight
      expect(cutOff, `${message.msgId} is in flight: ${message.outcomes.map(describeOutcome).join('\n')}`).toContain(message);
    }

    // Phase 2b: Redis restarted empty (instead of waiting out the in-flight claims); every message until final.
    if (stuck.length > 0) {
      await redis!.kill();
      await redis!.start();
    }
    await Promise.all(messages.map((message) => deliver(message)));
    for (const message of messages) {
      const last = message.outcomes.at(-1)!;
      expect(isAnswer(last) && isFinal(last), `${message.msgId}: ${message.outcomes.map(describeOutcome).join('\n')}`).toBe(true);
    }

    // Booked exactly once.
    const pool = db!.pool;
    const { rows: stored } = await pool.query<{ msg_id: string; idempotency_key: string; response_status: number; response_body: string; payments: number }>(
      `select m.msg_id, m.idempotency_key, m.response_status, m.response_body, (select count(*)::int from payments p where p.message_id = m.id) as payments
         from messages m`,
    );
    expect(stored).toHaveLength(messages.length);
    expect(await pool.query('select count(*)::int as n from payments').then((r) => r.rows[0].n)).toBe(BETA_MESSAGES * 10 + ALPHA_MESSAGES);
    const byKey = new Map(stored.map((row) => [row.idempotency_key, row]));
    for (const message of messages) {
      const row = byKey.get(message.key);
      expect(row?.msg_id, `message ${message.msgId} booked under its key`).toBe(message.msgId);
      expect(row!.payments).toBe(message.partner === 'bank-beta' ? 10 : 1);
      // Every 200 ever seen for it is one and the same pacs.002, the one the database stored with the key.
      const accepted = message.outcomes.filter(isAnswer).filter((answer) => answer.status === 200);
      expect(accepted.length, `${message.msgId}: ${message.outcomes.map(describeOutcome).join('\n')}`).toBeGreaterThan(0);
      expect(new Set(accepted.map((answer) => answer.body)), `${message.msgId}: all 200 bodies identical`).toEqual(new Set([row!.response_body]));
      expect(row!.response_status).toBe(200);
      // At most one answer was the booking itself; every other 200 says it is a replay.
      expect(accepted.filter((answer) => answer.headers[REPLAY_HEADER] !== 'true').length).toBeLessThanOrEqual(1);
      for (const answer of message.outcomes.filter(isAnswer)) {
        expect([200, 409, 503], describeOutcome(answer)).toContain(answer.status);
        if (answer.status !== 200) expect(['idempotency_key_in_flight', ...RETRY_LATER]).toContain(problemOf(answer));
      }
    }

    // The money: exactly the booked amounts moved, once.
    const beta = messages.filter((m) => m.partner === 'bank-beta').reduce((sum, m) => sum + totalCents(m.xml), 0n);
    const alpha = messages.filter((m) => m.partner === 'bank-alpha').reduce((sum, m) => sum + totalCents(m.xml), 0n);
    const { rows: balances } = await pool.query<{ name: string; balance: string }>(
      `select coalesce(p.bic, a.kind) as name, a.balance from accounts a left join participants p on p.id = a.participant_id where a.currency = 'EUR' order by 1`,
    );
    expect(Object.fromEntries(balances.map((row) => [row.name, BigInt(row.balance)]))).toEqual({
      ABNANL2AXXX: beta,
      COBADEFFXXX: DEV_FUNDING_MINOR - beta,
      DEUTDEFFXXX: DEV_FUNDING_MINOR - alpha,
      funding: -2n * DEV_FUNDING_MINOR,
      suspense: alpha,
    });
    await expectLedgerConsistent(pool);
    await expectReconciled(db!.url);
  });
});
