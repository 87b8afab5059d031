/**
 * Tampering with a ledger that holds real bookings (made through the gateway, then settled and released on the
 * onward leg), as the gateway's own role and as the owner: what the database refuses, and what it cannot refuse but
 * the invariant checker of test/support/ledger-invariants.ts catches.
 *
 * The application role (isogw_app, through the gateway's own pool settings) may append to the ledger, move balances
 * and move payment statuses forward; it may not rewrite or delete history. UPDATE of accounts.balance is granted to
 * it — postEntry needs it — so a bug or a compromised gateway CAN move a balance without a posting: the database
 * does not stop that, and the checker is what finds it.
 */
import { randomUUID } from 'node:crypto';

import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createDatabasePool } from '../../src/db/pool.ts';
import { releaseHeldPayment, settleHeldPayment } from '../../src/payments/onward-settlement.ts';
import { expectAccepted, type Matrix, sendMatrix, startMatrix, validCertificateBoundRequest, validDpopRequest } from '../support/auth-matrix.ts';
import { expectLedgerConsistent, ledgerViolations, ledgerViolationsIn } from '../support/ledger-invariants.ts';

let matrix: Matrix;
/** The owner (login user postgres, no SET ROLE). */
let owner: pg.Pool;
/** The gateway's role, with the gateway's pool settings. */
let app: pg.Pool;
/** Payment ids by what happened to them. */
const payment = { onUs: '', held: '', settled: '', released: '' };
const account = { alpha: '', beta: '', gamma: '', suspense: '', clearing: '' };

beforeAll(async () => {
  matrix = await startMatrix();
  owner = matrix.gateway.database.pool;
  app = createDatabasePool({ url: matrix.gateway.database.url, role: 'isogw_app', poolConnectionsMax: 4 });

  expectAccepted(await sendMatrix((await validCertificateBoundRequest(matrix)).request)); // 10 × ACSC on-us
  for (let i = 0; i < 3; i += 1) expectAccepted(await sendMatrix((await validDpopRequest(matrix)).request)); // 3 × ACSP onward
  const held = await owner.query<{ id: string; uetr: string }>(`select id, uetr from payments where status = 'ACSP' order by id`);
  const [stays, settles, releases] = held.rows;
  const report = { now: new Date(), newReportId: () => `TAMPER-${randomUUID().slice(0, 8)}` };
  expect((await settleHeldPayment(app, { ...report, uetr: settles!.uetr })).kind).toBe('settled');
  expect((await releaseHeldPayment(app, { ...report, uetr: releases!.uetr, reason: 'AC04' })).kind).toBe('released');
  payment.held = stays!.id;
  payment.settled = settles!.id;
  payment.released = releases!.id;
  payment.onUs = (await owner.query<{ id: string }>(`select min(id)::text as id from payments where route = 'on_us'`)).rows[0]!.id;

  const { rows } = await owner.query<{ name: string; id: string }>(
    `select coalesce(p.bic, a.kind) as name, a.id from accounts a left join participants p on p.id = a.participant_id where a.currency = 'EUR'`,
  );
  const id = (name: string) => rows.find((row) => row.name === name)!.id;
  Object.assign(account, { alpha: id('DEUTDEFFXXX'), beta: id('COBADEFFXXX'), gamma: id('ABNANL2AXXX'), suspense: id('suspense'), clearing: id('clearing') });
});

afterAll(async () => {
  await app?.end();
  await matrix?.close();
});

interface Refusal {
  readonly code: string | undefined;
  readonly message: string;
}

/**
 * Runs `statements` in one transaction on `pool` and ends it with `end`; the error that stopped it, if any. A test
 * expecting a refusal ends with rollback, so a statement that wrongly succeeds still changes nothing.
 */
async function attempt(pool: pg.Pool, statements: readonly (string | [string, unknown[]])[], end: 'commit' | 'rollback' = 'rollback'): Promise<Refusal | undefined> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    for (const statement of statements) {
      if (typeof statement === 'string') await client.query(statement);
      else await client.query(statement[0], statement[1]);
    }
    await client.query(end);
    return undefined;
  } catch (error) {
    await client.query('rollback').catch(() => {});
    return { code: (error as { code?: string }).code, message: (error as Error).message };
  } finally {
    client.release();
  }
}

/** Row counts of every table that holds history, and every balance: "nothing changed" is this staying equal. */
async function state(): Promise<unknown> {
  const { rows } = await owner.query(
    `select (select count(*)::int from journal_entries) as entries, (select count(*)::int from postings) as postings,
            (select count(*)::int from payment_events) as events, (select count(*)::int from outbox) as outbox,
            (select count(*)::int from messages) as messages, (select count(*)::int from payments) as payments,
            (select json_agg(json_build_array(id, balance) order by id) from accounts) as balances,
            (select json_agg(json_build_array(id, status, sequence) order by id) from payments) as statuses,
            (select json_agg(json_build_array(id, md5(response_body)) order by id) from messages) as answers`,
  );
  return rows[0];
}

/**
 * One statement appending a journal entry and its postings as given (the app role has no privilege on the identity
 * sequences, so the entry id travels through a CTE, as it does in postEntry's own round trips).
 */
function entryWith(reference: string, lines: readonly [account: string, currency: string, direction: 'D' | 'C', amount: number][]): [string, unknown[]] {
  const values = lines.map((_, i) => `($${4 * i + 2}::bigint, $${4 * i + 3}::char(3), $${4 * i + 4}::char(1), $${4 * i + 5}::bigint)`).join(', ');
  return [
    `with entry as (insert into journal_entries (kind, reference) values ('correction', $1) returning id)
     insert into postings (entry_id, account_id, currency, direction, amount)
     select entry.id, line.account_id, line.currency, line.direction, line.amount from entry, (values ${values}) as line(account_id, currency, direction, amount)`,
    [reference, ...lines.flat()],
  ];
}

const PERMISSION_DENIED = '42501';
const CHECK_VIOLATION = '23514';
const FOREIGN_KEY_VIOLATION = '23503';

describe('the ledger holds real bookings', () => {
  it('that satisfy every invariant: on-us ACSC, held ACSP, settled and released onward payments', async () => {
    const { rows } = await owner.query(`select id::text, status, status_reason, route, sequence from payments where id = any($1::bigint[]) order by id`, [
      [payment.onUs, payment.held, payment.settled, payment.released],
    ]);
    expect(rows).toEqual([
      { id: payment.onUs, status: 'ACSC', status_reason: null, route: 'on_us', sequence: 2 },
      { id: payment.held, status: 'ACSP', status_reason: null, route: 'onward', sequence: 2 },
      { id: payment.settled, status: 'ACSC', status_reason: null, route: 'onward', sequence: 3 },
      { id: payment.released, status: 'RJCT', status_reason: 'AC04', route: 'onward', sequence: 3 },
    ]);
    await expectLedgerConsistent(owner);
  });
});

describe('the application role cannot rewrite history (privileges)', () => {
  const refused: Record<string, readonly string[]> = {
    postings: ['update postings set amount = amount + 1', 'delete from postings', 'truncate postings cascade'],
    journal_entries: [`update journal_entries set reference = 'rewritten'`, 'delete from journal_entries', 'truncate journal_entries cascade'],
    payment_events: [`update payment_events set status = 'RJCT'`, 'delete from payment_events', 'truncate payment_events cascade'],
    outbox: [`update outbox set payload = '{}'`, 'delete from outbox', 'truncate outbox'],
    messages: [`update messages set msg_id = 'rewritten'`, `update messages set fingerprint = 'forged'`, 'delete from messages', 'truncate messages cascade'],
    payments: ['update payments set amount = amount + 1', 'update payments set debit_account_id = credit_account_id', 'delete from payments', 'truncate payments cascade'],
    accounts: [`update accounts set currency = 'USD'`, 'update accounts set overdraft_allowed = true', 'delete from accounts', 'truncate accounts cascade'],
    participants: [`update participants set bic = 'EVILDEFFXXX'`, 'delete from participants'],
  };
  for (const [table, statements] of Object.entries(refused)) {
    for (const statement of statements) {
      it(`refuses "${statement}"`, async () => {
        const before = await state();
        const refusal = await attempt(app, [statement]);
        expect(refusal, `${table}: ${statement}`).toMatchObject({ code: PERMISSION_DENIED });
        expect(refusal!.message).toMatch(/^permission denied for table /);
        expect(await state()).toEqual(before);
      });
    }
  }

  it('may write a message’s answer only once: a stored answer cannot be replaced (trigger)', async () => {
    const before = await state();
    for (const statement of [`update messages set response_body = 'forged'`, 'update messages set response_status = 500, response_body = $1']) {
      const refusal = await attempt(app, [[statement, statement.includes('$1') ? ['<forged/>'] : []]]);
      expect(refusal).toMatchObject({ code: PERMISSION_DENIED });
      expect(refusal!.message).toMatch(/only its answer may be written, once/);
    }
    expect(await state()).toEqual(before);
  });

  it('cannot move a payment’s status backwards, sideways, or by more than one step (trigger)', async () => {
    const before = await state();
    const cases: [string, string, RegExp][] = [
      // ACSC → RCVD: backwards
      [`update payments set status = 'RCVD', sequence = sequence + 1 where id = $1`, payment.onUs, /ACSC → RCVD is not a status transition/],
      // ACSC → ACSP: backwards (the settled onward payment)
      [`update payments set status = 'ACSP', sequence = sequence + 1 where id = $1`, payment.settled, /ACSC → ACSP is not a status transition/],
      // RJCT is final
      [`update payments set status = 'ACSC', sequence = sequence + 1 where id = $1`, payment.released, /RJCT → ACSC is not a status transition/],
      // a valid transition that skips a sequence number
      [`update payments set status = 'ACSC', sequence = sequence + 2 where id = $1`, payment.held, /sequence must advance by one/],
      // a status change without a new sequence number
      [`update payments set status = 'RJCT' where id = $1`, payment.held, /sequence must advance by one/],
    ];
    for (const [statement, id, message] of cases) {
      const refusal = await attempt(app, [[statement, [id]]]);
      expect(refusal, statement).toMatchObject({ code: CHECK_VIOLATION });
      expect(refusal!.message).toMatch(message);
    }
    expect(await state()).toEqual(before);
  });

  it('cannot commit an unbalanced entry, nor an entry of one posting (deferred trigger, at COMMIT)', async () => {
    const before = await state();
    const unbalanced = await attempt(
      app,
      [
        entryWith('tamper: unbalanced', [[account.beta, 'EUR', 'D', 100], [account.gamma, 'EUR', 'C', 99]]),
        ['update accounts set balance = balance - 100 where id = $1', [account.beta]],
        ['update accounts set balance = balance + 99 where id = $1', [account.gamma]],
      ],
      'commit',
    );
    expect(unbalanced).toMatchObject({ code: CHECK_VIOLATION });
    expect(unbalanced!.message).toMatch(/is unbalanced in EUR: debits 100 <> credits 99/);

    const single = await attempt(
      app,
      [
        entryWith('tamper: one posting', [[account.gamma, 'EUR', 'C', 100]]),
        ['update accounts set balance = balance + 100 where id = $1', [account.gamma]],
      ],
      'commit',
    );
    expect(single).toMatchObject({ code: CHECK_VIOLATION });
    expect(single!.message).toMatch(/has 1 posting\(s\); an entry needs at least two/);
    expect(await state()).toEqual(before);
  });

  it('cannot post in another currency than the account’s (foreign key on (account, currency))', async () => {
    const before = await state();
    const refusal = await attempt(app, [
      entryWith('tamper: currency', [[account.beta, 'USD', 'D', 5], [account.gamma, 'USD', 'C', 5]]),
    ]);
    expect(refusal).toMatchObject({ code: FOREIGN_KEY_VIOLATION });
    expect(refusal!.message).toMatch(/postings_account_id_currency_fkey/);
    expect(await state()).toEqual(before);
  });
});

describe('the owner cannot rewrite history either (triggers)', () => {
  const refused = [
    'update postings set amount = amount + 1',
    'delete from postings',
    'truncate postings cascade',
    `update journal_entries set reference = 'rewritten'`,
    'delete from journal_entries',
    `update payment_events set reason = 'AM04'`,
    'delete from payment_events',
    'truncate payment_events cascade',
    `update messages set msg_id = 'rewritten'`,
    `update messages set response_body = 'forged'`,
    'delete from messages',
    'truncate messages cascade',
    // cascades to payment_events, whose truncate trigger refuses
    'truncate payments cascade',
  ];
  for (const statement of refused) {
    it(`refuses "${statement}"`, async () => {
      const before = await state();
      const refusal = await attempt(owner, [statement]);
      expect(refusal, statement).toMatchObject({ code: PERMISSION_DENIED });
      expect(refusal!.message).toMatch(/append-only|only its answer may be written, once/);
      expect(await state()).toEqual(before);
    });
  }

  it('refuses to change anything of a payment but its status, and deleting a payment that has history', async () => {
    const before = await state();
    const changed = await attempt(owner, [[`update payments set amount = 1, sequence = sequence + 1, status = 'ACSC' where id = $1`, [payment.held]]]);
    expect(changed).toMatchObject({ code: PERMISSION_DENIED });
    expect(changed!.message).toMatch(/only its status may change/);
    const deleted = await attempt(owner, [['delete from payments where id = $1', [payment.held]]]);
    expect(deleted).toMatchObject({ code: FOREIGN_KEY_VIOLATION });
    expect(await state()).toEqual(before);
  });
});

describe('what the database lets the application role do, the invariant checker catches', () => {
  it('a balance moved without a posting (UPDATE accounts.balance is granted): committed, caught, and repaired', async () => {
    // The app role may move balances: postEntry does exactly this next to its postings. Here without them, and
    // keeping the currency's sum at zero, so only the postings can tell.
    expect(await attempt(app, [
      ['update accounts set balance = balance - 1000 where id = $1', [account.beta]],
      ['update accounts set balance = balance + 1000 where id = $1', [account.gamma]],
    ], 'commit')).toBeUndefined();
    try {
      const violations = await ledgerViolations(owner);
      expect(violations).toHaveLength(2);
      for (const violation of violations) expect(violation).toMatch(/^an account balance is the credits minus the debits of its postings: /);
      expect(violations.map((violation) => JSON.parse(violation.slice(violation.indexOf('{'))).id).sort()).toEqual([account.beta, account.gamma].sort());
      await expect(expectLedgerConsistent(owner)).rejects.toThrow(/ledger invariants violated/);
    } finally {
      // put the money back (the same kind of statement), so the ledger is consistent again
      expect(await attempt(app, [
        ['update accounts set balance = balance + 1000 where id = $1', [account.beta]],
        ['update accounts set balance = balance - 1000 where id = $1', [account.gamma]],
      ], 'commit')).toBeUndefined();
    }
    await expectLedgerConsistent(owner);
  });

  /** Tampers inside a transaction as the app role, reads the checker's verdict in that transaction, rolls back. */
  async function verdict(statements: readonly [string, unknown[]][]): Promise<string[]> {
    const client = await app.connect();
    try {
      await client.query('begin');
      for (const [sql, params] of statements) await client.query(sql, params);
      return (await ledgerViolationsIn(client)).map((violation) => violation.slice(0, violation.indexOf(': {')));
    } finally {
      await client.query('rollback');
      client.release();
    }
  }

  it('a held amount taken out of suspense by hand', async () => {
    expect(
      await verdict([
        ['update accounts set balance = balance - 5 where id = $1', [account.suspense]],
        ['update accounts set balance = balance + 5 where id = $1', [account.alpha]],
      ]),
    ).toEqual([
      'an account balance is the credits minus the debits of its postings',
      'an account balance is the credits minus the debits of its postings',
      'the suspense balance of a currency is the sum of the onward payments in process (ACSP)',
    ]);
  });

  it('a balanced entry appended without moving the balances (money invented in the postings)', async () => {
    expect(
      await verdict([
        entryWith('tamper: invented', [[account.beta, 'EUR', 'D', 7], [account.gamma, 'EUR', 'C', 7]]),
      ]),
    ).toEqual([
      'an account balance is the credits minus the debits of its postings',
      'an account balance is the credits minus the debits of its postings',
    ]);
  });

  it('a held payment marked ACSC by hand (a transition the trigger allows) without its event, entry or outbox row', async () => {
    expect(await verdict([[`update payments set status = 'ACSC', sequence = sequence + 1 where id = $1`, [payment.held]]])).toEqual([
      'what a payment moved, over its whole history, is what its status says (ACSP: debtor → suspense; ACSC: debtor → creditor, or clearing when onward; RJCT: nothing)',
      'what a payment moved, over its whole history, is what its status says (ACSP: debtor → suspense; ACSC: debtor → creditor, or clearing when onward; RJCT: nothing)',
      'the suspense balance of a currency is the sum of the onward payments in process (ACSP)',
      'a payment’s events are numbered 1..n and its row says what its latest event says',
    ]);
  });

  it('a status event without its outbox row, and a message without its answer', async () => {
    expect(
      await verdict([
        [`insert into payment_events (payment_id, sequence, status) values ($1, 3, 'RJCT')`, [payment.held]],
        [`insert into messages (client_id, idempotency_key, fingerprint, instructing_agent, msg_id, message_type, transactions) values ('bank-beta', 'tamper', 'x', 'COBADEFFXXX', 'TAMPER', 'pacs.008.001.08', 1)`, []],
      ]),
    ).toEqual([
      'a status event has exactly one outbox row, for the same payment and sequence',
      'a payment’s events are numbered 1..n and its row says what its latest event says',
      'a message carries its answer and has no more payments than transactions',
    ]);
    await expectLedgerConsistent(owner);
  });
});
