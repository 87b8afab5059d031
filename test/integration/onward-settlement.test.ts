/**
 * The second phase of onward payments on real PostgreSQL. Every held payment here is made by production code: a
 * real pacs.008 (the bank-alpha bench message, fresh ids) checked by checkPacs008 and booked by bookMessage, to a
 * creditor agent (NWBKGB2LXXX) that is not a participant — so DEUTDEFFXXX is debited and suspense credited (ACSP).
 *
 * Then, through the isogw_app role (the gateway's privileges, not the owner's): settle moves the hold to clearing
 * (ACSC), release voids it back to the debtor (RJCT + ISO reason), each with its ledger entry, status event, outbox
 * row and an XSD-valid pacs.002; a second completion, a concurrent one, an unknown UETR and a bad reason change
 * nothing. Last, the same through the real `isogw payments` executable, connected as the owner.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { XmlDocument } from 'libxml2-wasm';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createDatabasePool } from '../../src/db/pool.ts';
import { checkPacs008 } from '../../src/iso20022/index.ts';
import { fundSettlementAccount } from '../../src/ledger/fund.ts';
import { bookMessage } from '../../src/payments/book-message.ts';
import {
  EXTERNAL_STATUS_REASON_CODES,
  OnwardSettlementError,
  RELEASE_INFO_CHARACTERS_MAX,
  releaseHeldPayment,
  settleHeldPayment,
} from '../../src/payments/onward-settlement.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { schemas } from '../support/fixtures.ts';
import { freshPacs008 } from '../support/messages.ts';

let db: TestDatabase;
/** The gateway's connection: every statement runs as isogw_app. */
let app: pg.Pool;

/** What DEUTDEFFXXX is funded with, and the bench message's IntrBkSttlmAmt (48732.65 EUR) in cents. */
const FUNDING = 1_000_000_00n;
const AMOUNT = 48_732_65n;
const GATEWAY_BIC = 'ISGWDEFFXXX';
const PACS002_PREFIX = 'urn:iso:std:iso:20022:tech:xsd:';

beforeAll(async () => {
  db = await createTestDatabase();
  app = createDatabasePool({ url: db.url, role: 'isogw_app' });
  await fundSettlementAccount(db.pool, { bic: 'DEUTDEFFXXX', name: 'Alpha Bank AG', currency: 'EUR', amount: FUNDING, reference: 'seed alpha' });
});

afterAll(async () => {
  await app?.end();
  await db?.close();
});

interface HeldPayment {
  readonly paymentId: bigint;
  readonly holdEntryId: bigint;
  readonly uetr: string;
  readonly endToEndId: string;
  readonly txId: string;
  readonly instructionId: string;
  readonly msgId: string;
}

/** A pacs.008 checked and booked as the intake does it: held for the onward leg (ACSP). */
async function bookHeldPayment(): Promise<HeldPayment> {
  const { xml, messageId } = freshPacs008('alpha1');
  const checked = checkPacs008(Buffer.from(xml), { schemas, now: new Date() });
  if (checked.kind !== 'checked' || !checked.accepted) throw new Error(`the bench message was not accepted: ${JSON.stringify(checked.reasons)}`);
  const outcome = await bookMessage(app, {
    clientId: 'bank-alpha',
    idempotencyKey: randomUUID(),
    fingerprint: randomUUID(),
    checked,
    answer: () => ({ status: 200, body: '<x/>' }),
  });
  if (outcome.kind !== 'booked') throw new Error(`booking answered ${outcome.kind}`);
  const booking = outcome.bookings.get(1);
  if (booking?.kind !== 'held') throw new Error(`the payment was not held: ${JSON.stringify(booking, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
  const pick = (element: string) => new RegExp(`<${element}>([^<]+)</${element}>`).exec(xml)?.[1] ?? '';
  expect(booking.uetr).toBe(pick('UETR'));
  return { paymentId: booking.paymentId, holdEntryId: booking.entryId, uetr: booking.uetr, endToEndId: pick('EndToEndId'), txId: pick('TxId'), instructionId: pick('InstrId'), msgId: messageId };
}

/** DEUTDEFFXXX's EUR settlement account and the gateway's EUR suspense and clearing accounts (0 before they exist). */
async function balances(): Promise<{ debtor: bigint; suspense: bigint; clearing: bigint }> {
  const { rows } = await db.pool.query<{ who: string; balance: string }>(
    `select coalesce(p.bic, a.kind) as who, a.balance from accounts a left join participants p on p.id = a.participant_id
      where a.currency = 'EUR' and (p.bic = 'DEUTDEFFXXX' or a.kind in ('suspense', 'clearing'))`,
  );
  const of = (who: string) => BigInt(rows.find((row) => row.who === who)?.balance ?? '0');
  return { debtor: of('DEUTDEFFXXX'), suspense: of('suspense'), clearing: of('clearing') };
}

async function paymentRow(paymentId: bigint) {
  const { rows } = await db.pool.query<{ status: string; status_reason: string | null; sequence: number }>(
    'select status, status_reason, sequence from payments where id = $1',
    [paymentId.toString()],
  );
  return rows[0];
}

async function history(paymentId: bigint) {
  const { rows } = await db.pool.query<{ sequence: number; status: string; reason: string | null; reason_info: string | null; entry_id: string | null; report_xml: string | null }>(
    'select sequence, status, reason, reason_info, entry_id, report_xml from payment_events where payment_id = $1 order by sequence',
    [paymentId.toString()],
  );
  return rows;
}

async function outbox(paymentId: bigint) {
  const { rows } = await db.pool.query<{ sequence: number; event_type: string; payload: Record<string, unknown> }>(
    'select sequence, event_type, payload from outbox where payment_id = $1 order by id',
    [paymentId.toString()],
  );
  return rows;
}

async function entry(entryId: bigint) {
  const { rows } = await db.pool.query<{ kind: string; reference: string; direction: string; amount: string; account_kind: string; bic: string | null }>(
    `select e.kind, e.reference, p.direction, p.amount, a.kind as account_kind, pa.bic
       from journal_entries e join postings p on p.entry_id = e.id join accounts a on a.id = p.account_id
       left join participants pa on pa.id = a.participant_id
      where e.id = $1 order by p.direction desc`,
    [entryId.toString()],
  );
  return rows;
}

/** Rows that only grow: a completion that "changes nothing" must leave every count where it was. */
async function counts() {
  const { rows } = await db.pool.query<{ entries: string; events: string; outbox: string }>(
    'select (select count(*) from journal_entries) as entries, (select count(*) from payment_events) as events, (select count(*) from outbox) as outbox',
  );
  return { ...rows[0], ...(await balances()) };
}

/** Every currency's balances sum to zero, and every balance column equals the sum of its postings. */
async function expectLedgerConsistent(): Promise<void> {
  const totals = await db.pool.query<{ currency: string; total: string }>('select currency, sum(balance) as total from accounts group by currency');
  for (const row of totals.rows) expect(BigInt(row.total), row.currency).toBe(0n);
  const mismatches = await db.pool.query(
    `select a.id from accounts a left join postings p on p.account_id = a.id group by a.id
     having a.balance <> coalesce(sum(case p.direction when 'C' then p.amount else -p.amount end), 0)`,
  );
  expect(mismatches.rows).toEqual([]);
}

/** The report, validated against the official XSD of its version, and what it says. */
function readReport(xml: string) {
  const doc = XmlDocument.fromString(xml);
  try {
    const namespace = doc.root.namespaceUri;
    schemas.validatorFor(namespace.slice(PACS002_PREFIX.length)).validate(doc);
    const ns = { p: namespace };
    const text = (path: string) => String(doc.eval(`string(${path})`, ns));
    return {
      version: namespace.slice(PACS002_PREFIX.length),
      msgId: text('//p:GrpHdr/p:MsgId'),
      creationDateTime: text('//p:GrpHdr/p:CreDtTm'),
      instructingAgent: text('//p:GrpHdr/p:InstgAgt/p:FinInstnId/p:BICFI'),
      instructedAgent: text('//p:GrpHdr/p:InstdAgt/p:FinInstnId/p:BICFI'),
      originalMsgId: text('//p:OrgnlGrpInfAndSts/p:OrgnlMsgId'),
      originalMessageType: text('//p:OrgnlGrpInfAndSts/p:OrgnlMsgNmId'),
      groupStatus: text('//p:OrgnlGrpInfAndSts/p:GrpSts'),
      transactions: Number(doc.eval('count(//p:TxInfAndSts)', ns)),
      endToEndId: text('//p:TxInfAndSts/p:OrgnlEndToEndId'),
      txId: text('//p:TxInfAndSts/p:OrgnlTxId'),
      uetr: text('//p:TxInfAndSts/p:OrgnlUETR'),
      status: text('//p:TxInfAndSts/p:TxSts'),
      reason: text('//p:TxInfAndSts/p:StsRsnInf/p:Rsn/p:Cd'),
      info: (doc.find('//p:TxInfAndSts/p:StsRsnInf/p:AddtlInf', ns) as { content: string }[]).map((node) => node.content).join(''),
      amount: `${text('//p:TxInfAndSts/p:OrgnlTxRef/p:IntrBkSttlmAmt')} ${text('//p:TxInfAndSts/p:OrgnlTxRef/p:IntrBkSttlmAmt/@Ccy')}`,
    };
  } finally {
    doc.dispose();
  }
}

describe('settleHeldPayment (as isogw_app)', () => {
  it('moves the hold from suspense to clearing, makes the payment ACSC with its event, outbox row and an XSD-valid pacs.002', async () => {
    expect((await app.query<{ role: string }>('select current_user as role')).rows).toEqual([{ role: 'isogw_app' }]);
    const held = await bookHeldPayment();
    const afterHold = await balances();
    expect(afterHold).toEqual({ debtor: FUNDING - AMOUNT, suspense: AMOUNT, clearing: 0n });
    const now = new Date();

    const result = await settleHeldPayment(app, { uetr: held.uetr.toUpperCase(), now, newReportId: () => 'REPORT-SETTLE-1', gatewayBic: GATEWAY_BIC });
    if (result.kind !== 'settled') throw new Error(`expected settled, got ${result.kind}`);
    expect(result.paymentId).toBe(held.paymentId);
    expect(result.sequence).toBe(3);

    expect(await balances()).toEqual({ debtor: FUNDING - AMOUNT, suspense: 0n, clearing: AMOUNT });
    expect(await paymentRow(held.paymentId)).toEqual({ status: 'ACSC', status_reason: null, sequence: 3 });
    expect(await entry(result.entryId)).toEqual([
      { kind: 'hold_post', reference: `payment:${held.paymentId}`, direction: 'D', amount: AMOUNT.toString(), account_kind: 'suspense', bic: null },
      { kind: 'hold_post', reference: `payment:${held.paymentId}`, direction: 'C', amount: AMOUNT.toString(), account_kind: 'clearing', bic: null },
    ]);

    const events = await history(held.paymentId);
    expect(events.map((e) => [e.sequence, e.status, e.reason, e.entry_id])).toEqual([
      [1, 'RCVD', null, null],
      [2, 'ACSP', null, held.holdEntryId.toString()],
      [3, 'ACSC', null, result.entryId.toString()],
    ]);
    expect(events[2]?.report_xml).toBe(result.reportXml);
    const rows = await outbox(held.paymentId);
    expect(rows.map((r) => [r.sequence, r.event_type, r.payload['status']])).toEqual([
      [1, 'payment.received', 'RCVD'],
      [2, 'payment.accepted_in_process', 'ACSP'],
      [3, 'payment.settled', 'ACSC'],
    ]);
    expect(rows[2]?.payload).toMatchObject({ uetr: held.uetr, endToEndId: held.endToEndId, msgId: held.msgId, amount: { currency: 'EUR', minor: AMOUNT.toString() }, reason: null });

    expect(readReport(result.reportXml)).toEqual({
      version: 'pacs.002.001.10', // paired with pacs.008.001.08
      msgId: 'REPORT-SETTLE-1',
      creationDateTime: now.toISOString(),
      instructingAgent: GATEWAY_BIC,
      instructedAgent: 'DEUTDEFFXXX',
      originalMsgId: held.msgId,
      originalMessageType: 'pacs.008.001.08',
      groupStatus: '',
      transactions: 1,
      endToEndId: held.endToEndId,
      txId: held.txId,
      uetr: held.uetr,
      status: 'ACSC',
      reason: '',
      info: '',
      amount: '48732.65 EUR',
    });
    await expectLedgerConsistent();
  });

  it('answers not_held to a second settle and to a release after it, changing nothing', async () => {
    const held = await bookHeldPayment();
    const first = await settleHeldPayment(app, { uetr: held.uetr, now: new Date(), newReportId: () => 'REPORT-SETTLE-2' });
    expect(first.kind).toBe('settled');
    const before = await counts();
    const request = { uetr: held.uetr, now: new Date(), newReportId: () => 'REPORT-AGAIN' };
    expect(await settleHeldPayment(app, request)).toEqual({ kind: 'not_held', status: 'ACSC' });
    expect(await releaseHeldPayment(app, { ...request, reason: 'AC04' })).toEqual({ kind: 'not_held', status: 'ACSC' });
    expect(await counts()).toEqual(before);
    expect(await paymentRow(held.paymentId)).toEqual({ status: 'ACSC', status_reason: null, sequence: 3 });
  });

  it('answers not_found to a UETR no payment has (or text that is no UUID), writing nothing', async () => {
    const before = await counts();
    const request = { now: new Date(), newReportId: () => 'REPORT-NONE' };
    expect(await settleHeldPayment(app, { ...request, uetr: randomUUID() })).toEqual({ kind: 'not_found' });
    expect(await releaseHeldPayment(app, { ...request, uetr: randomUUID(), reason: 'AB05' })).toEqual({ kind: 'not_found' });
    expect(await settleHeldPayment(app, { ...request, uetr: "x' or true --" })).toEqual({ kind: 'not_found' });
    expect(await counts()).toEqual(before);
  });

  it('writes nothing when the report cannot be written (a gateway BIC that is not one)', async () => {
    const held = await bookHeldPayment();
    const before = await counts();
    await expect(settleHeldPayment(app, { uetr: held.uetr, now: new Date(), newReportId: () => 'REPORT-BAD-BIC', gatewayBic: 'not a bic' })).rejects.toThrow(/instructingAgentBic/);
    expect(await counts()).toEqual(before);
    expect(await paymentRow(held.paymentId)).toEqual({ status: 'ACSP', status_reason: null, sequence: 2 });
    expect((await settleHeldPayment(app, { uetr: held.uetr, now: new Date(), newReportId: () => 'REPORT-GOOD-BIC' })).kind).toBe('settled');
  });
});

describe('releaseHeldPayment (as isogw_app)', () => {
  it('voids the hold back to the debtor and makes the payment RJCT with the ISO reason, its explanation and a pacs.002 saying so', async () => {
    const held = await bookHeldPayment();
    const before = await balances();
    expect(before.suspense).toBe(AMOUNT);
    const info = 'NWBKGB2L answered: creditor account closed\r\n(onward ref 42 & <co>)';

    const result = await releaseHeldPayment(app, { uetr: held.uetr, reason: 'AC04', info, now: new Date(), newReportId: () => 'REPORT-RELEASE-1', gatewayBic: GATEWAY_BIC });
    if (result.kind !== 'released') throw new Error(`expected released, got ${result.kind}`);
    expect(result.sequence).toBe(3);

    expect(await balances()).toEqual({ debtor: before.debtor + AMOUNT, suspense: 0n, clearing: before.clearing });
    expect(await paymentRow(held.paymentId)).toEqual({ status: 'RJCT', status_reason: 'AC04', sequence: 3 });
    expect(await entry(result.entryId)).toEqual([
      { kind: 'hold_void', reference: `payment:${held.paymentId}`, direction: 'D', amount: AMOUNT.toString(), account_kind: 'suspense', bic: null },
      { kind: 'hold_void', reference: `payment:${held.paymentId}`, direction: 'C', amount: AMOUNT.toString(), account_kind: 'settlement', bic: 'DEUTDEFFXXX' },
    ]);
    const stored = 'NWBKGB2L answered: creditor account closed\n(onward ref 42 & <co>)';
    const events = await history(held.paymentId);
    expect(events.map((e) => [e.sequence, e.status, e.reason, e.reason_info, e.entry_id])).toEqual([
      [1, 'RCVD', null, null, null],
      [2, 'ACSP', null, null, held.holdEntryId.toString()],
      [3, 'RJCT', 'AC04', stored, result.entryId.toString()],
    ]);
    const rows = await outbox(held.paymentId);
    expect(rows.map((r) => [r.sequence, r.event_type])).toEqual([[1, 'payment.received'], [2, 'payment.accepted_in_process'], [3, 'payment.rejected']]);
    expect(rows[2]?.payload).toMatchObject({ status: 'RJCT', reason: 'AC04', reasonInfo: stored, uetr: held.uetr });

    expect(readReport(result.reportXml)).toMatchObject({
      msgId: 'REPORT-RELEASE-1',
      originalMsgId: held.msgId,
      groupStatus: '',
      transactions: 1,
      uetr: held.uetr,
      endToEndId: held.endToEndId,
      status: 'RJCT',
      reason: 'AC04',
      info: stored,
      amount: '48732.65 EUR',
    });
    await expectLedgerConsistent();

    const again = { uetr: held.uetr, now: new Date(), newReportId: () => 'REPORT-AGAIN' };
    const unchanged = await counts();
    expect(await releaseHeldPayment(app, { ...again, reason: 'AC04' })).toEqual({ kind: 'not_held', status: 'RJCT' });
    expect(await settleHeldPayment(app, again)).toEqual({ kind: 'not_held', status: 'RJCT' });
    expect(await counts()).toEqual(unchanged);
  });

  it('refuses a reason outside ExternalStatusReason1Code and unusable explanations, before touching anything', async () => {
    const held = await bookHeldPayment();
    const before = await counts();
    const request = { uetr: held.uetr, now: new Date(), newReportId: () => 'REPORT-REFUSED' };
    await expect(releaseHeldPayment(app, { ...request, reason: 'XX99' })).rejects.toThrow(OnwardSettlementError);
    await expect(releaseHeldPayment(app, { ...request, reason: 'XX99' })).rejects.toThrow('"XX99" is not an ISO ExternalStatusReason1Code');
    await expect(releaseHeldPayment(app, { ...request, reason: 'ac04' })).rejects.toThrow(/not an ISO ExternalStatusReason1Code/);
    await expect(releaseHeldPayment(app, { ...request, reason: 'ACSC' })).rejects.toThrow(/not an ISO ExternalStatusReason1Code/);
    await expect(releaseHeldPayment(app, { ...request, reason: 'NARR' })).rejects.toThrow(/NARR needs an explanation/);
    await expect(releaseHeldPayment(app, { ...request, reason: 'AC04', info: '' })).rejects.toThrow(/1 to 500 characters \(got 0\)/);
    await expect(releaseHeldPayment(app, { ...request, reason: 'AC04', info: 'x'.repeat(RELEASE_INFO_CHARACTERS_MAX + 1) })).rejects.toThrow(/got 501/);
    await expect(releaseHeldPayment(app, { ...request, reason: 'AC04', info: 'bell \u0007' })).rejects.toThrow(/control character/);
    expect(await counts()).toEqual(before);
    expect(await paymentRow(held.paymentId)).toEqual({ status: 'ACSP', status_reason: null, sequence: 2 });

    const narrative = await releaseHeldPayment(app, { ...request, reason: 'NARR', info: 'x'.repeat(RELEASE_INFO_CHARACTERS_MAX) });
    if (narrative.kind !== 'released') throw new Error(`expected released, got ${narrative.kind}`);
    // 500 characters over 105-character AddtlInf occurrences, nothing lost
    expect(readReport(narrative.reportXml)).toMatchObject({ status: 'RJCT', reason: 'NARR', info: 'x'.repeat(RELEASE_INFO_CHARACTERS_MAX) });
  });

  it('knows exactly the published code set (test/fixtures copy of shared/iso20022/codes)', () => {
    const published = JSON.parse(readFileSync(new URL('../fixtures/external_status_reason_code.json', import.meta.url), 'utf8')) as { codes: Record<string, string> };
    expect([...EXTERNAL_STATUS_REASON_CODES].sort()).toEqual(Object.keys(published.codes).sort());
  });
});

describe('settle and release of the same payment at once', () => {
  it('lets exactly one win for each payment; the other sees its status and changes nothing', async () => {
    const payments = [];
    for (let i = 0; i < 4; i += 1) payments.push(await bookHeldPayment());
    const before = await balances();
    expect(before.suspense).toBe(4n * AMOUNT);

    const outcomes = await Promise.all(
      payments.map(async (held, i) => {
        const request = { uetr: held.uetr, now: new Date(), newReportId: () => `REPORT-RACE-${i}-${randomUUID().slice(0, 8)}` };
        // started together; which one takes the row lock first is up to the database
        const [settled, released] = await Promise.all([settleHeldPayment(app, request), releaseHeldPayment(app, { ...request, reason: 'AB05' })]);
        return { held, settled, released };
      }),
    );

    let settledCount = 0n;
    let releasedCount = 0n;
    for (const { held, settled, released } of outcomes) {
      const winner = settled.kind === 'settled' ? 'ACSC' : 'RJCT';
      if (winner === 'ACSC') {
        expect(released).toEqual({ kind: 'not_held', status: 'ACSC' });
        settledCount += 1n;
      } else {
        expect(settled).toEqual({ kind: 'not_held', status: 'RJCT' });
        expect(released.kind).toBe('released');
        releasedCount += 1n;
      }
      const events = await history(held.paymentId);
      expect(events.map((e) => e.status)).toEqual(['RCVD', 'ACSP', winner]);
      expect((await outbox(held.paymentId)).map((r) => r.sequence)).toEqual([1, 2, 3]);
    }
    expect(settledCount + releasedCount).toBe(4n);
    expect(await balances()).toEqual({
      debtor: before.debtor + releasedCount * AMOUNT,
      suspense: 0n,
      clearing: before.clearing + settledCount * AMOUNT,
    });
    await expectLedgerConsistent();
  });
});

describe('isogw payments (the real executable, as the owner)', () => {
  const bin = fileURLToPath(new URL('../../bin/isogw.js', import.meta.url));
  const exec = (args: string[], env: NodeJS.ProcessEnv = { DATABASE_URL: db.url, ISOGW_BIC: GATEWAY_BIC }) =>
    spawnSync(process.execPath, [bin, 'payments', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });

  it('settles a held payment once, then refuses to settle it again with exit status 1', async () => {
    const held = await bookHeldPayment();
    const settled = exec(['settle', held.uetr]);
    expect(settled.stderr).toBe('');
    expect(settled.status).toBe(0);
    expect(settled.stdout).toMatch(new RegExp(`^settled ${held.uetr}: ACSC, the held amount went from suspense to clearing \\(entry \\d+, status event 3\\)\\n$`));
    expect(await paymentRow(held.paymentId)).toEqual({ status: 'ACSC', status_reason: null, sequence: 3 });
    expect(readReport((await history(held.paymentId))[2]?.report_xml ?? '')).toMatchObject({ status: 'ACSC', instructingAgent: GATEWAY_BIC, uetr: held.uetr });

    const before = await counts();
    const again = exec(['settle', held.uetr]);
    expect(again.status).toBe(1);
    expect(again.stdout).toBe('');
    expect(again.stderr).toBe(`isogw payments settle: payment ${held.uetr} is ACSC, not held for an onward leg; nothing was changed\n`);
    expect(await counts()).toEqual(before);
  });

  it('releases with a reason (any case) and an explanation, and shows the whole history', async () => {
    const held = await bookHeldPayment();
    const shown = exec(['show', held.uetr]);
    expect(shown.status).toBe(0);
    expect(shown.stdout).toContain('  status     ACSP (event 2,');
    expect(shown.stdout).toContain('held in suspense until `isogw payments settle` or `release`');

    const released = exec(['release', held.uetr, '--reason', 'ac04', '--info', 'account closed at NWBKGB2L']);
    expect(released.stderr).toBe('');
    expect(released.status).toBe(0);
    expect(released.stdout).toMatch(/^released .*: RJCT AC04, the held amount went back to the instructing agent \(entry \d+, status event 3\)\n$/);
    expect(await paymentRow(held.paymentId)).toEqual({ status: 'RJCT', status_reason: 'AC04', sequence: 3 });

    const after = exec(['show', held.uetr.toUpperCase()]);
    expect(after.status).toBe(0);
    const events = await history(held.paymentId);
    const lines = after.stdout.trimEnd().split('\n');
    expect(lines.slice(0, 7).map((line) => line.replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, 'T'))).toEqual([
      `payment ${held.uetr}`,
      '  status     RJCT AC04 (event 3, T)',
      '  amount     48732.65 EUR',
      '  route      onward (creditor agent outside the gateway)',
      '  agents     instructing DEUTDEFFXXX, debtor DEUTDEFFXXX, creditor NWBKGB2LXXX',
      `  message    ${held.msgId} (pacs.008.001.08), received T`,
      `  ids        EndToEndId ${held.endToEndId}, TxId ${held.txId}, InstrId ${held.instructionId}`,
    ]);
    expect(lines.slice(7).map((line) => line.replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, 'T'))).toEqual([
      'history',
      '  1  T  RCVD',
      `  2  T  ACSP  (entry ${events[1]?.entry_id})`,
      `  3  T  RJCT AC04 "account closed at NWBKGB2L"  (entry ${events[2]?.entry_id})`,
    ]);
    expect((await balances()).suspense).toBe(0n);
  });

  it('exits 1 with one line for a UETR no payment has', async () => {
    const uetr = randomUUID();
    for (const subcommand of ['settle', 'show']) {
      const result = exec([subcommand, uetr]);
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`^isogw payments ${subcommand}: no payment has UETR ${uetr}(; nothing was changed)?\\n$`));
    }
    expect(exec(['release', uetr, '--reason', 'AB05']).status).toBe(1);
  });

  it.each([
    [['release', '11111111-2222-4333-8444-555555555555'], /payments release needs --reason/],
    [['release', '11111111-2222-4333-8444-555555555555', '--reason', 'XX99'], /--reason "XX99" is not an ISO ExternalStatusReason1Code/],
    [['release', '11111111-2222-4333-8444-555555555555', '--reason', 'AC04', '--info', 'x'.repeat(501)], /the explanation must be 1 to 500 characters/],
    [['release', '11111111-2222-4333-8444-555555555555', '--reason', 'NARR'], /NARR needs an explanation/],
    [['settle', '11111111-2222-4333-8444-555555555555', '--reason', 'AC04'], /payments settle takes no --reason/],
    [['settle', 'not-a-uetr'], /"not-a-uetr" is not a UETR/],
    [['settle'], /payments settle needs the payment's UETR/],
    [['settle', randomUUID(), randomUUID()], /takes one UETR, got 2/],
    [['show', randomUUID(), '--colour'], /Unknown option '--colour'/],
    [['refund', randomUUID()], /unknown payments subcommand "refund"/],
  ])('refuses %j with one line and exit status 2, changing nothing', async (args, message) => {
    const before = await counts();
    const result = exec(args);
    expect(result.status).toBe(2);
    expect(result.stderr.split('\n')[0]).toMatch(/^isogw: /);
    expect(result.stderr.split('\n')[0]).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(await counts()).toEqual(before);
  });

  it('needs DATABASE_URL and a real ISOGW_BIC (usage errors), and reports an unreachable database with exit status 3', () => {
    const uetr = randomUUID();
    const missing = exec(['settle', uetr], {});
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^isogw: DATABASE_URL is required/);
    const badBic = exec(['settle', uetr], { DATABASE_URL: db.url, ISOGW_BIC: 'gateway' });
    expect(badBic.status).toBe(2);
    expect(badBic.stderr).toMatch(/^isogw: ISOGW_BIC "gateway" is not a BIC/);
    const unreachable = exec(['settle', uetr], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere' });
    expect(unreachable.status).toBe(3);
    expect(unreachable.stderr).toMatch(/^isogw payments settle: the database failed, nothing was changed: .*ECONNREFUSED/);
    expect(unreachable.stderr).not.toMatch(/\n\s+at /);
    const help = exec(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: DATABASE_URL=.* isogw payments <subcommand> UETR/);
  });
});

describe('a payment that was never held', () => {
  it('answers not_held for an on-us payment (settled at booking), changing nothing', async () => {
    // With the creditor agent NWBKGB2LXXX a participant, the same message settles on-us at once (ACSC)
    await fundSettlementAccount(db.pool, { bic: 'NWBKGB2LXXX', name: 'Creditor Bank plc', currency: 'EUR', amount: 1n, reference: 'seed bnp' });
    const { xml } = freshPacs008('alpha1');
    const checked = checkPacs008(Buffer.from(xml), { schemas, now: new Date() });
    if (checked.kind !== 'checked') throw new Error('unreadable');
    const outcome = await bookMessage(app, { clientId: 'bank-alpha', idempotencyKey: randomUUID(), fingerprint: randomUUID(), checked, answer: () => ({ status: 200, body: '<x/>' }) });
    const booking = outcome.kind === 'booked' ? outcome.bookings.get(1) : undefined;
    if (booking?.kind !== 'settled') throw new Error(`expected an on-us settlement, got ${booking?.kind}`);
    const before = await counts();
    const request = { uetr: booking.uetr, now: new Date(), newReportId: () => 'REPORT-ON-US' };
    expect(await settleHeldPayment(app, request)).toEqual({ kind: 'not_held', status: 'ACSC' });
    expect(await releaseHeldPayment(app, { ...request, reason: 'AC04' })).toEqual({ kind: 'not_held', status: 'ACSC' });
    expect(await counts()).toEqual(before);
  });
});
