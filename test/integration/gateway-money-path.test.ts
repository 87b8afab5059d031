/**
 * The money path through the real gateway: Idempotency-Key semantics, duplicates decided by the ledger, and what
 * each ledger outcome looks like in the pacs.002 and in the database. bank-beta (certificate-bound token) sends
 * 'beta10' (ten payments to bank-gamma, a participant: settled on-us, ACSC); bank-alpha (DPoP) sends 'alpha1' (one
 * payment to a bank outside the gateway: held in suspense, ACSP).
 */
import { createHash, randomUUID } from 'node:crypto';

import { XmlDocument } from 'libxml2-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { requestFingerprint } from '../../src/idempotency/index.ts';
import { postEntry } from '../../src/ledger/post-entry.ts';
import {
  expectLedgerUntouched,
  ledgerSnapshot,
  type Matrix,
  readPacs002,
  sendMatrix,
  startMatrix,
  validCertificateBoundRequest,
  validDpopRequest,
} from '../support/auth-matrix.ts';
import { schemas } from '../support/fixtures.ts';
import type { GatewayAnswer } from '../support/gateway.ts';
import { freshPacs008 } from '../support/messages.ts';

let matrix: Matrix;

beforeAll(async () => {
  matrix = await startMatrix();
});

afterAll(async () => {
  await matrix?.close();
});

/** `key: null` sends no Idempotency-Key at all. */
async function sendBeta(body: string, key: string | string[] | null = randomUUID()): Promise<GatewayAnswer> {
  const { request } = await validCertificateBoundRequest(matrix, { body, headers: { 'idempotency-key': key ?? undefined } });
  return sendMatrix(request);
}

async function sendAlpha(body: string, key: string = randomUUID()): Promise<GatewayAnswer> {
  const { request } = await validDpopRequest(matrix, { body, headers: { 'idempotency-key': key } });
  return sendMatrix(request);
}

async function balance(bic: string, currency = 'EUR'): Promise<bigint> {
  const { rows } = await matrix.gateway.database.pool.query<{ balance: string }>(
    `select a.balance from accounts a join participants p on p.id = a.participant_id where p.bic = $1 and a.currency = $2 and a.kind = 'settlement'`,
    [bic, currency],
  );
  return BigInt(rows[0]?.balance ?? '0');
}

function cents(xml: string): bigint[] {
  return [...xml.matchAll(/<IntrBkSttlmAmt Ccy="[A-Z]{3}">(\d+)\.(\d{2})<\/IntrBkSttlmAmt>/g)].map((m) => BigInt(m[1]! + m[2]!));
}

function validPacs002(xml: string): void {
  const namespace = /xmlns="urn:iso:std:iso:20022:tech:xsd:(pacs\.002\.001\.\d{2})"/.exec(xml)?.[1];
  expect(namespace).toBeDefined();
  const doc = XmlDocument.fromString(xml);
  try {
    schemas.validatorFor(namespace!).validate(doc);
  } finally {
    doc.dispose();
  }
}

describe('Idempotency-Key', () => {
  it('is required: a POST without it is 400 idempotency_key_missing, before the body is read, and books nothing', async () => {
    const before = await ledgerSnapshot(matrix);
    const answer = await sendBeta(freshPacs008('beta10').xml, null);
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'idempotency_key_missing' });
    expect(answer.headers['cache-control']).toBe('no-store');
    await expectLedgerUntouched(matrix, before);
  });

  it('refuses two Idempotency-Key fields, an empty one and an over-long one with 400 idempotency_key_invalid', async () => {
    for (const key of [['a', 'b'], '', 'k'.repeat(256), '"unterminated']) {
      const answer = await sendBeta(freshPacs008('beta10').xml, key);
      expect(answer.status, JSON.stringify(key)).toBe(400);
      expect(JSON.parse(answer.body)).toMatchObject({ error: 'idempotency_key_invalid' });
    }
  });

  it('replays the stored answer byte for byte to a retry with the same key and body, marked as a replay; money moves once', async () => {
    const { xml } = freshPacs008('beta10');
    const key = randomUUID();
    const total = cents(xml).reduce((a, b) => a + b, 0n);
    const betaBefore = await balance('COBADEFFXXX');
    const first = await sendBeta(xml, key);
    expect(first.status).toBe(200);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(readPacs002(first.body)).toMatchObject({ groupStatus: 'ACSC', transactionStatuses: Array(10).fill('ACSC') });
    validPacs002(first.body);
    const after = await ledgerSnapshot(matrix);

    const retry = await sendBeta(xml, `"${key}"`); // the sf-string form names the same key
    expect(retry.status).toBe(200);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body).toBe(first.body);
    await expectLedgerUntouched(matrix, after);
    expect(await balance('COBADEFFXXX')).toBe(betaBefore - total);
  });

  it('answers a retry from the ledger when the first request committed but died before telling Redis (claim still in flight)', async () => {
    const { xml } = freshPacs008('beta10');
    const key = randomUUID();
    const first = await sendBeta(xml, key);
    expect(first.status).toBe(200);
    // What a crash between COMMIT and the Redis update leaves behind: the claim, still marked in flight.
    const redisKey = `${matrix.gateway.redisKeyPrefix}idem:{bank-beta}:${createHash('sha256').update(key).digest('base64url')}`;
    const stored = JSON.parse((await matrix.as.redis.get(redisKey))!) as { token: string; fingerprint: string };
    expect(stored.fingerprint).toBe(requestFingerprint(Buffer.from(xml)));
    await matrix.as.redis.set(redisKey, JSON.stringify({ state: 'in_flight', token: stored.token, fingerprint: stored.fingerprint }), 'EX', 30);
    const after = await ledgerSnapshot(matrix);

    const retry = await sendBeta(xml, key);
    expect(retry.status).toBe(200);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body).toBe(first.body);
    expect((await sendBeta(freshPacs008('beta10').xml, key)).status).toBe(422);
    await expectLedgerUntouched(matrix, after);
  });

  it('answers 422 idempotency_key_reused when the same key comes with a different body, and books nothing', async () => {
    const key = randomUUID();
    expect((await sendBeta(freshPacs008('beta10').xml, key)).status).toBe(200);
    const after = await ledgerSnapshot(matrix);
    const answer = await sendBeta(freshPacs008('beta10').xml, key);
    expect(answer.status).toBe(422);
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'idempotency_key_reused' });
    await expectLedgerUntouched(matrix, after);
  });

  it('keys are per partner: bank-alpha may use a key bank-beta used', async () => {
    const key = randomUUID();
    expect((await sendBeta(freshPacs008('beta10').xml, key)).status).toBe(200);
    const answer = await sendAlpha(freshPacs008('alpha1').xml, key);
    expect(answer.status).toBe(200);
    expect(readPacs002(answer.body).groupStatus).toBe('ACSP');
  });

  it('does not claim the key for a message the schema rejects: the corrected message may reuse it', async () => {
    const key = randomUUID();
    const before = await ledgerSnapshot(matrix);
    const broken = freshPacs008('beta10').xml.replace(/<NbOfTxs>10<\/NbOfTxs>/, '<NbOfTxs>ten</NbOfTxs>');
    const rejected = await sendBeta(broken, key);
    expect(rejected.status).toBe(422);
    expect(readPacs002(rejected.body).groupStatus).toBe('RJCT');
    await expectLedgerUntouched(matrix, before);
    expect((await sendBeta(freshPacs008('beta10').xml, key)).status).toBe(200);
  });
});

describe('the ledger has the final word on duplicates', () => {
  it('answers the same message under a new key with 409 and a pacs.002 RJCT DUPL naming the original, posting nothing', async () => {
    const { xml, messageId } = freshPacs008('beta10');
    expect((await sendBeta(xml)).status).toBe(200);
    const after = await ledgerSnapshot(matrix);
    const answer = await sendBeta(xml);
    expect(answer.status).toBe(409);
    validPacs002(answer.body);
    const report = readPacs002(answer.body);
    expect(report.groupStatus).toBe('RJCT');
    expect(report.reasonCodes).toEqual(['DUPL']);
    expect(report.additionalInformation.join(' ')).toContain(messageId);
    expect(report.additionalInformation.join(' ')).toContain('ACSC');
    await expectLedgerUntouched(matrix, after);
  });

  it('rejects, with DUPL per transaction, payments whose UETR or TxId were booked before, even in a new message', async () => {
    const first = freshPacs008('beta10').xml;
    expect((await sendBeta(first)).status).toBe(200);
    const after = await ledgerSnapshot(matrix);
    // A new MsgId (and new EndToEndIds) carrying the same payments: same UETRs and TxIds.
    const again = freshPacs008('beta10').xml;
    const uetrs = [...first.matchAll(/<UETR>([^<]+)<\/UETR>/g)].map((m) => m[1]!);
    const txIds = [...first.matchAll(/<TxId>([^<]+)<\/TxId>/g)].map((m) => m[1]!);
    let u = 0;
    let t = 0;
    const replayed = again.replace(/<UETR>[^<]+<\/UETR>/g, () => `<UETR>${uetrs[u++]}</UETR>`).replace(/<TxId>[^<]+<\/TxId>/g, () => `<TxId>${txIds[t++]}</TxId>`);
    const answer = await sendBeta(replayed);
    expect(answer.status).toBe(409);
    const report = readPacs002(answer.body);
    expect(report.transactionStatuses).toEqual(Array(10).fill('RJCT'));
    expect(report.reasonCodes).toEqual(Array(10).fill('DUPL'));
    const { payments, entries, outbox } = await ledgerSnapshot(matrix);
    expect({ payments, entries, outbox }).toEqual({ payments: after.payments, entries: after.entries, outbox: after.outbox });
  });
});

describe('what the ledger decides, as the pacs.002 and the database show it', () => {
  it('settles on-us at once: RCVD then ACSC events, one balanced entry per payment, an outbox row per event', async () => {
    const { xml, messageId } = freshPacs008('beta10');
    expect((await sendBeta(xml)).status).toBe(200);
    const { rows } = await matrix.gateway.database.pool.query<{ status: string; route: string; events: string[]; outbox: string[]; entries: string }>(
      `select p.status, p.route,
              array(select e.status from payment_events e where e.payment_id = p.id order by e.sequence) as events,
              array(select o.event_type from outbox o where o.payment_id = p.id order by o.sequence) as outbox,
              (select count(distinct e.entry_id) from payment_events e where e.payment_id = p.id and e.entry_id is not null) as entries
         from payments p join messages m on m.id = p.message_id where m.msg_id = $1 order by p.tx_index`,
      [messageId],
    );
    expect(rows).toHaveLength(10);
    for (const row of rows) {
      expect(row).toEqual({ status: 'ACSC', route: 'on_us', events: ['RCVD', 'ACSC'], outbox: ['payment.received', 'payment.settled'], entries: '1' });
    }
  });

  it('holds an onward payment in suspense (ACSP): the debtor is debited, the suspense account credited', async () => {
    const { xml } = freshPacs008('alpha1');
    const [amount] = cents(xml);
    const before = await balance('DEUTDEFFXXX');
    const answer = await sendAlpha(xml);
    expect(answer.status).toBe(200);
    expect(readPacs002(answer.body).transactionStatuses).toEqual(['ACSP']);
    validPacs002(answer.body);
    expect(await balance('DEUTDEFFXXX')).toBe(before - amount!);
  });

  it('rejects with AM03 a payment in a currency the instructing agent holds no account in, posting nothing', async () => {
    const xml = freshPacs008('alpha1').xml.replaceAll('Ccy="EUR"', 'Ccy="USD"');
    const before = await ledgerSnapshot(matrix);
    const answer = await sendAlpha(xml);
    expect(answer.status).toBe(422);
    const report = readPacs002(answer.body);
    expect(report).toMatchObject({ transactionStatuses: ['RJCT'], reasonCodes: ['AM03'] });
    validPacs002(answer.body);
    const after = await ledgerSnapshot(matrix);
    // The message and its rejected payment are recorded (so a retry replays the answer); no money moved.
    expect(after.entries).toBe(before.entries);
    expect(after.payments).toBe(before.payments! + 1);
  });

  it('rejects with AM04 what the debtor cannot cover, settles what it can (PART), and moves exactly the settled sum', async () => {
    // Leave bank-beta with less than one message's worth: move the rest to bank-gamma with an ordinary transfer.
    const pool = matrix.gateway.database.pool;
    const { rows: ids } = await pool.query<{ bic: string; id: string }>(
      `select p.bic, a.id from accounts a join participants p on p.id = a.participant_id where a.currency = 'EUR' and p.bic in ('COBADEFFXXX', 'ABNANL2AXXX')`,
    );
    const beta = BigInt(ids.find((r) => r.bic === 'COBADEFFXXX')!.id);
    const gamma = BigInt(ids.find((r) => r.bic === 'ABNANL2AXXX')!.id);
    const keep = 20_000_00n; // €20,000.00: some of the ten payments fit, not all
    const client = await pool.connect();
    try {
      await client.query('begin');
      const drain = (await balance('COBADEFFXXX')) - keep;
      await postEntry(client, { kind: 'transfer', reference: 'test: drain bank-beta', lines: [
        { accountId: beta, currency: 'EUR', direction: 'D', amount: drain },
        { accountId: gamma, currency: 'EUR', direction: 'C', amount: drain },
      ] });
      await client.query('commit');
    } finally {
      client.release();
    }
    const { xml } = freshPacs008('beta10');
    const amounts = cents(xml);
    const answer = await sendBeta(xml);
    expect(answer.status).toBe(200);
    validPacs002(answer.body);
    const report = readPacs002(answer.body);
    expect(report.groupStatus).toBe('PART');
    // The ledger takes the payments in message order; each one that still fits settles.
    let left = keep;
    const expected = amounts.map((amount) => {
      if (amount <= left) {
        left -= amount;
        return 'ACSC';
      }
      return 'RJCT';
    });
    expect(report.transactionStatuses).toEqual(expected);
    expect(report.reasonCodes).toEqual(expected.filter((s) => s === 'RJCT').map(() => 'AM04'));
    expect(await balance('COBADEFFXXX')).toBe(left);
  });
});
