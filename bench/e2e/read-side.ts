/**
 * The read side. A balance is a column of the account row, so `GET /accounts/{id}/balance` must cost the same with
 * 1 k postings behind the account as with 1 M: the reader partner's two accounts are seeded to those counts (set
 * based, ledger.ts), and each is read through the gateway (full mTLS + DPoP path, fixed rate) and, to separate the
 * database from the rest, with the gateway's own statement (BALANCE_SQL) straight over a pool like the gateway's.
 * `GET /payments/{uetr}` is read the same way, for payments a bank booked during the load phases.
 */
import { performance } from 'node:perf_hooks';

import { createDatabasePool } from '../../src/db/pool.ts';
import { BALANCE_SQL } from '../../src/payments/read-model.ts';
import { LatencyHistogram, type LatencySummary } from '../lib/histogram.ts';
import type { BenchDatabase } from './ledger.ts';
import { postingsOf, seedPostings } from './ledger.ts';
import { type LoadEnvironment, type LoadResult, runLoad } from './load.ts';

/** Untimed statements before the timed ones (plan cache, buffer cache, connection start). */
const QUERY_WARMUP = 200;

export interface ReadPlan {
  readonly port: number;
  readonly database: BenchDatabase;
  readonly readerBank: number;
  readonly accounts: { readonly small: bigint; readonly large: bigint };
  readonly postings: { readonly small: number; readonly large: number };
  /** A debtor bank and UETRs of its payments, for GET /payments/{uetr}. */
  readonly paymentReader: { readonly bank: number; readonly uetrs: readonly string[] };
  readonly connections: number;
  readonly rate: number;
  readonly seconds: number;
  /** Sequential statements per account for the query-alone figures. */
  readonly queries: number;
}

export interface AccountReadResult {
  readonly accountId: string;
  readonly postings: number;
  readonly seedSeconds: number;
  /** BALANCE_SQL alone, sequential, over the app-role pool. */
  readonly queryMs: LatencySummary;
  readonly gateway: LoadResult;
}

export interface ReadSideResult {
  readonly small: AccountReadResult;
  readonly large: AccountReadResult;
  /** p99 with the large history ÷ p99 with the small one (through the gateway, and the statement alone). */
  readonly largeOverSmallP99: { readonly gateway: number; readonly query: number };
  readonly payment: LoadResult;
}

export async function runReadSide(plan: ReadPlan, env: LoadEnvironment): Promise<ReadSideResult> {
  const seeded: Record<'small' | 'large', number> = { small: 0, large: 0 };
  for (const size of ['small', 'large'] as const) {
    const missing = plan.postings[size] - (await postingsOf(plan.database, plan.accounts[size]));
    if (missing > 0) {
      env.progress.update(`seeding ${missing.toLocaleString('en')} postings on account ${plan.accounts[size]} …`);
      seeded[size] = (await seedPostings(plan.database, plan.accounts[size], missing)).seconds;
    }
  }

  const pool = createDatabasePool({ url: plan.database.url, role: 'isogw_app' });
  const account = async (size: 'small' | 'large'): Promise<AccountReadResult> => {
    const id = plan.accounts[size];
    const histogram = new LatencyHistogram();
    try {
      for (let i = 0; i < QUERY_WARMUP; i++) await pool.query(BALANCE_SQL, [id.toString()]);
      for (let i = 0; i < plan.queries; i++) {
        const t0 = performance.now();
        await pool.query(BALANCE_SQL, [id.toString()]);
        histogram.record(performance.now() - t0);
      }
    } catch (error) {
      throw new Error(`balance statement on account ${id}: ${(error as Error).message}`, { cause: error });
    }
    env.supply.setSpec(plan.readerBank, { kind: 'get', paths: [`/accounts/${id}/balance`] });
    const gateway = await runLoad(
      {
        id: `read-balance-${size}`,
        label: `GET /accounts/{id}/balance, ${plan.postings[size].toLocaleString('en')} postings`,
        port: plan.port,
        assignment: new Array<number>(plan.connections).fill(plan.readerBank),
        pipelining: 1,
        durationSeconds: plan.seconds,
        overallRate: plan.rate,
        kind: 'read',
      },
      env,
    );
    return { accountId: id.toString(), postings: await postingsOf(plan.database, id), seedSeconds: seeded[size], queryMs: histogram.summary(), gateway };
  };

  let small: AccountReadResult;
  let large: AccountReadResult;
  try {
    small = await account('small');
    large = await account('large');
  } finally {
    await pool.end();
  }

  const { bank, uetrs } = plan.paymentReader;
  if (uetrs.length === 0) throw new Error('read side: no payments to read (run a gateway phase first)');
  env.supply.setSpec(bank, { kind: 'get', paths: uetrs.map((uetr) => `/payments/${uetr}`) });
  const payment = await runLoad(
    {
      id: 'read-payment',
      label: 'GET /payments/{uetr}',
      port: plan.port,
      assignment: new Array<number>(plan.connections).fill(bank),
      pipelining: 1,
      durationSeconds: plan.seconds,
      overallRate: plan.rate,
      kind: 'read',
    },
    env,
  );
  env.supply.setSpec(bank, { kind: 'intake' });
  return {
    small,
    large,
    largeOverSmallP99: { gateway: large.gateway.latencyMs.p99 / small.gateway.latencyMs.p99, query: large.queryMs.p99 / small.queryMs.p99 },
    payment,
  };
}
