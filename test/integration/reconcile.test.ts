/**
 * `isogw reconcile` over a database that went through real traffic (the gateway over mTLS with real tokens: on-us
 * payments settled at once, onward payments held, settled and released on the onward leg, one rejected for lack of
 * funds): it reconciles, with the in-flight work reported as timing; then each kind of tampering an attacker with
 * superuser rights could do — a balance off by one, a posting deleted, a payment's entry posted twice, an outbox row
 * deleted, a status moved without its event — is found and classified, and the exit status says so.
 *
 * Tampering runs as the owner with `session_replication_role = replica`, which switches off the triggers that keep
 * the ledger append-only (the way a superuser attacker would), inside a transaction that reconcileIn reads and that
 * is then rolled back; the tests of the command's exit status commit their tampering and repair it afterwards.
 */
import { randomUUID } from 'node:crypto';

import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { main } from '../../src/cli/main.ts';
import { runReconcile } from '../../src/cli/reconcile.ts';
import { createDatabasePool } from '../../src/db/pool.ts';
import { ensureSettlementAccount } from '../../src/ledger/accounts.ts';
import { postEntry } from '../../src/ledger/post-entry.ts';
import { FINDING_CLASSES, RECONCILE_CHECKS, reconcile, reconcileIn, type ReconcileReport } from '../../src/ops/reconcile.ts';
import { releaseHeldPayment, settleHeldPayment } from '../../src/payments/onward-settlement.ts';
import { expectAccepted, type Matrix, readPacs002, sendMatrix, startMatrix, validCertificateBoundRequest, validDpopRequest } from '../support/auth-matrix.ts';
import { expectLedgerConsistent, expectReconciled } from '../support/ledger-invariants.ts';

let matrix: Matrix;
/** The owner (login user postgres, a superuser, no SET ROLE). */
let owner: pg.Pool;
/** The gateway's role, with the gateway's pool settings: what settles and releases in production. */
let app: pg.Pool;
let databaseUrl = '';
/** Payment ids (and UETRs) by what happened to them. */
const payment = { onUs: '', held: '', heldToo: '', heldTooUetr: '', settled: '', released: '', rejected: '' };
const account = { beta: '', gamma: '' };
const report = () => ({ now: new Date(), newReportId: () => `RECON-${randomUUID().slice(0, 8)}` });

beforeAll(async () => {
  matrix = await startMatrix();
  owner = matrix.gateway.database.pool;
  databaseUrl = matrix.gateway.database.url;
  app = createDatabasePool({ url: databaseUrl, role: 'isogw_app', poolConnectionsMax: 2 });

  expectAccepted(await sendMatrix((await validCertificateBoundRequest(matrix)).request)); // 10 × ACSC on-us
  for (let i = 0; i < 4; i += 1) expectAccepted(await sendMatrix((await validDpopRequest(matrix)).request)); // 4 × ACSP onward
  const held = await owner.query<{ id: string; uetr: string }>(`select id::text, uetr from payments where status = 'ACSP' order by id`);
  const [stays, staysToo, settles, releases] = held.rows;
  expect((await settleHeldPayment(app, { ...report(), uetr: settles!.uetr })).kind).toBe('settled');
  expect((await releaseHeldPayment(app, { ...report(), uetr: releases!.uetr, reason: 'AC04' })).kind).toBe('released');
  Object.assign(payment, { held: stays!.id, heldToo: staysToo!.id, heldTooUetr: staysToo!.uetr, settled: settles!.id, released: releases!.id });

  // bank-alpha's money leaves for another participant (a real entry, not a payment), so its next payment is RJCT AM04
  const client = await owner.connect();
  try {
    await client.query('begin');
    const alpha = await ensureSettlementAccount(client, { bic: 'DEUTDEFFXXX', name: 'Bank Alpha' }, 'EUR');
    const parking = await ensureSettlementAccount(client, { bic: 'INGBNL2AXXX', name: 'Parking' }, 'EUR');
    const { rows } = await client.query<{ balance: string }>('select balance from accounts where id = $1', [alpha.accountId.toString()]);
    const posted = await postEntry(client, {
      kind: 'transfer',
      reference: 'test: empty bank-alpha',
      lines: [
        { accountId: alpha.accountId, currency: 'EUR', direction: 'D', amount: BigInt(rows[0]!.balance) },
        { accountId: parking.accountId, currency: 'EUR', direction: 'C', amount: BigInt(rows[0]!.balance) },
      ],
    });
    expect(posted.kind).toBe('posted');
    await client.query('commit');
  } finally {
    client.release();
  }
  const refused = await sendMatrix((await validDpopRequest(matrix)).request);
  expect(refused.status, refused.body.slice(0, 300)).toBe(422);
  expect(readPacs002(refused.body)).toMatchObject({ groupStatus: 'RJCT', reasonCodes: ['AM04'] });
  payment.rejected = (await owner.query<{ id: string }>(`select max(id)::text as id from payments where status = 'RJCT' and status_reason = 'AM04'`)).rows[0]!.id;
  payment.onUs = (await owner.query<{ id: string }>(`select min(id)::text as id from payments where route = 'on_us'`)).rows[0]!.id;

  const { rows } = await owner.query<{ bic: string; id: string }>(`select p.bic, a.id::text from accounts a join participants p on p.id = a.participant_id`);
  account.beta = rows.find((row) => row.bic === 'COBADEFFXXX')!.id;
  account.gamma = rows.find((row) => row.bic === 'ABNANL2AXXX')!.id;
});

afterAll(async () => {
  await app?.end();
  await matrix?.close();
});

/** The command as an operator runs it, on this test's database. */
async function command(...args: string[]): Promise<{ status: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const status = await runReconcile(args, { out: (line) => out.push(line), err: (line) => err.push(line) }, { DATABASE_URL: databaseUrl });
  return { status, out, err };
}

/** The failed checks and, for each, its non-zero counts by class: `{ balances_match_postings: { discrepancy: 2 } }`. */
function failures(result: ReconcileReport): Record<string, Record<string, number>> {
  return Object.fromEntries(
    result.checks
      .filter((check) => check.status === 'failed')
      .map((check) => [check.name, Object.fromEntries(Object.entries(check.counts).filter(([, count]) => count > 0))]),
  );
}

const check = (result: ReconcileReport, name: string) => result.checks.find((c) => c.name === name)!;

/**
 * Runs `statements` as the owner with the append-only triggers switched off, reconciles inside that transaction,
 * rolls everything back.
 */
async function tampered(statements: readonly (string | [string, unknown[]])[]): Promise<ReconcileReport> {
  const client = await owner.connect();
  try {
    await client.query('begin');
    await client.query('set local session_replication_role = replica');
    for (const statement of statements) {
      if (typeof statement === 'string') await client.query(statement);
      else await client.query(statement[0], statement[1]);
    }
    return await reconcileIn(client);
  } finally {
    await client.query('rollback');
    client.release();
  }
}

/** The entry that booked a payment (the event that took it out of RCVD). */
async function bookingEntryOf(paymentId: string): Promise<string> {
  const { rows } = await owner.query<{ entry_id: string }>(
    `select entry_id::text from payment_events where payment_id = $1 and entry_id is not null order by sequence limit 1`,
    [paymentId],
  );
  return rows[0]!.entry_id;
}

describe('a database after real traffic', () => {
  it('reconciles: exit 0, every check holds, held payments and undispatched outbox rows are a timing note', async () => {
    const { status, out, err } = await command();
    expect(err).toEqual([]);
    expect(status, out.join('\n')).toBe(0);
    expect(out.at(-1)).toBe('all is well');
    expect(out.some((line) => line.startsWith('note: ') && line.includes('in flight (timing)'))).toBe(true);
    expect(out.filter((line) => line.startsWith('FAILED'))).toEqual([]);

    const result = await reconcile(owner);
    const outboxRows = Number((await owner.query<{ n: string }>('select count(*) as n from outbox')).rows[0]!.n);
    // 10 on-us + 4 onward + 1 refused, every payment with its RCVD and its outcome (+ settle and release)
    expect(result.scope).toMatchObject({ messages: 6, payments: 15, statusEvents: 32, outboxRows: 32 });
    expect(outboxRows).toBe(32);
    expect(result.ok).toBe(true);
    expect(result.counts).toEqual({ timing: 2 + 32, missing_event: 0, duplicate: 0, discrepancy: 0 });
    expect(result.checks.map((c) => [c.name, c.status])).toEqual(
      RECONCILE_CHECKS.map((c) => [c.name, c.name === 'held_payments_pending' || c.name === 'outbox_dispatched' ? 'timing' : 'ok']),
    );
    expect(check(result, 'held_payments_pending').findings.map((f) => [f.class, f.row.payment])).toEqual([
      ['timing', payment.held],
      ['timing', payment.heldToo],
    ]);
    // the rejected payment moved nothing and the settled and released ones have exactly hold + hold_post / hold_void
    const { rows } = await owner.query<{ reference: string; kinds: string[] }>(
      `select reference, array_agg(kind order by id) as kinds from journal_entries where reference = any($1::text[]) group by reference order by reference`,
      [[payment.onUs, payment.held, payment.settled, payment.released, payment.rejected].map((id) => `payment:${id}`)],
    );
    expect(Object.fromEntries(rows.map((row) => [row.reference, row.kinds]))).toEqual({
      [`payment:${payment.onUs}`]: ['transfer'],
      [`payment:${payment.held}`]: ['hold'],
      [`payment:${payment.settled}`]: ['hold', 'hold_post'],
      [`payment:${payment.released}`]: ['hold', 'hold_void'],
    });
  });

  it('prints the same report as one JSON document with --json', async () => {
    const { status, out } = await command('--json');
    expect(status).toBe(0);
    expect(out).toHaveLength(1);
    const document = JSON.parse(out[0]!) as ReconcileReport;
    expect(document).toMatchObject({ ok: true, counts: { timing: 34, missing_event: 0, duplicate: 0, discrepancy: 0 } });
    expect(document.checks.map((c) => c.name)).toEqual(RECONCILE_CHECKS.map((c) => c.name));
    expect(check(document, 'outbox_dispatched')).toMatchObject({ status: 'timing', counts: { timing: 32 }, truncated: false });
  });

  it('lists a bounded number of findings per check but counts all of them', async () => {
    const result = await reconcile(owner, { findingsPerCheckMax: 5 });
    expect(check(result, 'outbox_dispatched')).toMatchObject({ counts: { timing: 32 }, truncated: true });
    expect(check(result, 'outbox_dispatched').findings).toHaveLength(5);
    expect(result.counts.timing).toBe(34);
  });

  it('once the relay dispatched every outbox row, only the held payments are in flight', async () => {
    await owner.query('update outbox set dispatched_at = now() where dispatched_at is null');
    const result = await reconcile(owner);
    expect(result.counts).toEqual({ timing: 2, missing_event: 0, duplicate: 0, discrepancy: 0 });
    expect(check(result, 'outbox_dispatched').status).toBe('ok');
    await expectReconciled(databaseUrl);
  });
});

describe('tampering, classified', () => {
  it('a balance off by one is a discrepancy (its currency no longer sums to zero, the account disagrees with its postings)', async () => {
    const result = await tampered([['update accounts set balance = balance + 1 where id = $1', [account.gamma]]]);
    expect(result.ok).toBe(false);
    expect(failures(result)).toEqual({ currencies_sum_to_zero: { discrepancy: 1 }, balances_match_postings: { discrepancy: 1 } });
    expect(check(result, 'balances_match_postings').findings[0]!.row).toMatchObject({ id: account.gamma });
  });

  it('a posting deleted is a discrepancy everywhere it shows', async () => {
    const entry = await bookingEntryOf(payment.onUs);
    const result = await tampered([[`delete from postings where entry_id = $1 and direction = 'C'`, [entry]]]);
    expect(failures(result)).toEqual({
      balances_match_postings: { discrepancy: 1 },
      entries_have_two_postings: { discrepancy: 1 },
      entries_balance: { discrepancy: 1 },
      accepted_payments_booked_once: { discrepancy: 1 },
      payment_movements_match_status: { discrepancy: 1 },
    });
    expect(check(result, 'entries_balance').findings[0]!.row).toMatchObject({ entry_id: entry, currency: 'EUR' });
  });

  it('a payment’s entry posted twice (balances moved with it) is a duplicate', async () => {
    const entry = await bookingEntryOf(payment.onUs);
    const result = await tampered([
      [
        `with twin as (insert into journal_entries (kind, reference) select kind, reference from journal_entries where id = $1 returning id)
         insert into postings (entry_id, account_id, currency, direction, amount)
         select twin.id, x.account_id, x.currency, x.direction, x.amount from twin, postings x where x.entry_id = $1`,
        [entry],
      ],
      [
        `update accounts a set balance = a.balance + d.net
           from (select account_id, sum(case direction when 'C' then amount else -amount end) as net from postings where entry_id = $1 group by account_id) d
          where a.id = d.account_id`,
        [entry],
      ],
    ]);
    expect(failures(result)).toEqual({ payment_entries_belong_to_events: { duplicate: 1 }, payment_entry_kinds: { duplicate: 1 } });
    expect(check(result, 'payment_entry_kinds').findings[0]!.row).toMatchObject({ payment: payment.onUs, kinds: { transfer: 2 } });
  });

  it('an onward payment’s hold posted twice is a duplicate too', async () => {
    const entry = await bookingEntryOf(payment.settled);
    const result = await tampered([
      [
        `with twin as (insert into journal_entries (kind, reference) select kind, reference from journal_entries where id = $1 returning id)
         insert into postings (entry_id, account_id, currency, direction, amount)
         select twin.id, x.account_id, x.currency, x.direction, x.amount from twin, postings x where x.entry_id = $1`,
        [entry],
      ],
    ]);
    // the balances did not move with it this time: the money checks see it as well
    expect(failures(result)).toMatchObject({ payment_entries_belong_to_events: { duplicate: 1 }, payment_entry_kinds: { duplicate: 1 } });
    expect(check(result, 'payment_entry_kinds').findings[0]!.row).toMatchObject({ payment: payment.settled, kinds: { hold: 2, hold_post: 1 } });
  });

  it('an outbox row deleted is a missing event', async () => {
    const result = await tampered([[`delete from outbox where payment_id = $1 and sequence = 3`, [payment.released]]]);
    expect(failures(result)).toEqual({ events_have_outbox_rows: { missing_event: 1 } });
    expect(check(result, 'events_have_outbox_rows').findings[0]!.row).toMatchObject({ payment_id: payment.released, sequence: 3, outbox_rows: 0 });
  });

  it('a status moved without its event: the missing event, and the money it says moved and did not', async () => {
    // a transition the trigger allows (ACSP → ACSC, one step), without the event, the entry or the outbox row
    const result = await tampered([[`update payments set status = 'ACSC', sequence = sequence + 1 where id = $1`, [payment.held]]]);
    expect(failures(result)).toEqual({
      payment_movements_match_status: { discrepancy: 2 },
      suspense_matches_held: { discrepancy: 1 },
      payment_rows_match_history: { missing_event: 1 },
    });
  });

  it('every finding carries a class reconcile knows', async () => {
    const entry = await bookingEntryOf(payment.onUs);
    const result = await tampered([[`delete from postings where entry_id = $1`, [entry]], 'delete from outbox']);
    const classes = new Set(result.checks.flatMap((c) => c.findings.map((f) => f.class)));
    for (const kind of classes) expect(FINDING_CLASSES).toContain(kind);
    expect(result.ok).toBe(false);
  });

  it('left nothing behind: every tampering above was rolled back', async () => {
    await expectLedgerConsistent(owner);
    expect((await reconcile(owner)).counts).toEqual({ timing: 2, missing_event: 0, duplicate: 0, discrepancy: 0 });
  });
});

describe('the exit status', () => {
  it('is 0 with a note when a new status change is not dispatched yet (timing alone)', async () => {
    expect((await settleHeldPayment(app, { ...report(), uetr: payment.heldTooUetr })).kind).toBe('settled');
    const { status, out } = await command();
    expect(status, out.join('\n')).toBe(0);
    expect(out.find((line) => line.startsWith('timing') && line.includes('outbox_dispatched'))).toMatch(/: 1 timing$/);
    expect(out.find((line) => line.startsWith('note: '))).toMatch(/^note: 2 findings in flight \(timing\)/);
    const result = await reconcile(owner);
    expect(check(result, 'outbox_dispatched').findings.map((f) => [f.class, f.row.payment, f.row.sequence])).toEqual([['timing', payment.heldToo, 3]]);
  });

  it('is 1 when a difference is committed, naming the check and the rows; 0 again once it is repaired', async () => {
    await owner.query('update accounts set balance = balance - 1 where id = $1', [account.beta]);
    try {
      const { status, out, err } = await command();
      expect(err).toEqual([]);
      expect(status).toBe(1);
      expect(out.filter((line) => line.startsWith('FAILED')).map((line) => line.split(/\s+/)[1])).toEqual(['currencies_sum_to_zero', 'balances_match_postings']);
      expect(out.some((line) => line.trim().startsWith('discrepancy {') && line.includes(`"id":"${account.beta}"`))).toBe(true);
      expect(out.at(-1)).toBe('NOT RECONCILED: 2 differences (2 discrepancy)');
      const json = await command('--json');
      expect(json.status).toBe(1);
      expect(JSON.parse(json.out[0]!)).toMatchObject({ ok: false, counts: { discrepancy: 2 } });
    } finally {
      await owner.query('update accounts set balance = balance + 1 where id = $1', [account.beta]);
    }
    expect((await command()).status).toBe(0);
  });

  it('is 3 when the database cannot be reached, and 2 for a usage error', async () => {
    const missing = new URL(databaseUrl);
    missing.pathname = '/isogw_no_such_database';
    const out: string[] = [];
    const err: string[] = [];
    expect(await runReconcile([], { out: (line) => out.push(line), err: (line) => err.push(line) }, { DATABASE_URL: missing.href })).toBe(3);
    expect(err.join('\n')).toMatch(/^isogw reconcile: the database failed, nothing was checked: /);
    expect(out).toEqual([]);

    await expect(runReconcile([], { out: () => {}, err: () => {} }, {})).rejects.toThrow(/DATABASE_URL is required/);
    const usage: string[] = [];
    expect(await main(['reconcile', '--bogus'], { out: () => {}, err: (line) => usage.push(line) })).toBe(2);
    expect(usage.join('\n')).toMatch(/^isogw: Unknown option '--bogus'/);
    const help: string[] = [];
    expect(await main(['reconcile', '--help'], { out: (line) => help.push(line), err: () => {} })).toBe(0);
    expect(help.join('\n')).toMatch(/^usage: DATABASE_URL=.* isogw reconcile \[--json\]/);
  });
});

describe('while the gateway keeps booking', () => {
  it('finds no difference in the middle of bookings', async () => {
    const sending = (async () => {
      for (let i = 0; i < 4; i += 1) expectAccepted(await sendMatrix((await validCertificateBoundRequest(matrix)).request));
    })();
    const results: ReconcileReport[] = [];
    let done = false;
    void sending.finally(() => (done = true)).catch(() => {});
    while (!done) results.push(await reconcile(owner));
    await sending;
    results.push(await reconcile(owner));
    for (const result of results) expect(failures(result)).toEqual({});
    expect(results.at(-1)!.scope.payments).toBe(15 + 40);
  });
});
