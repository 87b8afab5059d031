/**
 * `isogw projections rebuild` over a database that went through real traffic (on-us payments, onward payments held,
 * settled and released): the payment statuses rebuilt from the status events and the balances rebuilt from the
 * postings equal the live tables, without writing anything; a live row changed behind the history's back — by the
 * application role where its grants allow, by the owner with the append-only triggers switched off where they do
 * not — is a difference, shown live against rebuilt; and the rebuild matches while the gateway keeps booking.
 */
import { randomUUID } from 'node:crypto';

import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { main } from '../../src/cli/main.ts';
import { runProjections } from '../../src/cli/projections.ts';
import { createDatabasePool } from '../../src/db/pool.ts';
import { type ProjectionRebuildReport, rebuildProjections, rebuildProjectionsIn } from '../../src/ops/projections.ts';
import { releaseHeldPayment, settleHeldPayment } from '../../src/payments/onward-settlement.ts';
import { expectAccepted, type Matrix, sendMatrix, startMatrix, validCertificateBoundRequest, validDpopRequest } from '../support/auth-matrix.ts';

let matrix: Matrix;
/** The owner (login user postgres, a superuser, no SET ROLE). */
let owner: pg.Pool;
/** The gateway's role, with the gateway's pool settings. */
let app: pg.Pool;
let databaseUrl = '';
const payment = { onUs: '', held: '', settled: '', released: '' };
const account = { beta: '', gamma: '' };

beforeAll(async () => {
  matrix = await startMatrix();
  owner = matrix.gateway.database.pool;
  databaseUrl = matrix.gateway.database.url;
  app = createDatabasePool({ url: databaseUrl, role: 'isogw_app', poolConnectionsMax: 2 });

  expectAccepted(await sendMatrix((await validCertificateBoundRequest(matrix)).request)); // 10 × ACSC on-us
  for (let i = 0; i < 3; i += 1) expectAccepted(await sendMatrix((await validDpopRequest(matrix)).request)); // 3 × ACSP onward
  const held = await owner.query<{ id: string; uetr: string }>(`select id::text, uetr from payments where status = 'ACSP' order by id`);
  const [stays, settles, releases] = held.rows;
  const report = { now: new Date(), newReportId: () => `PROJ-${randomUUID().slice(0, 8)}` };
  expect((await settleHeldPayment(app, { ...report, uetr: settles!.uetr })).kind).toBe('settled');
  expect((await releaseHeldPayment(app, { ...report, uetr: releases!.uetr, reason: 'AC04', info: 'account closed' })).kind).toBe('released');
  Object.assign(payment, { held: stays!.id, settled: settles!.id, released: releases!.id });
  payment.onUs = (await owner.query<{ id: string }>(`select min(id)::text as id from payments where route = 'on_us'`)).rows[0]!.id;
  const { rows } = await owner.query<{ bic: string; id: string }>(`select p.bic, a.id::text from accounts a join participants p on p.id = a.participant_id`);
  account.beta = rows.find((row) => row.bic === 'COBADEFFXXX')!.id;
  account.gamma = rows.find((row) => row.bic === 'ABNANL2AXXX')!.id;
});

afterAll(async () => {
  await app?.end();
  await matrix?.close();
});

async function command(...args: string[]): Promise<{ status: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const status = await runProjections(args, { out: (line) => out.push(line), err: (line) => err.push(line) }, { DATABASE_URL: databaseUrl });
  return { status, out, err };
}

/** Every row count and every live projected value: "nothing was written" is this staying equal. */
async function state(): Promise<unknown> {
  const { rows } = await owner.query(
    `select (select count(*)::int from journal_entries) as entries, (select count(*)::int from postings) as postings,
            (select count(*)::int from payment_events) as events, (select count(*)::int from outbox) as outbox,
            (select json_agg(json_build_array(id, balance::text) order by id) from accounts) as balances,
            (select json_agg(json_build_array(id, status, status_reason, sequence, updated_at) order by id) from payments) as statuses`,
  );
  return rows[0];
}

/** Runs `statements` on `pool` in a transaction (as the owner: with the append-only triggers off), rebuilds inside it, rolls back. */
async function tampered(pool: pg.Pool, statements: readonly [string, unknown[]][]): Promise<ProjectionRebuildReport> {
  const client = await pool.connect();
  try {
    await client.query('begin isolation level repeatable read');
    if (pool === owner) await client.query('set local session_replication_role = replica');
    for (const [sql, params] of statements) await client.query(sql, params);
    return await rebuildProjectionsIn(client);
  } finally {
    await client.query('rollback');
    client.release();
  }
}

const projection = (report: ProjectionRebuildReport, name: string) => report.projections.find((p) => p.name === name)!;

describe('after real traffic', () => {
  it('the payment statuses and balances rebuilt from the history match the live ones; nothing is written', async () => {
    const before = await state();
    const report = await rebuildProjections(owner);
    const accounts = Number((await owner.query<{ n: string }>('select count(*) as n from accounts')).rows[0]!.n);
    expect(report).toMatchObject({
      matches: true,
      projections: [
        { name: 'payment_status', rebuiltFrom: 'payment_events', compared: 13, differing: 0, differences: [] },
        { name: 'account_balances', rebuiltFrom: 'postings', compared: accounts, differing: 0, differences: [] },
      ],
    });
    expect(await state()).toEqual(before);
  });

  it('`isogw projections rebuild` exits 0 and says so, as text or as one JSON document', async () => {
    const text = await command('rebuild');
    expect(text.err).toEqual([]);
    expect(text.status).toBe(0);
    expect(text.out.slice(1)).toEqual([
      'match   payment_status from payment_events: 13 rows compared, 0 differ',
      expect.stringMatching(/^match {3}account_balances from postings: \d+ rows compared, 0 differ$/),
      'the live projections match the history',
    ]);
    const json = await command('rebuild', '--json');
    expect(json.status).toBe(0);
    expect(JSON.parse(json.out[0]!)).toMatchObject({ matches: true });
  });

  it('leaves no temporary table behind in a session it was given', async () => {
    const client = await owner.connect();
    try {
      await client.query('begin');
      await rebuildProjectionsIn(client);
      const { rows } = await client.query(`select relname from pg_class where relname like 'isogw_rebuilt_%' and relpersistence = 't'`);
      expect(rows).toEqual([]);
      // and a second rebuild in the same transaction works
      expect((await rebuildProjectionsIn(client)).matches).toBe(true);
    } finally {
      await client.query('rollback');
      client.release();
    }
  });
});

describe('a live row changed behind the history’s back is a difference, live against rebuilt', () => {
  it('a status moved by the application role without its event (the transition trigger allows ACSP → ACSC)', async () => {
    const report = await tampered(app, [[`update payments set status = 'ACSC', sequence = sequence + 1, updated_at = now() where id = $1`, [payment.held]]]);
    expect(report.matches).toBe(false);
    expect(projection(report, 'payment_status')).toMatchObject({
      differing: 1,
      differences: [{ key: { payment: payment.held }, live: { status: 'ACSC', statusReason: null, sequence: 3 }, rebuilt: { status: 'ACSP', statusReason: null, sequence: 2 } }],
    });
    expect(projection(report, 'account_balances').differing).toBe(0);
  });

  it('a status event appended without moving the payment row', async () => {
    const report = await tampered(app, [[`insert into payment_events (payment_id, sequence, status, reason) values ($1, 3, 'RJCT', 'AB05')`, [payment.held]]]);
    expect(projection(report, 'payment_status').differences).toEqual([
      { key: { payment: payment.held }, live: { status: 'ACSP', statusReason: null, sequence: 2 }, rebuilt: { status: 'RJCT', statusReason: 'AB05', sequence: 3 } },
    ]);
  });

  it('a status reason rewritten by the owner (triggers off)', async () => {
    const report = await tampered(owner, [[`update payments set status_reason = 'AM04' where id = $1`, [payment.released]]]);
    expect(projection(report, 'payment_status').differences).toEqual([
      { key: { payment: payment.released }, live: { status: 'RJCT', statusReason: 'AM04', sequence: 3 }, rebuilt: { status: 'RJCT', statusReason: 'AC04', sequence: 3 } },
    ]);
  });

  it('a balance off by one, and a posting deleted: the balances view disagrees with the postings', async () => {
    const { rows } = await owner.query<{ balance: string }>('select balance::text from accounts where id = $1', [account.beta]);
    const beta = BigInt(rows[0]!.balance);
    const offByOne = await tampered(app, [['update accounts set balance = balance + 1 where id = $1', [account.beta]]]);
    expect(projection(offByOne, 'account_balances').differences).toEqual([
      { key: { account: account.beta, owner: 'COBADEFFXXX', kind: 'settlement', currency: 'EUR' }, live: { balance: `${beta + 1n}` }, rebuilt: { balance: `${beta}` } },
    ]);
    expect(projection(offByOne, 'payment_status').differing).toBe(0);

    const entry = (await owner.query<{ id: string }>(`select entry_id::text as id from payment_events where payment_id = $1 and entry_id is not null`, [payment.onUs])).rows[0]!.id;
    const credit = (await owner.query<{ amount: string }>(`select amount::text from postings where entry_id = $1 and direction = 'C'`, [entry])).rows[0]!.amount;
    const gamma = BigInt((await owner.query<{ balance: string }>('select balance::text from accounts where id = $1', [account.gamma])).rows[0]!.balance);
    const deleted = await tampered(owner, [[`delete from postings where entry_id = $1 and direction = 'C'`, [entry]]]);
    expect(projection(deleted, 'account_balances').differences).toEqual([
      { key: { account: account.gamma, owner: 'ABNANL2AXXX', kind: 'settlement', currency: 'EUR' }, live: { balance: `${gamma}` }, rebuilt: { balance: `${gamma - BigInt(credit)}` } },
    ]);
  });

  it('`isogw projections rebuild` exits 1 on a committed difference, listing it; 0 again once it is repaired', async () => {
    await owner.query('update accounts set balance = balance - 1 where id = $1', [account.beta]);
    try {
      const { status, out } = await command('rebuild');
      expect(status).toBe(1);
      expect(out.filter((line) => /^(match |DIFFER) /.test(line))).toEqual([
        'match   payment_status from payment_events: 13 rows compared, 0 differ',
        expect.stringMatching(/^DIFFER  account_balances from postings: \d+ rows compared, 1 differ$/),
      ]);
      expect(out.some((line) => line.includes(`"account":"${account.beta}"`) && line.includes(' → rebuilt '))).toBe(true);
      expect(out.at(-1)).toBe('the live projections DIFFER from the history');
      const json = await command('rebuild', '--json');
      expect(json.status).toBe(1);
      expect(JSON.parse(json.out[0]!)).toMatchObject({ matches: false, projections: [{ differing: 0 }, { differing: 1 }] });
    } finally {
      await owner.query('update accounts set balance = balance + 1 where id = $1', [account.beta]);
    }
    expect((await command('rebuild')).status).toBe(0);
  });
});

describe('the command', () => {
  it('exits 3 when the database fails, 2 on a usage error', async () => {
    const missing = new URL(databaseUrl);
    missing.pathname = '/isogw_no_such_database';
    const err: string[] = [];
    expect(await runProjections(['rebuild'], { out: () => {}, err: (line) => err.push(line) }, { DATABASE_URL: missing.href })).toBe(3);
    expect(err.join('\n')).toMatch(/^isogw projections rebuild: the database failed, nothing was compared: /);

    const run = async (...argv: string[]) => {
      const lines: string[] = [];
      const status = await main(argv, { out: (line) => lines.push(line), err: (line) => lines.push(line) });
      return { status, text: lines.join('\n') };
    };
    expect(await run('projections')).toMatchObject({ status: 2, text: expect.stringMatching(/^usage: .* isogw projections rebuild \[--json\]/) });
    expect(await run('projections', 'apply')).toMatchObject({ status: 2, text: expect.stringMatching(/^isogw: unknown projections subcommand "apply" \(rebuild\)/) });
    expect(await run('projections', 'rebuild', 'extra')).toMatchObject({ status: 2 });
    expect(await run('projections', '--help')).toMatchObject({ status: 0 });
    await expect(runProjections(['rebuild'], { out: () => {}, err: () => {} }, {})).rejects.toThrow(/DATABASE_URL is required/);
  });
});

describe('while the gateway keeps booking', () => {
  it('matches in the middle of bookings', async () => {
    const sending = (async () => {
      for (let i = 0; i < 4; i += 1) expectAccepted(await sendMatrix((await validCertificateBoundRequest(matrix)).request));
    })();
    let done = false;
    void sending.finally(() => (done = true)).catch(() => {});
    const reports: ProjectionRebuildReport[] = [];
    while (!done) reports.push(await rebuildProjections(owner));
    await sending;
    reports.push(await rebuildProjections(owner));
    for (const report of reports) expect(report.projections.map((p) => p.differences)).toEqual([[], []]);
    expect(projection(reports.at(-1)!, 'payment_status').compared).toBe(13 + 40);
  });
});
