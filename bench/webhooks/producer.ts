/**
 * Producing webhook events honestly: real bookings. Each event the relay delivers comes from a pacs.008 booked by
 * the production `bookMessage` — one transaction writing the payment, its posting, its status events (RCVD, then
 * ACSP: the alpha1 template's creditor agent is not a participant, so the payment is held for the onward leg) and
 * one outbox row per event. The moment `bookMessage` resolves is the commit the latency is measured from.
 *
 * Messages are checked (checkPacs008, what the intake does before booking) ahead of each phase, outside the timed
 * part: checking is the intake's CPU, not the outbox's, and doing it inline would make the producer compete with the
 * receiver on the same event loop. The booking's own answer (the pacs.002 stored on the message row) is built inside
 * the transaction as the intake builds it.
 */
import { randomUUID } from 'node:crypto';

import type pg from 'pg';

import { type CheckedMessage, checkPacs008, type SchemaSet, statusReason, statusReportFor } from '../../src/iso20022/index.ts';
import { buildPacs002, pacs002VersionFor } from '../../src/iso20022/pacs002/index.ts';
import { bookMessage } from '../../src/payments/book-message.ts';
import { freshPacs008 } from '../../test/support/messages.ts';

/** Each alpha1 booking writes this many outbox events: RCVD (sequence 1) and ACSP (sequence 2). */
export const EVENTS_PER_BOOKING = 2;

export interface PreparedMessage {
  readonly checked: CheckedMessage;
  readonly now: Date;
}

export interface Booking {
  /** The payment's UETR without dashes, lower case: the middle of its webhook-ids (`evt_<hex>_<sequence>`). */
  readonly uetrHex: string;
  /** performance.now() when the booking was due (fixed-rate phases) or started (saturation pre-booking). */
  readonly scheduledAt: number;
  /** performance.now() when bookMessage resolved: the commit. */
  readonly committedAt: number;
}

/** `count` fresh alpha1 messages, each checked and accepted. */
export function prepareMessages(count: number, schemas: SchemaSet): PreparedMessage[] {
  const prepared: PreparedMessage[] = [];
  for (let i = 0; i < count; i++) {
    const now = new Date();
    const { xml } = freshPacs008('alpha1', now);
    const checked = checkPacs008(Buffer.from(xml), { schemas, now });
    if (checked.kind !== 'checked' || !checked.accepted) throw new Error('bench:webhooks: the alpha1 template was not accepted; the fixtures and the rules disagree');
    prepared.push({ checked, now });
  }
  return prepared;
}

/** Books one message as the intake would; resolves with the booking's UETR. */
export async function bookOne(pool: pg.Pool, clientId: string, message: PreparedMessage): Promise<string> {
  const { checked, now } = message;
  const outcome = await bookMessage(pool, {
    clientId,
    idempotencyKey: randomUUID(),
    fingerprint: randomUUID(),
    checked,
    answer: (bookings) => {
      const report = statusReportFor(checked, {
        messageId: `B-${randomUUID().replaceAll('-', '').slice(0, 30)}`,
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
  if (outcome.kind !== 'booked') throw new Error(`bench:webhooks: booking answered ${outcome.kind}`);
  const booking = [...outcome.bookings.values()][0];
  if (booking === undefined || booking.kind !== 'held') throw new Error(`bench:webhooks: expected one payment held for the onward leg, got ${booking?.kind ?? 'none'}`);
  return booking.uetr.toLowerCase().replaceAll('-', '');
}

/** Books every message, `concurrency` at a time, as fast as the database takes them (the saturation phases' backlog). */
export async function bookAll(
  pool: pg.Pool,
  clientId: string,
  messages: readonly PreparedMessage[],
  concurrency: number,
  onProgress?: (done: number) => void,
): Promise<Booking[]> {
  const bookings: Booking[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < messages.length) {
      const message = messages[next++]!;
      const scheduledAt = performance.now();
      const uetrHex = await bookOne(pool, clientId, message);
      bookings.push({ uetrHex, scheduledAt, committedAt: performance.now() });
      onProgress?.(bookings.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, messages.length) }, worker));
  return bookings;
}

export interface RateResult {
  readonly bookings: Booking[];
  /** Bookings started after their due time because `maxInFlight` were still running (the database fell behind). */
  readonly lateStarts: number;
  /** performance.now() of the first due time and of the last commit. */
  readonly startedAt: number;
  readonly finishedAt: number;
}

/**
 * Books message i at start + i / rate (open loop: the schedule does not wait for the database), with at most
 * `maxInFlight` bookings running; a booking that could not start on time starts as soon as one finishes.
 */
export async function bookAtRate(
  pool: pg.Pool,
  clientId: string,
  messages: readonly PreparedMessage[],
  ratePerSecond: number,
  maxInFlight: number,
  onProgress?: (done: number) => void,
): Promise<RateResult> {
  const intervalMs = 1000 / ratePerSecond;
  const bookings: Booking[] = [];
  const startedAt = performance.now();
  let lateStarts = 0;
  let inFlight = 0;
  let next = 0;
  let failure: unknown;
  let wake: (() => void) | undefined;

  const launch = (index: number, dueAt: number): void => {
    inFlight += 1;
    bookOne(pool, clientId, messages[index]!)
      .then(
        (uetrHex) => {
          bookings.push({ uetrHex, scheduledAt: dueAt, committedAt: performance.now() });
          onProgress?.(bookings.length);
        },
        (error: unknown) => {
          failure ??= error;
        },
      )
      .finally(() => {
        inFlight -= 1;
        wake?.();
      });
  };

  while (next < messages.length && failure === undefined) {
    const now = performance.now();
    const dueAt = startedAt + next * intervalMs;
    if (dueAt <= now) {
      if (inFlight >= maxInFlight) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      // More than one interval behind schedule when it could start: the database was the bottleneck.
      if (now - dueAt > intervalMs) lateStarts += 1;
      launch(next, dueAt);
      next += 1;
      continue;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, dueAt - now);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    wake = undefined;
  }
  while (inFlight > 0) {
    await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
  }
  if (failure !== undefined) throw failure;
  return { bookings, lateStarts, startedAt, finishedAt: performance.now() };
}
