/**
 * `npm run demo` is the README's first command and a smoke test of the whole product: run as the user runs it
 * (`node src/cli/main.ts demo`, a child process), once on the embedded default (no DATABASE_URL, no REDIS_URL in
 * its environment) and on the real local PostgreSQL and Redis, it must tell the story — the offline verdicts, the
 * services it used, five requests with their pacs.002 statuses and reason codes, four verified webhooks, balances
 * moved once — and exit 0. On a database that remembers an earlier run it must do it again (its webhook endpoint is
 * reused, not one more registered each time).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { TEST_REDIS_URL } from '../support/authz.ts';

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** One run takes a few seconds; generous for a loaded machine. */
const DEMO_RUN_TIMEOUT_MS = 60_000;

interface DemoRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runDemo(env: Record<string, string | undefined>): Promise<DemoRun> {
  // The environment exactly as given: DATABASE_URL / REDIS_URL absent unless set here.
  const { DATABASE_URL: _database, REDIS_URL: _redis, ...inherited } = process.env;
  const childEnv = Object.fromEntries(Object.entries({ ...inherited, ...env }).filter((entry): entry is [string, string] => entry[1] !== undefined));
  return new Promise((resolve) => {
    execFile(process.execPath, ['src/cli/main.ts', 'demo'], { cwd: PROJECT_ROOT, env: childEnv, timeout: DEMO_RUN_TIMEOUT_MS }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });
}

/** The story's lines, whatever the services: exit 0, every check ticked, nothing crossed. */
function expectTheStory(run: DemoRun): void {
  expect(run.stderr, run.stdout).toBe('');
  expect(run.code, run.stdout).toBe(0);
  const out = run.stdout;
  // Offline: every example with its verdict.
  expect(out).toMatch(/1-accepted--cbpr-envelope\.xml\s+pacs\.008\.001\.08\s+ACTC\s+accepted/);
  expect(out).toMatch(/2-rejected--ctrl-sum-mismatch\.xml\s+pacs\.008\.001\.08\s+RJCT\s+AM10 CTRL_SUM_MISMATCH at \/Document\/FIToFICstmrCdtTrf\/GrpHdr\/CtrlSum/);
  expect(out).toMatch(/3-partially-rejected--creditor-iban\.xml\s+pacs\.008\.001\.08\s+PART\s+AC03/);
  expect(out).toMatch(/4-unreadable--entity-expansion-bomb\.xml\s+not a pacs\.008\s+-\s+FF01/);
  // The partner: a DPoP-bound token, then each request with its HTTP status, pacs.002 statuses and reason.
  expect(out).toMatch(/bank-alpha: DPoP access token/);
  expect(out).toMatch(/✓ 1\s+pays bank-gamma 12840\.00 EUR \(on-us\)\s+200\s+ACSC \/ ACSC/);
  expect(out).toMatch(/✓ 2\s+sends a CtrlSum that does not add up\s+422\s+RJCT\s+AM10 at \/Document\/FIToFICstmrCdtTrf\/GrpHdr\/CtrlSum/);
  expect(out).toMatch(/✓ 3\s+pays 1000000\.00 EUR, more than it has left\s+422\s+RJCT \/ RJCT\s+AM04/);
  expect(out).toMatch(/✓ 4\s+retries #1 with the same Idempotency-Key\s+200\s+ACSC \/ ACSC\s+Idempotent-Replayed: the first answer, byte for byte/);
  expect(out).toMatch(/✓ 5\s+sends #1 again under a new Idempotency-Key\s+409\s+RJCT\s+DUPL/);
  // The webhooks of the two booked payments, in order, both signatures verified.
  const webhooks = out.split('\n').filter((line) => /^ ✓ \d\s+payment\./.test(line));
  expect(webhooks.map((line) => line.replace(/\s+[0-9a-f-]{36}\s+/, ' ').replace(/\s+/g, ' ').trim())).toEqual([
    '✓ 1 payment.received 1 RCVD v1 ✓ v1a ✓',
    '✓ 1 payment.settled 2 ACSC v1 ✓ v1a ✓',
    '✓ 3 payment.received 1 RCVD v1 ✓ v1a ✓',
    '✓ 3 payment.rejected 2 RJCT AM04 v1 ✓ v1a ✓',
  ]);
  // Balances as the partners read them: the settled payment moved once.
  expect(out).toMatch(/✓ bank-alpha\s+DEUTDEFFXXX\s+EUR settlement\s+1000000\.00 →\s+987160\.00\s+−12840\.00/);
  expect(out).toMatch(/✓ bank-gamma\s+ABNANL2AXXX\s+EUR settlement\s+[\d.]+ →\s+[\d.]+\s+\+12840\.00/);
  expect(out).not.toContain('✗');
  expect(out).toContain('demo complete: every step happened as expected');
}

describe('npm run demo', () => {
  let database: TestDatabase | undefined;
  afterAll(async () => {
    await database?.close();
  });

  it('tells the whole story on the embedded default when neither DATABASE_URL nor REDIS_URL is set, and exits 0', async () => {
    const run = await runDemo({});
    expectTheStory(run);
    expect(run.stdout).toMatch(/database\s+embedded PGlite \(no DATABASE_URL\)/);
    expect(run.stdout).toMatch(/shared state\s+in memory \(no REDIS_URL\)/);
    expect(run.stdout).toMatch(/bank-gamma\s+ABNANL2AXXX\s+EUR settlement\s+0\.00 →\s+12840\.00/);
  }, DEMO_RUN_TIMEOUT_MS);

  it('uses PostgreSQL and Redis when DATABASE_URL and REDIS_URL name them, and runs again on the same database', async () => {
    database = await createTestDatabase({ migrate: false });
    const env = { DATABASE_URL: database.url, REDIS_URL: TEST_REDIS_URL };

    const first = await runDemo(env);
    expectTheStory(first);
    expect(first.stdout).toContain(`database       ${database.url}`);
    expect(first.stdout).toMatch(/migrations applied: 0001_ledger\.sql/);
    expect(first.stdout).toContain(`shared state   ${TEST_REDIS_URL}`);

    const second = await runDemo(env);
    expectTheStory(second);
    expect(second.stdout).not.toContain('migrations applied');
    expect(second.stdout).toContain('(kept from an earlier run, fresh signing keys)');
    expect(second.stdout).toMatch(/bank-gamma\s+ABNANL2AXXX\s+EUR settlement\s+12840\.00 →\s+25680\.00/);

    // What the runs left behind: two payments booked per run, one endpoint, disabled by the partner as it left.
    const { rows: payments } = await database.pool.query<{ status: string; n: number }>('select status, count(*)::int as n from payments group by status order by status');
    expect(payments).toEqual([{ status: 'ACSC', n: 2 }, { status: 'RJCT', n: 2 }]);
    const { rows: endpoints } = await database.pool.query<{ enabled: boolean }>('select enabled from webhook_endpoints');
    expect(endpoints).toEqual([{ enabled: false }]);
  }, 2 * DEMO_RUN_TIMEOUT_MS);
});
