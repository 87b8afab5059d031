/**
 * The database floor: the gateway's own booking transaction (src/payments/book-message.ts `bookMessage`: message
 * row, payments, accounts locked in id order, journal entry + postings + balance columns via postEntry, status
 * events + outbox rows, stored answer — one transaction), fired straight at Postgres from this process with the
 * same concurrency as the load runs, through a pool made like the gateway's (createDatabasePool: the app role, the
 * same size and time limits). Nothing else: no TLS, HTTP, authentication, XML, Redis.
 *
 * The messages are checked once per bank and template beforehand (checkPacs008, the real thing) and then given
 * fresh identifiers per booking (MsgId, UETR, EndToEndId, TxId) and a creditor chosen with the same mix as the
 * load, so each booking is unique and routes like the gateway's. The stored answer is a real pacs.002 the gateway
 * gave, of the size it stores; building it (the gateway does that inside the transaction) is the one piece of CPU
 * work left out.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';

import type pg from 'pg';

import { schemaSetFromDisk } from '../../src/config/xsd-files.ts';
import { createDatabasePool, DATABASE_LIMITS } from '../../src/db/pool.ts';
import { type CheckedMessage, checkPacs008 } from '../../src/iso20022/index.ts';
import { bookMessage } from '../../src/payments/book-message.ts';
import { LatencyHistogram, type LatencySummary } from '../lib/histogram.ts';
import { machineBusyShare, readMachineCpu } from '../lib/process-sampler.ts';
import type { ProgressLine } from '../lib/progress.ts';
import { BODY_KINDS, type BodyKind, compileTemplate, ONWARD_CREDITOR_BIC, renderMessage } from './messages.ts';

export interface FloorPlan {
  readonly id: string;
  readonly label: string;
  readonly databaseUrl: string;
  /** Bank of each concurrent booking loop (the load runs' connection assignment). */
  readonly assignment: readonly number[];
  readonly bankBics: readonly string[];
  readonly creditorBics: readonly string[];
  readonly tenTxShare: number;
  readonly onwardShare: number;
  readonly durationSeconds: number;
  /** The pacs.002 stored as the answer of every booking. */
  readonly answer: string;
}

export interface FloorResult {
  readonly id: string;
  readonly label: string;
  readonly concurrency: number;
  readonly poolConnections: number;
  readonly banks: Record<string, number>;
  /** Epoch milliseconds when the phase began. */
  readonly startedAt: number;
  readonly seconds: number;
  readonly booked: number;
  readonly bookedPerSecond: number;
  readonly bookedPayments: number;
  readonly bookedPaymentsPerSecond: number;
  /** Outcomes other than `booked` and thrown errors (BookingUnavailable: lock or statement timeouts…). */
  readonly errors: number;
  readonly errorSamples: string[];
  readonly latencyMs: LatencySummary;
  readonly latencyDistribution: { readonly ms: number; readonly share: number }[];
  readonly bookedEachSecond: number[];
  readonly machineBusyShare: number | null;
}

interface Prepared {
  readonly checked: CheckedMessage;
  readonly transactions: number;
}

/** One checked message per (bank, body kind); clones of it are booked. */
function prepare(bankBics: readonly string[]): Map<string, Prepared> {
  const schemas = schemaSetFromDisk();
  const prepared = new Map<string, Prepared>();
  for (const kind of BODY_KINDS) {
    const template = compileTemplate(kind);
    for (const bic of bankBics) {
      const rendered = renderMessage(template, bic, ONWARD_CREDITOR_BIC);
      const checked = checkPacs008(Buffer.from(rendered.xml), { schemas, now: new Date() });
      if (checked.kind !== 'checked' || !checked.accepted || checked.message === undefined) {
        throw new Error(`database floor: the ${kind} message from ${bic} is not accepted: ${JSON.stringify(checked.reasons)}`);
      }
      prepared.set(`${bic}/${kind}`, { checked, transactions: template.transactions });
    }
  }
  return prepared;
}

/** The checked message with new identifiers everywhere the database enforces uniqueness, and its creditor agent. */
function fresh(checked: CheckedMessage, creditorBic: string): CheckedMessage {
  const message = checked.message!;
  const hex = randomUUID().replaceAll('-', '');
  const messageId = `E2EF${hex.slice(0, 30)}`;
  let n = 0;
  const transactions = checked.transactions.map((outcome) => {
    const transfer = outcome.transfer!;
    n += 1;
    return {
      ...outcome,
      transfer: {
        ...transfer,
        uetr: randomUUID(),
        endToEndId: `E2E-${hex.slice(0, 24)}-${n}`,
        transactionId: `TX${randomUUID().replaceAll('-', '')}`,
        creditorAgent: { ...transfer.creditorAgent, bic: creditorBic },
      },
    };
  });
  return { ...checked, message: { ...message, group: { ...message.group, messageId } }, transactions };
}

export async function runDatabaseFloor(plan: FloorPlan, progress: ProgressLine): Promise<FloorResult> {
  const prepared = prepare([...new Set(plan.assignment.map((bank) => plan.bankBics[bank]!))]);
  const pool: pg.Pool = createDatabasePool({ url: plan.databaseUrl, role: 'isogw_app' });
  const histogram = new LatencyHistogram();
  const bookedEachSecond: number[] = [];
  const errorSamples: string[] = [];
  let booked = 0;
  let bookedPayments = 0;
  let errors = 0;
  const machineBefore = readMachineCpu();
  const startedAt = Date.now();
  const started = performance.now();
  const deadline = started + plan.durationSeconds * 1000;
  const ticker = setInterval(() => {
    const elapsed = (performance.now() - started) / 1000;
    progress.update(`${plan.label}: ${elapsed.toFixed(0)}/${plan.durationSeconds} s, ${(booked / Math.max(elapsed, 0.001)).toFixed(0)} booked/s, ${errors} errors`);
  }, 1000);

  const loop = async (bank: number): Promise<void> => {
    const bic = plan.bankBics[bank]!;
    while (performance.now() < deadline) {
      const kind: BodyKind = Math.random() < plan.tenTxShare ? '10tx' : '1tx';
      const base = prepared.get(`${bic}/${kind}`)!;
      const creditor = Math.random() < plan.onwardShare ? ONWARD_CREDITOR_BIC : plan.creditorBics[Math.floor(Math.random() * plan.creditorBics.length)]!;
      const checked = fresh(base.checked, creditor);
      const t0 = performance.now();
      try {
        const outcome = await bookMessage(pool, {
          clientId: `floor-${bank}`,
          idempotencyKey: randomUUID(),
          fingerprint: randomUUID(),
          checked,
          answer: () => ({ status: 200, body: plan.answer }),
        });
        const t1 = performance.now();
        histogram.record(t1 - t0);
        const rejected = outcome.kind === 'booked' ? [...outcome.bookings.values()].some((b) => b.kind === 'rejected' || b.kind === 'duplicate') : true;
        if (rejected) {
          errors += 1;
          if (errorSamples.length < 5) errorSamples.push(`outcome ${outcome.kind}`);
          continue;
        }
        booked += 1;
        bookedPayments += base.transactions;
        const second = Math.floor((t1 - started) / 1000);
        bookedEachSecond[second] = (bookedEachSecond[second] ?? 0) + 1;
      } catch (error) {
        errors += 1;
        if (errorSamples.length < 5) errorSamples.push((error as Error).message);
      }
    }
  };

  try {
    await Promise.all(plan.assignment.map((bank) => loop(bank)));
  } finally {
    clearInterval(ticker);
    await pool.end();
  }
  const seconds = (performance.now() - started) / 1000;
  const banks: Record<string, number> = {};
  for (const bank of plan.assignment) banks[String(bank)] = (banks[String(bank)] ?? 0) + 1;
  return {
    id: plan.id,
    label: plan.label,
    concurrency: plan.assignment.length,
    poolConnections: DATABASE_LIMITS.poolConnectionsMax,
    banks,
    startedAt,
    seconds,
    booked,
    bookedPerSecond: booked / seconds,
    bookedPayments,
    bookedPaymentsPerSecond: bookedPayments / seconds,
    errors,
    errorSamples,
    latencyMs: histogram.summary(),
    latencyDistribution: histogram.distribution(),
    bookedEachSecond: Array.from(bookedEachSecond, (n) => n ?? 0).slice(0, Math.floor(seconds)),
    machineBusyShare: machineBusyShare(machineBefore, readMachineCpu()),
  };
}
