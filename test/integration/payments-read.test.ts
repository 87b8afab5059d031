/**
 * The read side through a real gateway (mutual TLS, real tokens, DPoP and certificate-bound): GET /payments/{uetr}
 * in JSON and as the stored pacs.002, who may see a payment (sender, instructing or creditor agent — and nobody
 * else, without learning that it exists), GET /accounts and GET /accounts/{id}/balance, every refusal's exact shape,
 * and that a balance read stays one primary-key row.
 *
 * The rows are written with the owner pool: accounts funded with fundSettlementAccount (on top of the test
 * gateway's own dev funding), money moved with postEntry, and a message, its payments and their status events
 * inserted as the intake writes them — so every field and both report sources are pinned. A last test books a
 * real pacs.008 through the intake and reads it back.
 */
import { randomBytes, randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { formatDecimal } from '../../src/iso20022/decimal.ts';
import { fundSettlementAccount } from '../../src/ledger/fund.ts';
import { gatewayAccount } from '../../src/ledger/accounts.ts';
import { type JournalEntryDraft, postEntry } from '../../src/ledger/post-entry.ts';
import { BALANCE_SQL } from '../../src/payments/read-model.ts';
import {
  type DevPartnerId,
  expectRefused,
  type Matrix,
  sendMatrix,
  startMatrix,
  UUID,
  validCertificateBoundRequest,
  validDpopRequest,
} from '../support/auth-matrix.ts';
import { DEV_FUNDING_MINOR, type GatewayAnswer, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { freshPacs008 } from '../support/messages.ts';

let matrix: Matrix;
let alphaEur: bigint;
let alphaJpy: bigint;
let betaEur: bigint;
let fundingEur: bigint;
let settled: { uetr: string; paymentId: bigint; createdAt: Date; updatedAt: Date; events: { at: Date; entryId: bigint | null }[] };
let rejected: { uetr: string };

/** What the set-up leaves in bank-alpha's and bank-beta's EUR accounts (dev funding + ours ∓ the settled payment). */
const ALPHA_EUR = DEV_FUNDING_MINOR + 1_000_000_00n - 1250_50n;
const BETA_EUR = DEV_FUNDING_MINOR + 500_00n + 1250_50n;
const eur = (minor: bigint) => ({ minor: minor.toString(), value: formatDecimal({ coefficient: minor, scale: 2 }) });

/** The answer to the message, as the intake stored it (non-ASCII on purpose: the bytes must survive). */
const MESSAGE_ANSWER = `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10"><FIToFIPmtStsRpt><GrpHdr><MsgId>ISOGW-ANSWER-1</MsgId><CreDtTm>2026-01-05T10:00:00Z</CreDtTm></GrpHdr><OrgnlGrpInfAndSts><OrgnlMsgId>MSG-READ-1</OrgnlMsgId><OrgnlMsgNmId>pacs.008.001.08</OrgnlMsgNmId><GrpSts>PART</GrpSts></OrgnlGrpInfAndSts><TxInfAndSts><TxSts>ACSP</TxSts></TxInfAndSts><TxInfAndSts><TxSts>RJCT</TxSts><StsRsnInf><Rsn><Cd>AM04</Cd></Rsn><AddtlInf>Débiteur: fonds insuffisants — Zürich</AddtlInf></StsRsnInf></TxInfAndSts></FIToFIPmtStsRpt></Document>
`;
/** The later report of the settlement (the latest event's report_xml). */
const SETTLED_REPORT = `<?xml version="1.0" encoding="UTF-8"?>\r\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10"><FIToFIPmtStsRpt><GrpHdr><MsgId>ISOGW-SETTLED-1</MsgId><CreDtTm>2026-01-05T10:00:01Z</CreDtTm></GrpHdr><TxInfAndSts><TxSts>ACSC</TxSts><AddtlInf>gebucht · 済</AddtlInf></TxInfAndSts></FIToFIPmtStsRpt></Document>`;

beforeAll(async () => {
  matrix = await startMatrix();
  const pool = matrix.gateway.database.pool;
  alphaEur = (await fundSettlementAccount(pool, { bic: 'DEUTDEFFXXX', name: 'Alpha Bank AG', currency: 'EUR', amount: 1_000_000_00n, reference: 'seed' })).accountId;
  alphaJpy = (await fundSettlementAccount(pool, { bic: 'DEUTDEFF', name: 'Alpha Bank AG', currency: 'JPY', amount: 700_000n, reference: 'seed' })).accountId;
  betaEur = (await fundSettlementAccount(pool, { bic: 'COBADEFFXXX', name: 'Beta Bank AG', currency: 'EUR', amount: 500_00n, reference: 'seed' })).accountId;
  await fundSettlementAccount(pool, { bic: 'ABNANL2AXXX', name: 'Gamma Bank NV', currency: 'EUR', amount: 1n, reference: 'seed' });

  // Two-phase, as the intake books it: hold into suspense, then settle to the creditor agent.
  const client = await pool.connect();
  let hold: bigint;
  let settle: bigint;
  try {
    await client.query('begin');
    const suspense = await gatewayAccount(client, 'suspense', 'EUR');
    fundingEur = await gatewayAccount(client, 'funding', 'EUR');
    const post = async (entry: JournalEntryDraft) => {
      const result = await postEntry(client, entry);
      if (result.kind !== 'posted') throw new Error('set-up entry refused');
      return result.entryId;
    };
    const line = (accountId: bigint, direction: 'D' | 'C') => ({ accountId, currency: 'EUR', direction, amount: 1250_50n });
    hold = await post({ kind: 'hold', reference: 'payment 1', lines: [line(alphaEur, 'D'), line(suspense, 'C')] });
    settle = await post({ kind: 'hold_post', reference: 'payment 1', lines: [line(suspense, 'D'), line(betaEur, 'C')] });
    await client.query('commit');
  } finally {
    client.release();
  }

  const message = await pool.query<{ id: string }>(
    `insert into messages (client_id, idempotency_key, fingerprint, instructing_agent, msg_id, message_type, transactions, response_status, response_body)
     values ('bank-alpha', $1, 'fingerprint', 'DEUTDEFFXXX', 'MSG-READ-1', 'pacs.008.001.08', 2, 200, $2) returning id`,
    [randomUUID(), MESSAGE_ANSWER],
  );
  const messageId = message.rows[0]!.id;

  const settledUetr = randomUUID();
  const payment = await pool.query<{ id: string; created_at: Date; updated_at: Date }>(
    `insert into payments (message_id, tx_index, uetr, uetr_assigned, instructing_agent, instruction_id, end_to_end_id, tx_id, debtor_agent,
                           creditor_agent, amount, currency, route, debit_account_id, credit_account_id, status, status_reason, sequence,
                           created_at, updated_at)
     values ($1, 1, $2, false, 'DEUTDEFFXXX', 'INSTR-1', 'E2E-1', 'TX-1', 'DEUTDEFFXXX', 'COBADEFF', 125050, 'EUR', 'on_us', $3, $4, 'ACSC', null, 2,
             '2026-01-05T10:00:00.123456Z', '2026-01-05T10:00:01.5Z')
     returning id, created_at, updated_at`,
    [messageId, settledUetr, alphaEur.toString(), betaEur.toString()],
  );
  const paymentId = BigInt(payment.rows[0]!.id);
  const events = await pool.query<{ at: Date; entry_id: string | null }>(
    `insert into payment_events (payment_id, sequence, status, reason, reason_info, entry_id, report_xml, at) values
       ($1, 1, 'ACSP', null, null, $2, null, '2026-01-05T10:00:00.2Z'),
       ($1, 2, 'ACSC', null, 'settled on us', $3, $4, '2026-01-05T10:00:01.5Z')
     returning at, entry_id`,
    [paymentId.toString(), hold.toString(), settle.toString(), SETTLED_REPORT],
  );
  settled = {
    uetr: settledUetr,
    paymentId,
    createdAt: payment.rows[0]!.created_at,
    updatedAt: payment.rows[0]!.updated_at,
    events: events.rows.map((row) => ({ at: row.at, entryId: row.entry_id === null ? null : BigInt(row.entry_id) })),
  };

  // The message's second transaction: rejected at once, no money moved, no report of its own.
  const rejectedUetr = randomUUID();
  const second = await pool.query<{ id: string }>(
    `insert into payments (message_id, tx_index, uetr, uetr_assigned, instructing_agent, end_to_end_id, debtor_agent, creditor_agent, amount,
                           currency, status, status_reason, sequence)
     values ($1, 2, $2, true, 'DEUTDEFFXXX', 'E2E-2', 'DEUTDEFFXXX', 'INGBNL2AXXX', 99, 'JPY', 'RJCT', 'AM04', 1) returning id`,
    [messageId, rejectedUetr],
  );
  await pool.query(`insert into payment_events (payment_id, sequence, status, reason, reason_info) values ($1, 1, 'RJCT', 'AM04', 'insufficient funds')`, [
    second.rows[0]!.id,
  ]);
  rejected = { uetr: rejectedUetr };
});

afterAll(async () => {
  await matrix?.close();
});

/** A GET by one dev partner over its own connection, with its usual binding (bank-beta: certificate-bound). */
async function get(partner: DevPartnerId, path: string, headers: Record<string, string> = {}, gateway: TestGateway = matrix.gateway): Promise<GatewayAnswer> {
  const target = { ...matrix, gateway };
  const { request } =
    partner === 'bank-beta'
      ? await validCertificateBoundRequest(target, { method: 'GET', path, headers })
      : await validDpopRequest(target, { partner, method: 'GET', path, headers });
  return sendMatrix(request);
}

function expectJson(answer: GatewayAnswer, status: number): unknown {
  const context = `answer: ${answer.status} ${answer.body}`;
  expect(answer.status, context).toBe(status);
  expect(answer.headers['content-type'], context).toBe('application/json; charset=utf-8');
  expect(answer.headers['cache-control'], context).toBe('no-store');
  expect(String(answer.headers['x-fapi-interaction-id']), context).toMatch(UUID);
  return JSON.parse(answer.body);
}

function expectProblem(answer: GatewayAnswer, status: number, error: string): void {
  const body = expectJson(answer, status) as { error?: unknown; error_description?: unknown };
  expect(body.error).toBe(error);
  expect(typeof body.error_description).toBe('string');
  expect(Object.keys(body).sort()).toEqual(['error', 'error_description']);
}

describe('GET /payments/{uetr}', () => {
  it('shows the sender its payment in JSON: identifiers, exact amount, status and the whole history in order', async () => {
    const answer = await get('bank-alpha', `/payments/${settled.uetr}`);
    expect(answer.headers.vary).toBe('accept');
    expect(expectJson(answer, 200)).toEqual({
      uetr: settled.uetr,
      uetrAssigned: false,
      msgId: 'MSG-READ-1',
      messageType: 'pacs.008.001.08',
      instructionId: 'INSTR-1',
      endToEndId: 'E2E-1',
      txId: 'TX-1',
      instructingAgent: 'DEUTDEFFXXX',
      debtorAgent: 'DEUTDEFFXXX',
      creditorAgent: 'COBADEFF',
      amount: { currency: 'EUR', minor: '125050', value: '1250.50' },
      route: 'on_us',
      status: 'ACSC',
      statusReason: null,
      sequence: 2,
      createdAt: '2026-01-05T10:00:00.123Z',
      updatedAt: '2026-01-05T10:00:01.500Z',
      history: [
        { sequence: 1, status: 'ACSP', reason: null, reasonInfo: null, entryId: settled.events[0]!.entryId!.toString(), at: '2026-01-05T10:00:00.200Z' },
        { sequence: 2, status: 'ACSC', reason: null, reasonInfo: 'settled on us', entryId: settled.events[1]!.entryId!.toString(), at: '2026-01-05T10:00:01.500Z' },
      ],
    });
  });

  it('shows a rejected payment with its reason, an assigned UETR, a JPY amount without decimals, and an upper-case UETR finds it', async () => {
    const body = expectJson(await get('bank-alpha', `/payments/${rejected.uetr.toUpperCase()}`), 200) as Record<string, unknown>;
    expect(body).toMatchObject({
      uetr: rejected.uetr,
      uetrAssigned: true,
      instructionId: null,
      txId: null,
      route: null,
      status: 'RJCT',
      statusReason: 'AM04',
      amount: { currency: 'JPY', minor: '99', value: '99' },
      history: [{ sequence: 1, status: 'RJCT', reason: 'AM04', reasonInfo: 'insufficient funds', entryId: null }],
    });
    expect(body).not.toHaveProperty('paymentId');
    expect(body).not.toHaveProperty('clientId');
  });

  it('answers Accept: application/xml with the latest pacs.002, byte for byte', async () => {
    const answer = await get('bank-alpha', `/payments/${settled.uetr}`, { accept: 'application/xml' });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/xml; charset=utf-8');
    expect(answer.headers['cache-control']).toBe('no-store');
    expect(Buffer.from(answer.body, 'utf8').equals(Buffer.from(SETTLED_REPORT, 'utf8'))).toBe(true);
  });

  it('falls back to the message’s own answer when no later report exists (text/xml works too)', async () => {
    const answer = await get('bank-alpha', `/payments/${rejected.uetr}`, { accept: 'text/xml' });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/xml; charset=utf-8');
    expect(answer.body).toBe(MESSAGE_ANSWER);
  });

  it('prefers XML over JSON when both are acceptable, and ignores XML at q=0', async () => {
    const both = await get('bank-alpha', `/payments/${settled.uetr}`, { accept: 'application/json, application/xml;q=0.5' });
    expect(both.body).toBe(SETTLED_REPORT);
    const refused = await get('bank-alpha', `/payments/${settled.uetr}`, { accept: 'application/xml;q=0, application/json' });
    expect((expectJson(refused, 200) as { uetr: string }).uetr).toBe(settled.uetr);
    const anything = await get('bank-alpha', `/payments/${settled.uetr}`, { accept: '*/*' });
    expect((expectJson(anything, 200) as { uetr: string }).uetr).toBe(settled.uetr);
  });

  it('shows the payment to the creditor agent (bank-beta, COBADEFFXXX, stored as BIC8), over its certificate-bound token', async () => {
    const json = expectJson(await get('bank-beta', `/payments/${settled.uetr}`), 200) as { uetr: string; status: string };
    expect(json).toMatchObject({ uetr: settled.uetr, status: 'ACSC' });
    const xml = await get('bank-beta', `/payments/${settled.uetr}`, { accept: 'application/xml' });
    expect(xml.body).toBe(SETTLED_REPORT);
  });

  it('answers a partner that is neither sender nor agent exactly as it answers a UETR nobody has', async () => {
    const foreign = await get('bank-gamma', `/payments/${settled.uetr}`);
    const unknown = await get('bank-gamma', `/payments/${randomUUID()}`);
    expectProblem(foreign, 404, 'payment_not_found');
    expect(foreign.body).toBe(unknown.body);
    const comparable = (answer: GatewayAnswer) => {
      const { date: _date, 'x-fapi-interaction-id': _id, ...rest } = answer.headers;
      return rest;
    };
    expect(comparable(foreign)).toEqual(comparable(unknown));
    // The XML variant leaks nothing either.
    expect((await get('bank-gamma', `/payments/${settled.uetr}`, { accept: 'application/xml' })).body).toBe(unknown.body);
    // bank-beta is the creditor agent of the first payment only, not of the second (sent to INGBNL2AXXX).
    expect((await get('bank-beta', `/payments/${rejected.uetr}`)).body).toBe(unknown.body);
  });

  it.each(['not-a-uuid', `${randomUUID()}0`, randomUUID().replaceAll('-', ''), 'g'.repeat(8) + randomUUID().slice(8), '%20'])(
    'refuses the malformed UETR %j with 400 invalid_uetr',
    async (uetr) => {
      expectProblem(await get('bank-alpha', `/payments/${uetr}`), 400, 'invalid_uetr');
    },
  );

  it('refuses a token without payments:read with 403 insufficient_scope, before looking at the UETR', async () => {
    for (const path of [`/payments/${settled.uetr}`, '/payments/not-a-uuid']) {
      const { request } = await validDpopRequest(matrix, { method: 'GET', path, tokenClaims: { scope: 'payments:write' } });
      const answer = await sendMatrix(request);
      expectRefused(answer, { status: 403, error: 'insufficient_scope', scheme: 'DPoP', because: 'payments:read' });
      expect(answer.headers['www-authenticate']).toContain('scope="payments:read"');
    }
  });

  it('refuses a request without credentials with 401 and both challenges', async () => {
    const { request } = await validDpopRequest(matrix, { method: 'GET', path: `/payments/${settled.uetr}`, headers: { authorization: undefined } });
    expectRefused(await sendMatrix(request), { status: 401, scheme: 'both' });
  });
});

describe('GET /accounts', () => {
  it('lists the caller’s own accounts only, with exact balances', async () => {
    const body = expectJson(await get('bank-alpha', '/accounts'), 200);
    expect(body).toEqual({
      accounts: [
        { id: alphaEur.toString(), bic: 'DEUTDEFFXXX', kind: 'settlement', currency: 'EUR', balance: eur(ALPHA_EUR) },
        { id: alphaJpy.toString(), bic: 'DEUTDEFFXXX', kind: 'settlement', currency: 'JPY', balance: { minor: '700000', value: '700000' } },
      ],
    });
    expect(expectJson(await get('bank-beta', '/accounts'), 200)).toEqual({
      accounts: [{ id: betaEur.toString(), bic: 'COBADEFFXXX', kind: 'settlement', currency: 'EUR', balance: eur(BETA_EUR) }],
    });
  });

  it('refuses a token without payments:read with 403 insufficient_scope', async () => {
    const { request } = await validDpopRequest(matrix, { method: 'GET', path: '/accounts', tokenClaims: { scope: 'payments:write' } });
    expectRefused(await sendMatrix(request), { status: 403, error: 'insufficient_scope', scheme: 'DPoP', because: 'payments:read' });
  });
});

describe('GET /accounts/{id}/balance', () => {
  it('answers the balance column of the caller’s account, exactly, with the time it was read', async () => {
    const before = Date.now();
    const body = expectJson(await get('bank-alpha', `/accounts/${alphaEur}/balance`), 200) as Record<string, unknown>;
    const { rows } = await matrix.gateway.database.pool.query<{ balance: string }>('select balance from accounts where id = $1', [alphaEur.toString()]);
    expect(rows[0]?.balance).toBe(ALPHA_EUR.toString());
    expect(body).toEqual({
      accountId: alphaEur.toString(),
      bic: 'DEUTDEFFXXX',
      kind: 'settlement',
      currency: 'EUR',
      balance: eur(ALPHA_EUR),
      asOf: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    expect(Date.parse(String(body.asOf))).toBeGreaterThanOrEqual(before - 1_000);
  });

  it('answers another partner’s account, a gateway account and an unknown id with the same 404 account_not_found', async () => {
    const bodies = new Set<string>();
    for (const id of [betaEur, fundingEur, 9_000_000_000_000_000_000n]) {
      const answer = await get('bank-alpha', `/accounts/${id}/balance`);
      expectProblem(answer, 404, 'account_not_found');
      bodies.add(answer.body.replace(String(id), '<id>'));
    }
    expect(bodies.size).toBe(1);
    // and bank-beta may read its own
    expect((expectJson(await get('bank-beta', `/accounts/${betaEur}/balance`), 200) as { accountId: string }).accountId).toBe(betaEur.toString());
  });

  it.each(['0', '-1', '01', 'abc', '1.0', '1e3', '+1', '9223372036854775808', '99999999999999999999', '%201'])(
    'refuses the account id %j with 400 invalid_account_id',
    async (id) => {
      expectProblem(await get('bank-alpha', `/accounts/${id}/balance`), 400, 'invalid_account_id');
    },
  );

  it('refuses a token without payments:read with 403 insufficient_scope', async () => {
    const { request } = await validDpopRequest(matrix, { method: 'GET', path: `/accounts/${alphaEur}/balance`, tokenClaims: { scope: 'payments:write' } });
    expectRefused(await sendMatrix(request), { status: 403, error: 'insufficient_scope', scheme: 'DPoP', because: 'payments:read' });
  });

  it('reads one row by primary key, whatever the history: EXPLAIN shows a unique index lookup on accounts.id and no postings', async () => {
    const pool = matrix.gateway.database.pool;
    // Realistic statistics, so the planner chooses as it would in production rather than for a five-row table.
    await pool.query(
      `insert into participants (bic, name) select 'PADDXX' || to_char(i, 'FM00000'), 'padding' from generate_series(1, 5000) as i;
       insert into accounts (participant_id, kind, currency) select id, 'settlement', c from participants, (values ('EUR'), ('USD')) as v(c)
        where bic like 'PADDXX%';
       analyze participants; analyze accounts; analyze postings;`,
    );
    const { rows } = await pool.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`explain (format json) ${BALANCE_SQL}`, [alphaEur.toString()]);
    const nodes = flatten(rows[0]!['QUERY PLAN'][0].Plan);
    expect(nodes.filter((node) => node['Relation Name'] === 'postings')).toEqual([]);
    expect(nodes.filter((node) => /Aggregate/.test(node['Node Type']))).toEqual([]);
    const accounts = nodes.filter((node) => node['Relation Name'] === 'accounts');
    expect(accounts).toHaveLength(1);
    expect(accounts[0]).toMatchObject({ 'Node Type': 'Index Scan', 'Plan Rows': 1, 'Index Cond': expect.stringMatching(/^\(id = /) });
    // The index is a unique one led by accounts.id: the primary key (or its twin unique (id, currency)).
    const index = await pool.query<{ unique: boolean; first_column: string }>(
      `select i.indisunique as unique, a.attname as first_column
         from pg_index i join pg_class c on c.oid = i.indexrelid join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
        where c.relname = $1`,
      [accounts[0]!['Index Name']],
    );
    expect(index.rows).toEqual([{ unique: true, first_column: 'id' }]);
    expect(['accounts_pkey', 'accounts_id_currency_key']).toContain(accounts[0]!['Index Name']);
  });
});

describe('with server-provided DPoP nonces', () => {
  let nonceGateway: TestGateway;

  beforeAll(async () => {
    nonceGateway = matrix.track(await startTestGateway(matrix.as, { dpopNonce: { secret: randomBytes(32), required: false } }));
  });

  it('hands the caller a fresh DPoP-Nonce with every read answer, found or not', async () => {
    for (const path of ['/accounts', `/payments/${randomUUID()}`, '/payments/nope', '/accounts/1/balance']) {
      const answer = await get('bank-alpha', path, {}, nonceGateway);
      expect(answer.status, path).toBeLessThan(500);
      expect(String(answer.headers['dpop-nonce']), path).toMatch(/^[A-Za-z0-9_-]{20,}$/);
      expect(answer.headers['cache-control'], path).toBe('no-store');
    }
  });
});

describe('when the database cannot be reached', () => {
  let blindGateway: TestGateway;

  beforeAll(async () => {
    // Nothing listens on port 1: every read fails to connect.
    blindGateway = matrix.track(await startTestGateway(matrix.as, { database: { url: 'postgres://postgres@127.0.0.1:1/nowhere', role: undefined } }));
  });

  it('answers every read with 503 read_unavailable and Retry-After, never a 500', async () => {
    for (const path of [`/payments/${settled.uetr}`, '/accounts', `/accounts/${alphaEur}/balance`]) {
      const answer = await get('bank-alpha', path, {}, blindGateway);
      expectProblem(answer, 503, 'read_unavailable');
      expect(answer.headers['retry-after'], path).toBe('5');
    }
  });
});

describe('a payment booked by the intake', () => {
  it('reads back what POST /iso20022/pacs.008 booked: status, history, and the answer it gave as the XML', async () => {
    const { xml } = freshPacs008('alpha1');
    const uetr = /<UETR>([^<]+)<\/UETR>/.exec(xml)?.[1];
    expect(uetr).toBeDefined();
    const posted = await sendMatrix((await validDpopRequest(matrix, { body: xml })).request);
    expect(posted.status, posted.body.slice(0, 300)).toBe(200);

    const json = expectJson(await get('bank-alpha', `/payments/${uetr}`), 200) as Record<string, unknown>;
    expect(json).toMatchObject({
      uetr,
      instructingAgent: 'DEUTDEFFXXX',
      creditorAgent: 'NWBKGB2LXXX',
      amount: { currency: 'EUR', minor: '4873265', value: '48732.65' },
      route: 'onward',
      status: 'ACSP',
    });
    const history = json.history as { sequence: number; status: string; entryId: string | null }[];
    expect(history.map((event) => [event.sequence, event.status])).toEqual([[1, 'RCVD'], [2, 'ACSP']]);
    expect(history.at(-1)?.entryId).toMatch(/^[1-9][0-9]*$/);
    expect(json.sequence).toBe(2);

    const report = await get('bank-alpha', `/payments/${uetr}`, { accept: 'application/xml' });
    expect(report.status).toBe(200);
    expect(report.body).toBe(posted.body);
    // The creditor agent NWBKGB2LXXX is no dev partner: bank-beta and bank-gamma see nothing.
    for (const partner of ['bank-beta', 'bank-gamma'] as const) expectProblem(await get(partner, `/payments/${uetr}`), 404, 'payment_not_found');
  });
});

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  'Plan Rows': number;
  Plans?: PlanNode[];
}

function flatten(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(flatten)];
}
