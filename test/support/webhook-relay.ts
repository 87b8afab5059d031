/**
 * Test support for the webhook relay: payments booked by production code (checkPacs008 + bookMessage, answered with
 * a real pacs.002 the way the intake answers), relays with short schedules and timeouts, `isogw relay` as a child
 * process that a test can SIGKILL, and readers of what the database recorded (deliveries, attempts, the webhook-ids
 * that must arrive).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

import type pg from 'pg';

import { createDatabasePool } from '../../src/db/pool.ts';
import { checkPacs008, statusReason, statusReportFor } from '../../src/iso20022/index.ts';
import { buildPacs002, pacs002VersionFor } from '../../src/iso20022/pacs002/index.ts';
import { bookMessage, type TransactionBooking } from '../../src/payments/book-message.ts';
import { settleHeldPayment } from '../../src/payments/onward-settlement.ts';
import { createWebhookRelay, type RelayLogEntry, type WebhookRelay, type WebhookRelayOptions } from '../../src/webhooks/relay.ts';
import { createWebhookSender, type SenderLimits, type WebhookSender } from '../../src/webhooks/sender.ts';
import { schemas } from './fixtures.ts';
import { freshPacs008, type MessageTemplate } from './messages.ts';

const REPOSITORY_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Timeouts short enough that a hanging receiver costs a test a fraction of a second. */
export const SHORT_SENDER_LIMITS: SenderLimits = Object.freeze({
  connectTimeoutMs: 1_000,
  headersTimeoutMs: 400,
  bodyTimeoutMs: 400,
  responseExcerptBytes: 512,
  connectionsPerOrigin: 64,
});

/** The gateway's own connection to a test database: every statement as isogw_app. */
export function appPool(url: string): pg.Pool {
  return createDatabasePool({ url, role: 'isogw_app', poolConnectionsMax: 8 });
}

export interface TestRelay {
  readonly relay: WebhookRelay;
  readonly pool: pg.Pool;
  readonly log: RelayLogEntry[];
  /** Stops the relay (graceful) and closes its sender and, if it opened it, its pool. */
  close(): Promise<void>;
}

/** A relay with its own sender (short timeouts) on `pool` or a pool of its own; started unless `start: false`. */
export async function startTestRelay(
  databaseUrl: string,
  options: Partial<Omit<WebhookRelayOptions, 'databaseUrl' | 'sender'>> & { senderLimits?: SenderLimits; start?: boolean } = {},
): Promise<TestRelay> {
  const ownPool = options.pool === undefined;
  const pool = options.pool ?? appPool(databaseUrl);
  const sender: WebhookSender = createWebhookSender({ allowInsecureEndpoints: true, limits: options.senderLimits ?? SHORT_SENDER_LIMITS });
  const log: RelayLogEntry[] = [];
  const relay = createWebhookRelay({
    ...options,
    pool,
    databaseUrl,
    databaseRole: 'isogw_app',
    sender,
    limits: { pollIntervalMs: 200, ...options.limits },
    log: (entry) => {
      log.push(entry);
      if (entry.kind !== 'attempt') process.stderr.write(`[relay ${entry.relayId}] ${entry.kind}: ${entry.message}${entry.kind === 'error' ? ` (${(entry.error as Error)?.message})` : ''}\n`);
    },
  });
  if (options.start ?? true) await relay.start();
  return {
    relay,
    pool,
    log,
    close: async () => {
      await relay.stop();
      await sender.close();
      if (ownPool) await pool.end();
    },
  };
}

export interface BookedPayment {
  readonly paymentId: bigint;
  readonly uetr: string;
  readonly kind: TransactionBooking['kind'];
}

/**
 * A fresh pacs.008 from `template`, checked and booked as the intake books it (the stored answer is the pacs.002 the
 * intake would send). alpha1: one payment held for the onward leg (RCVD, ACSP); beta10: ten settled on-us (RCVD, ACSC).
 */
export async function bookFresh(pool: pg.Pool, template: MessageTemplate, clientId: string): Promise<{ payments: BookedPayment[]; answer: string }> {
  const now = new Date();
  const { xml } = freshPacs008(template, now);
  const checked = checkPacs008(Buffer.from(xml), { schemas, now });
  if (checked.kind !== 'checked' || !checked.accepted) throw new Error(`the ${template} message was not accepted`);
  const outcome = await bookMessage(pool, {
    clientId,
    idempotencyKey: randomUUID(),
    fingerprint: randomUUID(),
    checked,
    answer: (bookings) => {
      const report = statusReportFor(checked, {
        messageId: `T-${randomUUID().replaceAll('-', '').slice(0, 30)}`,
        creationDateTime: now.toISOString(),
        acceptedStatus: 'ACTC',
        transactionStatus: (index) => {
          const booking = bookings.get(index);
          if (booking === undefined) return undefined;
          if (booking.kind === 'settled') return { status: 'ACSC', reasons: [] };
          if (booking.kind === 'held') return { status: 'ACSP', reasons: [] };
          return { status: 'RJCT', reasons: [statusReason(booking.reason)] };
        },
      });
      return { status: 200, body: buildPacs002(report, pacs002VersionFor(Number(checked.messageType.slice(-2)))) };
    },
  });
  if (outcome.kind !== 'booked') throw new Error(`booking answered ${outcome.kind}`);
  const payments = [...outcome.bookings.values()].flatMap((booking) =>
    booking.kind === 'duplicate' ? [] : [{ paymentId: booking.paymentId, uetr: booking.uetr, kind: booking.kind }],
  );
  return { payments, answer: outcome.answer.body };
}

/** Settles a held payment (its third event, ACSC), as the operator's `isogw payments settle` does. */
export async function settle(pool: pg.Pool, uetr: string): Promise<void> {
  const result = await settleHeldPayment(pool, { uetr, now: new Date(), newReportId: () => `T-OPS-${randomUUID().replaceAll('-', '').slice(0, 24)}` });
  if (result.kind !== 'settled') throw new Error(`settle answered ${result.kind}`);
}

/** `evt_<uetr hex>_<sequence>` of every outbox event of `clientId`'s payments: what its endpoints must all receive. */
export async function expectedWebhookIds(pool: pg.Pool, clientId: string): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(
    `select 'evt_' || replace(p.uetr::text, '-', '') || '_' || o.sequence as id
       from outbox o join payments p on p.id = o.payment_id join messages m on m.id = p.message_id
      where m.client_id = $1 order by o.id`,
    [clientId],
  );
  return rows.map((row) => row.id);
}

export interface DeliveryRow {
  id: string;
  webhook_id: string;
  sequence: number;
  state: string;
  attempts: number;
  schedule_start: number;
  last_status: number | null;
  last_error: string | null;
  lease_owner: string | null;
  lease_until: Date | null;
  delivered_at: Date | null;
  dead_at: Date | null;
}

export async function deliveriesOf(pool: pg.Pool, endpointId: string): Promise<DeliveryRow[]> {
  const { rows } = await pool.query<DeliveryRow>(
    `select id, webhook_id, sequence, state, attempts, schedule_start, last_status, last_error, lease_owner, lease_until, delivered_at, dead_at
       from webhook_deliveries where endpoint_id = $1 order by id`,
    [endpointId],
  );
  return rows;
}

export interface AttemptRow {
  delivery_id: string;
  webhook_id: string;
  attempt: number;
  relay: string;
  started_at: Date;
  finished_at: Date;
  outcome: string;
  http_status: number | null;
  error: string | null;
  retry_after_seconds: number | null;
}

export async function attemptsOf(pool: pg.Pool, endpointId: string): Promise<AttemptRow[]> {
  const { rows } = await pool.query<AttemptRow>(
    `select a.delivery_id, d.webhook_id, a.attempt, a.relay, a.started_at, a.finished_at, a.outcome, a.http_status, a.error, a.retry_after_seconds
       from webhook_attempts a join webhook_deliveries d on d.id = a.delivery_id
      where d.endpoint_id = $1 order by a.delivery_id, a.attempt`,
    [endpointId],
  );
  return rows;
}

/** Polls `condition` until it holds; fails with `describe()` after `timeoutMs`. */
export async function eventually(condition: () => Promise<boolean> | boolean, timeoutMs: number, describe: () => Promise<string> | string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms ${await describe()}`);
    await sleep(25);
  }
}

/** The sequence of a webhook-id (`evt_<hex>_<sequence>`) and its payment's UETR hex. */
export function parseWebhookId(id: string): { uetrHex: string; sequence: number } {
  const match = /^evt_([0-9a-f]{32})_(\d+)$/.exec(id);
  if (match === null) throw new Error(`not a webhook-id: ${id}`);
  return { uetrHex: match[1]!, sequence: Number(match[2]) };
}

// ---- `isogw relay` as a child process ----

const READY_TIMEOUT_MS = 20_000;
const EXIT_TIMEOUT_MS = 10_000;
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

export interface RelayProcess {
  readonly pid: number;
  /** stdout and stderr so far. */
  output(): string;
  /** SIGKILL; resolves once it has exited. */
  kill(): Promise<void>;
  /** SIGTERM (graceful stop); resolves with the exit code. */
  terminate(): Promise<number | null>;
}

/** `node src/cli/main.ts relay ARGS` with exactly `env` (plus PATH and HOME); resolves once it says it is running. */
export async function startRelayProcess(env: Record<string, string>, args: readonly string[]): Promise<RelayProcess> {
  const child = spawn(process.execPath, ['src/cli/main.ts', 'relay', ...args], {
    cwd: REPOSITORY_ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let log = '';
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`isogw relay not ready within ${READY_TIMEOUT_MS} ms:\n${log}`));
    }, READY_TIMEOUT_MS);
    child.stdout!.on('data', (chunk: Buffer) => {
      log += chunk.toString('utf8');
      if (/^isogw relay \S+ running$/m.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString('utf8');
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`isogw relay exited (code ${code}, signal ${signal}) before it was ready:\n${log}`));
    });
  });
  const waitExit = async (): Promise<number | null> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        exited,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`isogw relay (pid ${child.pid}) did not exit:\n${log}`)), EXIT_TIMEOUT_MS);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    pid: child.pid!,
    output: () => log,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await waitExit();
    },
    terminate: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return waitExit();
    },
  };
}
