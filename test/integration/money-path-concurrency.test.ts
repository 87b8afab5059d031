/**
 * The money path under concurrency and a failing Redis, through the real gateway (mutual TLS, real tokens, real
 * Postgres and Redis): nothing may be lost, duplicated or invented whatever the client or the cache does.
 *
 * - duplicate storm: one message, one Idempotency-Key, 50 requests at once → booked once; every answer is the
 *   booked pacs.002 byte for byte or a 409 idempotency_key_in_flight. Then the same message under 20 new keys at
 *   once → 20 × 409 pacs.002 RJCT DUPL, nothing moved;
 * - hot account: 40 different messages at once from a bank whose balance covers exactly 7 of them (one cent short
 *   of the 8th) → exactly 7 ACSP, 33 RJCT AM04, the balance one cent short of one more payment;
 * - Redis forgetting (its keys deleted between attempts): the retry is replayed from the database, byte for byte;
 *   the key with another body is refused (422 idempotency_key_reused), decided by the database;
 * - Redis down from the start: the database alone books exactly once, replays, answers DUPL;
 * - a private redis-server SIGKILLed in the middle of a storm and restarted empty on the same port: still once.
 *
 * Every test ends with the ledger invariants of test/support/ledger-invariants.ts, and with `isogw reconcile`
 * finding no difference in the database it went through.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { postEntry } from '../../src/ledger/post-entry.ts';
import { ensureSettlementAccount } from '../../src/ledger/accounts.ts';
import { REPLAY_HEADER } from '../../src/payments/intake.ts';
import {
  INTAKE_PATH,
  type Matrix,
  type MatrixRequest,
  readPacs002,
  sendMatrix,
  startMatrix,
  validCertificateBoundRequest,
  validDpopRequest,
  withHeaders,
} from '../support/auth-matrix.ts';
import { deleteKeysWithPrefix } from '../support/authz.ts';
import { freePort, type GatewayAnswer, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { expectLedgerConsistent, expectReconciled } from '../support/ledger-invariants.ts';
import { freshPacs008 } from '../support/messages.ts';
import { startRedisServer, type PrivateRedis } from '../support/gateway-process.ts';

let matrix: Matrix;
const redisServers: PrivateRedis[] = [];

beforeAll(async () => {
  matrix = await startMatrix();
});

afterAll(async () => {
  await matrix?.close();
  for (const server of redisServers) await server.kill();
});

/** Sum of a message's EUR IntrBkSttlmAmt in cents, read from the decimal text. */
function totalCents(xml: string): bigint {
  return [...xml.matchAll(/<IntrBkSttlmAmt Ccy="EUR">(\d+)\.(\d{2})<\/IntrBkSttlmAmt>/g)].reduce((sum, m) => sum + BigInt(m[1]! + m[2]!), 0n);
}

/** EUR balances by participant BIC, or by kind for the gateway's own accounts. */
async function balances(gateway: TestGateway): Promise<Record<string, bigint>> {
  const { rows } = await gateway.database.pool.query<{ name: string; balance: string }>(
    `select coalesce(p.bic, a.kind) as name, a.balance from accounts a left join participants p on p.id = a.participant_id where a.currency = 'EUR'`,
  );
  return Object.fromEntries(rows.map((row) => [row.name, BigInt(row.balance)]));
}

async function counts(gateway: TestGateway): Promise<Record<string, number>> {
  const { rows } = await gateway.database.pool.query<Record<string, number>>(
    `select (select count(*)::int from messages) as messages, (select count(*)::int from payments) as payments,
            (select count(*)::int from journal_entries) as entries, (select count(*)::int from outbox) as outbox`,
  );
  return rows[0]!;
}

/** The keys under `prefix` (SCAN, so the shared Redis is never blocked; prefixes here hold no glob characters). */
async function keysWithPrefix(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

const isReplay = (answer: GatewayAnswer): boolean => answer.headers[REPLAY_HEADER] === 'true';
const describeAnswer = (answer: GatewayAnswer): string => `${answer.status} ${isReplay(answer) ? '(replayed) ' : ''}${answer.body.slice(0, 300)}`;

function problemOf(answer: GatewayAnswer): string | undefined {
  if (!String(answer.headers['content-type']).startsWith('application/json')) return undefined;
  return (JSON.parse(answer.body) as { error?: string }).error;
}

/** The same request sent to another gateway of the same authorization server (cert-bound tokens carry no htu). */
const to = (gateway: TestGateway, request: MatrixRequest): MatrixRequest => ({ ...request, url: `${gateway.origin}${INTAKE_PATH}` });

/**
 * What a careful client does: resend (rebuilt by `build`, e.g. with a fresh DPoP proof) while the answer is
 * "not yet" — 409 idempotency_key_in_flight or 503 ledger_unavailable — and return every answer seen. `signal`
 * stops it between attempts.
 */
async function sendUntilFinal(build: () => Promise<MatrixRequest> | MatrixRequest, attemptsMax = 200, signal?: AbortSignal): Promise<GatewayAnswer[]> {
  const answers: GatewayAnswer[] = [];
  for (let attempt = 0; attempt < attemptsMax; attempt += 1) {
    // a test that already failed stops its other clients, so the gateway can close
    signal?.throwIfAborted();
    const answer = await sendMatrix(await build());
    answers.push(answer);
    const problem = problemOf(answer);
    if (problem !== 'idempotency_key_in_flight' && problem !== 'ledger_unavailable') return answers;
    await sleep(50);
  }
  throw new Error(`no final answer after ${attemptsMax} attempts: ${answers.map(describeAnswer).join('\n')}`);
}

describe('duplicate storm', () => {
  it('books one message sent 50 times at once under one key exactly once; every answer is that pacs.002 or "in flight"', async () => {
    const gateway = matrix.gateway;
    const { request } = await validCertificateBoundRequest(matrix);
    const amount = totalCents(request.body!);
    const before = { counts: await counts(gateway), balances: await balances(gateway) };

    const answers = await Promise.all(Array.from({ length: 50 }, () => sendMatrix(request)));

    const accepted = answers.filter((answer) => answer.status === 200);
    const others = answers.filter((answer) => answer.status !== 200);
    for (const answer of others) {
      expect(answer.status, describeAnswer(answer)).toBe(409);
      expect(problemOf(answer), describeAnswer(answer)).toBe('idempotency_key_in_flight');
      expect(answer.headers['retry-after']).toBe('1');
    }
    expect(accepted.length).toBeGreaterThanOrEqual(1);
    expect(accepted.filter((answer) => !isReplay(answer)), 'exactly one request booked; every other 200 is a replay').toHaveLength(1);
    const booked = accepted.find((answer) => !isReplay(answer))!;
    for (const answer of accepted) expect(answer.body).toBe(booked.body);
    expect(readPacs002(booked.body)).toMatchObject({ groupStatus: 'ACSC', transactionStatuses: Array.from({ length: 10 }, () => 'ACSC') });

    // A retry after the storm: the same bytes, from the completed record.
    const retry = await sendMatrix(request);
    expect(retry.status).toBe(200);
    expect(isReplay(retry)).toBe(true);
    expect(retry.body).toBe(booked.body);

    const after = { counts: await counts(gateway), balances: await balances(gateway) };
    expect(after.counts).toEqual({
      messages: before.counts.messages! + 1,
      payments: before.counts.payments! + 10,
      entries: before.counts.entries! + 10,
      outbox: before.counts.outbox! + 20,
    });
    expect(after.balances).toEqual({ ...before.balances, COBADEFFXXX: before.balances.COBADEFFXXX! - amount, ABNANL2AXXX: before.balances.ABNANL2AXXX! + amount });

    // The same message under 20 new keys at once: the ledger knows its MsgId, so each is a 409 pacs.002 RJCT DUPL.
    const duplicates = await Promise.all(Array.from({ length: 20 }, () => sendMatrix(withHeaders(request, { 'idempotency-key': randomUUID() }))));
    for (const answer of duplicates) {
      expect(answer.status, describeAnswer(answer)).toBe(409);
      expect(String(answer.headers['content-type'])).toMatch(/^application\/xml\b/);
      const report = readPacs002(answer.body);
      expect(report.groupStatus, describeAnswer(answer)).toBe('RJCT');
      expect(report.reasonCodes).toContain('DUPL');
    }
    expect(await counts(gateway)).toEqual(after.counts);
    expect(await balances(gateway)).toEqual(after.balances);
    await expectLedgerConsistent(gateway.database.pool);
    await expectReconciled(gateway.database.url);
  });
});

describe('hot account', () => {
  it('lets exactly as many of 40 concurrent payments through as the balance covers; the rest are RJCT AM04', async () => {
    const gateway = matrix.gateway;
    const pool = gateway.database.pool;
    const amount = totalCents(freshPacs008('alpha1').xml);
    expect(amount).toBe(4_873_265n);
    const fits = 7n;
    // Bring bank-alpha's balance to exactly 7 payments and one cent short of an 8th, with a real transfer entry to
    // another participant (the ledger stays balanced; nothing is written around postEntry).
    const client = await pool.connect();
    try {
      await client.query('begin');
      const alpha = await ensureSettlementAccount(client, { bic: 'DEUTDEFFXXX', name: 'Bank Alpha' }, 'EUR');
      const elsewhere = await ensureSettlementAccount(client, { bic: 'INGBNL2AXXX', name: 'Parking' }, 'EUR');
      const { rows } = await client.query<{ balance: string }>('select balance from accounts where id = $1', [alpha.accountId.toString()]);
      const surplus = BigInt(rows[0]!.balance) - (fits * amount + amount - 1n);
      expect(surplus).toBeGreaterThan(0n);
      const posted = await postEntry(client, {
        kind: 'transfer',
        reference: 'test: leave bank-alpha 7 payments and one cent short of an 8th',
        lines: [
          { accountId: alpha.accountId, currency: 'EUR', direction: 'D', amount: surplus },
          { accountId: elsewhere.accountId, currency: 'EUR', direction: 'C', amount: surplus },
        ],
      });
      expect(posted.kind).toBe('posted');
      await client.query('commit');
    } catch (error) {
      await client.query('rollback');
      throw error;
    } finally {
      client.release();
    }
    const before = { counts: await counts(gateway), balances: await balances(gateway) };

    // 40 different messages, each with its own key, token and DPoP proof, all sent at once.
    const messages = Array.from({ length: 40 }, () => {
      const { xml, messageId } = freshPacs008('alpha1');
      return { xml, msgId: messageId, key: randomUUID() };
    });
    const build = (message: { xml: string; key: string }) => async () =>
      (await validDpopRequest(matrix, { body: message.xml, headers: { 'idempotency-key': message.key } })).request;
    const first = await Promise.all(messages.map(async (message) => (await build(message))()));
    const stop = new AbortController();
    const results = await Promise.all(
      first.map(async (request, i) => {
        const answer = await sendMatrix(request);
        const problem = problemOf(answer);
        // a 503 (lock wait exceeded) or a 409 in flight: resend with the same key, as a client would; a few times
        // only: bookings that deadlock on each other (each payment insert takes FOR KEY SHARE on the debtor's account
        // through the foreign key, then each booking wants to lock that row for writing) surface here as 503s after
        // bookMessage's own retries, and must fail this test rather than pass as "slow"
        if (problem === 'ledger_unavailable' || problem === 'idempotency_key_in_flight') return (await sendUntilFinal(build(messages[i]!), 10, stop.signal)).at(-1)!;
        return answer;
      }),
    ).finally(() => stop.abort());

    const acsp = results.filter((answer) => answer.status === 200);
    const rejected = results.filter((answer) => answer.status !== 200);
    for (const answer of acsp) expect(readPacs002(answer.body), describeAnswer(answer)).toMatchObject({ groupStatus: 'ACSP', transactionStatuses: ['ACSP'] });
    for (const answer of rejected) {
      expect(answer.status, describeAnswer(answer)).toBe(422);
      expect(readPacs002(answer.body), describeAnswer(answer)).toMatchObject({ groupStatus: 'RJCT', transactionStatuses: ['RJCT'], reasonCodes: ['AM04'] });
    }
    expect(acsp).toHaveLength(Number(fits));
    expect(rejected).toHaveLength(40 - Number(fits));

    const after = await balances(gateway);
    expect(after.DEUTDEFFXXX).toBe(amount - 1n);
    expect(after.suspense).toBe((before.balances.suspense ?? 0n) + fits * amount);
    expect(await counts(gateway)).toEqual({
      messages: before.counts.messages! + 40,
      payments: before.counts.payments! + 40,
      entries: before.counts.entries! + Number(fits),
      outbox: before.counts.outbox! + 80,
    });
    const { rows } = await pool.query<{ status: string; reason: string | null; n: number }>(
      `select p.status, p.status_reason as reason, count(*)::int as n
         from payments p join messages m on m.id = p.message_id
        where m.msg_id = any($1::text[]) group by 1, 2 order by 1`,
      [messages.map((message) => message.msgId)],
    );
    expect(rows).toEqual([
      { status: 'ACSP', reason: null, n: Number(fits) },
      { status: 'RJCT', reason: 'AM04', n: 40 - Number(fits) },
    ]);
    await expectLedgerConsistent(pool);
    await expectReconciled(gateway.database.url);
  });
});

describe('Redis forgets', () => {
  it('replays a booked message from the database after its Redis keys are gone, and refuses the key with another body', async () => {
    const gateway = matrix.gateway;
    const { request } = await validCertificateBoundRequest(matrix);
    const booked = await sendMatrix(request);
    expect(booked.status, describeAnswer(booked)).toBe(200);
    expect(isReplay(booked)).toBe(false);
    const before = { counts: await counts(gateway), balances: await balances(gateway) };

    await deleteKeysWithPrefix(matrix.as.redis, gateway.redisKeyPrefix);
    const replay = await sendMatrix(request);
    expect(replay.status, describeAnswer(replay)).toBe(200);
    expect(isReplay(replay)).toBe(true);
    expect(replay.body).toBe(booked.body);

    // the database's answer was put back into Redis: the next retry gets it from there, the same bytes again
    expect(await keysWithPrefix(matrix.as.redis, `${gateway.redisKeyPrefix}idem:`)).toHaveLength(1);
    const again = await sendMatrix(request);
    expect([again.status, isReplay(again), again.body]).toEqual([200, true, booked.body]);

    // The same key with another body: with Redis emptied first, the database decides.
    await deleteKeysWithPrefix(matrix.as.redis, gateway.redisKeyPrefix);
    const otherBody = { ...request, body: freshPacs008('beta10').xml };
    const reused = await sendMatrix(otherBody);
    expect(reused.status, describeAnswer(reused)).toBe(422);
    expect(problemOf(reused)).toBe('idempotency_key_reused');
    // and once more while Redis holds the original's record again
    expect((await sendMatrix(request)).body).toBe(booked.body);
    const reusedAgain = await sendMatrix(otherBody);
    expect([reusedAgain.status, problemOf(reusedAgain)]).toEqual([422, 'idempotency_key_reused']);

    expect(await counts(gateway)).toEqual(before.counts);
    expect(await balances(gateway)).toEqual(before.balances);
    await expectLedgerConsistent(gateway.database.pool);
    await expectReconciled(gateway.database.url);
  });
});

describe('Redis down', () => {
  it('books exactly once with no Redis at all: the database decides replay and DUPL, also for concurrent duplicates', async () => {
    const closedPort = await freePort();
    const gateway = matrix.track(await startTestGateway(matrix.as, { redisUrl: `redis://127.0.0.1:${closedPort}` }));
    const before = await balances(gateway);

    // one message, one key, sent twice one after the other
    const { request: built } = await validCertificateBoundRequest(matrix);
    const request = to(gateway, built);
    const amount = totalCents(request.body!);
    const booked = await sendMatrix(request);
    expect(booked.status, describeAnswer(booked)).toBe(200);
    expect(isReplay(booked)).toBe(false);
    const retry = await sendMatrix(request);
    expect([retry.status, isReplay(retry), retry.body]).toEqual([200, true, booked.body]);

    // then the same key 10 times and the same message under 5 new keys, all at once
    const burst = await Promise.all([
      ...Array.from({ length: 10 }, () => sendMatrix(request)),
      ...Array.from({ length: 5 }, () => sendMatrix(withHeaders(request, { 'idempotency-key': randomUUID() }))),
    ]);
    for (const answer of burst.slice(0, 10)) expect([answer.status, isReplay(answer), answer.body]).toEqual([200, true, booked.body]);
    for (const answer of burst.slice(10)) {
      expect(answer.status, describeAnswer(answer)).toBe(409);
      expect(readPacs002(answer.body).reasonCodes).toContain('DUPL');
    }

    // a new message whose first 12 requests (one key) all arrive at once: no Redis claim can hold them back, so
    // they meet in the database, which books one and replays to the others
    const { request: secondBuilt } = await validCertificateBoundRequest(matrix);
    const second = to(gateway, secondBuilt);
    const storm = await Promise.all(Array.from({ length: 12 }, () => sendMatrix(second)));
    for (const answer of storm) expect(answer.status, describeAnswer(answer)).toBe(200);
    expect(storm.filter((answer) => !isReplay(answer))).toHaveLength(1);
    expect(new Set(storm.map((answer) => answer.body)).size).toBe(1);

    const after = await balances(gateway);
    const moved = amount + totalCents(second.body!);
    expect(after).toEqual({ ...before, COBADEFFXXX: before.COBADEFFXXX! - moved, ABNANL2AXXX: before.ABNANL2AXXX! + moved });
    expect(await counts(gateway)).toEqual({ messages: 2, payments: 20, entries: 2 + 20, outbox: 40 }); // 2 funding entries
    await expectLedgerConsistent(gateway.database.pool);
    await expectReconciled(gateway.database.url);
  });

  it('stays exactly-once when its redis-server is SIGKILLed in the middle of a storm and comes back empty', async () => {
    const redis = await startRedisServer();
    redisServers.push(redis);
    const gateway = matrix.track(await startTestGateway(matrix.as, { redisUrl: redis.url }));
    const inspector = new Redis(redis.url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    inspector.on('error', () => {});
    try {
      const before = await balances(gateway);
      const messages = Array.from({ length: 16 }, () => ({ xml: freshPacs008('beta10').xml, key: randomUUID() }));
      const { request: template } = await validCertificateBoundRequest(matrix);
      const requestFor = (message: { xml: string; key: string }) =>
        withHeaders({ ...to(gateway, template), body: message.xml }, { 'idempotency-key': message.key });

      // 1. Redis up: the first message is booked and its answer is stored in Redis.
      const firstAnswer = await sendMatrix(requestFor(messages[0]!));
      expect(firstAnswer.status, describeAnswer(firstAnswer)).toBe(200);
      await inspector.connect();
      expect(await keysWithPrefix(inspector, `${gateway.redisKeyPrefix}idem:`)).toHaveLength(1);
      inspector.disconnect();

      // 2. A storm: message 1 ten times under its key, messages 2..15 once each; Redis is killed as soon as the first
      //    answer of the storm arrives, while the rest are on their way.
      const storm = [...Array.from({ length: 10 }, () => messages[1]!), ...messages.slice(2, 15)];
      let killed: Promise<void> | undefined;
      const stop = new AbortController();
      const stormAnswers = await Promise.all(
        storm.map(async (message) => {
          const answers = await sendUntilFinal(() => requestFor(message), 200, stop.signal);
          killed ??= redis.kill();
          return { message, answers };
        }),
      ).finally(() => stop.abort());
      await killed;
      expect(redis.running).toBe(false);

      // 3. Redis down: the first message again (replayed from the database), a new message (booked), the same
      //    message under a new key (DUPL), the first key with another body (refused).
      const replay = await sendMatrix(requestFor(messages[0]!));
      expect([replay.status, isReplay(replay), replay.body]).toEqual([200, true, firstAnswer.body]);
      const last = messages[15]!;
      const lastAnswer = await sendMatrix(requestFor(last));
      expect([lastAnswer.status, isReplay(lastAnswer)], describeAnswer(lastAnswer)).toEqual([200, false]);
      const lastRetry = await sendMatrix(requestFor(last));
      expect([lastRetry.status, isReplay(lastRetry), lastRetry.body]).toEqual([200, true, lastAnswer.body]);
      const duplicate = await sendMatrix(requestFor({ xml: last.xml, key: randomUUID() }));
      expect(duplicate.status, describeAnswer(duplicate)).toBe(409);
      expect(readPacs002(duplicate.body).reasonCodes).toContain('DUPL');
      const reused = await sendMatrix(requestFor({ xml: messages[2]!.xml, key: messages[0]!.key }));
      expect([reused.status, problemOf(reused)]).toEqual([422, 'idempotency_key_reused']);

      // 4. Redis back, empty, on the same port. Retry the first message until the gateway's client has reconnected
      //    (its answer lands in Redis again): every answer on the way is the same replay.
      await redis.start();
      await inspector.connect();
      let reconnected = false;
      for (let attempt = 0; attempt < 200 && !reconnected; attempt += 1) {
        const answer = await sendMatrix(requestFor(messages[0]!));
        expect([answer.status, isReplay(answer), answer.body]).toEqual([200, true, firstAnswer.body]);
        reconnected = (await keysWithPrefix(inspector, `${gateway.redisKeyPrefix}idem:`)).length > 0;
        if (!reconnected) await sleep(50);
      }
      expect(reconnected, 'the gateway uses the restarted Redis again').toBe(true);

      // 5. Every message of the storm, retried with its key: the same bytes as every 200 seen for it before.
      const seen = new Map<string, GatewayAnswer[]>();
      for (const { message, answers } of stormAnswers) seen.set(message.key, [...(seen.get(message.key) ?? []), ...answers]);
      for (const message of messages.slice(1)) {
        const finals = (await sendUntilFinal(() => requestFor(message))).filter((answer) => answer.status === 200);
        const all = [...(seen.get(message.key) ?? []), ...finals, ...(message === last ? [lastAnswer, lastRetry] : [])];
        const bodies = new Set(all.filter((answer) => answer.status === 200).map((answer) => answer.body));
        expect(bodies.size, `message ${message.key}: ${all.map(describeAnswer).join('\n')}`).toBe(1);
        for (const answer of all) expect([200, 409], describeAnswer(answer)).toContain(answer.status);
        for (const answer of all.filter((a) => a.status === 409)) expect(problemOf(answer)).toBe('idempotency_key_in_flight');
      }
      // Message 1's ten concurrent requests, across Redis dying: exactly one of them booked it, the rest replayed.
      const messageOne = seen.get(messages[1]!.key)!.filter((answer) => answer.status === 200);
      expect(messageOne).toHaveLength(10);
      expect(messageOne.filter((answer) => !isReplay(answer))).toHaveLength(1);

      // Each of the 16 messages booked exactly once, all 10 payments settled on-us.
      const total = messages.reduce((sum, message) => sum + totalCents(message.xml), 0n);
      expect(await counts(gateway)).toEqual({ messages: 16, payments: 160, entries: 2 + 160, outbox: 320 });
      expect(await balances(gateway)).toEqual({ ...before, COBADEFFXXX: before.COBADEFFXXX! - total, ABNANL2AXXX: before.ABNANL2AXXX! + total });
      await expectLedgerConsistent(gateway.database.pool);
      await expectReconciled(gateway.database.url);
    } finally {
      inspector.disconnect();
    }
  });
});
