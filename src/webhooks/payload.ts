/**
 * What a webhook says: the body of a delivery, built once when the outbox row is dispatched and frozen in
 * webhook_deliveries.body, so every attempt (and every redelivery) sends the identical bytes the signature covers.
 *
 * Standard Webhooks shape — `{"type", "timestamp", "data"}` — where `data` is the outbox payload exactly as the
 * status change recorded it (status-events.ts), plus `pacs002`: the ISO 20022 report of that change, so a partner's
 * back office can process the webhook with the same code as our synchronous answers.
 *
 * Which pacs.002:
 *   - the event's own report (payment_events.report_xml) when it has one: the onward leg's settle / release;
 *   - otherwise, for the decisive status booked with the message (ACSP / ACSC / RJCT, sequence 2), the message's
 *     answer (messages.response_body) — the very bytes the partner got back from its POST;
 *   - for RCVD (booked, nothing decided yet) no report was ever written, so one is built here: one transaction, status
 *     RCVD, with a MsgId and CreDtTm derived from the event (not from the clock or a random id), so dispatching the
 *     same event twice, or to two endpoints, gives the same bytes. pacs.002.001.02–07 (answering pacs.008.001.01–06)
 *     have no transaction status RCVD: there `pacs002` is null, and so it is if the report cannot be written at all
 *     (the reason goes to the relay's log, never silently: see `problem`).
 *
 * Pure: no I/O, no clock.
 */
import { pacs002Layout, pacs002VersionFor } from '../iso20022/pacs002/index.ts';
import { paymentStatusReportXml, type ReportedPayment } from '../payments/payment-status-report.ts';

/** An outbox row with what its delivery body needs from its event, payment and message. */
export interface OutboxEvent extends ReportedPayment {
  readonly outboxId: string;
  readonly paymentId: string;
  readonly sequence: number;
  readonly eventType: string;
  /** outbox.payload (jsonb), as recorded with the status change. */
  readonly payload: Record<string, unknown>;
  /** payment_events.status */
  readonly status: string;
  /** payment_events.report_xml */
  readonly reportXml: string | null;
  /** messages.response_body: the pacs.002 answering the message. */
  readonly messageAnswer: string | null;
  /** messages.client_id: the partner whose endpoints receive the event. */
  readonly clientId: string;
}

export interface DeliveryPayload {
  /** Standard Webhooks `webhook-id`. */
  readonly webhookId: string;
  /** The exact JSON sent on every attempt. */
  readonly body: string;
  /** Why `data.pacs002` is null, when it is (for the relay's log). */
  readonly problem?: string;
}

export interface PayloadOptions {
  /** GrpHdr/InstgAgt of a report built here (ISOGW_BIC). */
  readonly gatewayBic?: string | undefined;
}

/** The order of `data`'s keys, as the partner's guide lists them; keys the payload gains later follow, unchanged. */
const DATA_KEYS = [
  'uetr', 'msgId', 'messageType', 'instructionId', 'endToEndId', 'txId', 'instructingAgent', 'creditorAgent',
  'amount', 'status', 'reason', 'reasonInfo', 'sequence', 'occurredAt',
] as const;

/**
 * `evt_` + the UETR's hex digits + `_` + the event's sequence: one id per status change of a payment, the same on
 * every retry, redelivery and relay instance, so receivers can deduplicate on it.
 */
export function webhookIdFor(uetr: string, sequence: number): string {
  if (!Number.isSafeInteger(sequence) || sequence < 1) throw new TypeError(`webhookIdFor: sequence must be a positive integer, got ${sequence}`);
  return `evt_${uetr.toLowerCase().replaceAll('-', '')}_${sequence}`;
}

/** The delivery body of one outbox event. */
export function deliveryPayload(event: OutboxEvent, options: PayloadOptions = {}): DeliveryPayload {
  const occurredAt = event.payload['occurredAt'];
  if (typeof occurredAt !== 'string' || Number.isNaN(Date.parse(occurredAt))) {
    throw new TypeError(`outbox ${event.outboxId}: payload.occurredAt is not a timestamp (${JSON.stringify(occurredAt)})`);
  }
  const report = pacs002Of(event, new Date(occurredAt), options);
  const data: Record<string, unknown> = {};
  for (const key of DATA_KEYS) if (key in event.payload) data[key] = event.payload[key];
  for (const [key, value] of Object.entries(event.payload)) {
    // `type` is the envelope's, not the data's
    if (key !== 'type' && !(key in data)) data[key] = value;
  }
  data['pacs002'] = report.xml;
  const body = JSON.stringify({ type: event.eventType, timestamp: new Date(occurredAt).toISOString(), data });
  return {
    webhookId: webhookIdFor(event.uetr, event.sequence),
    body,
    ...(report.problem === undefined ? {} : { problem: report.problem }),
  };
}

function pacs002Of(event: OutboxEvent, occurredAt: Date, options: PayloadOptions): { xml: string | null; problem?: string } {
  if (event.reportXml !== null) return { xml: event.reportXml };
  if (event.status !== 'RCVD') {
    // The decisive status booked with the message: its answer reports it (written in the same transaction).
    return event.messageAnswer === null ? { xml: null, problem: `outbox ${event.outboxId}: the message has no stored answer` } : { xml: event.messageAnswer };
  }
  try {
    const version = pacs002VersionFor(Number(event.message_type.slice(-2)));
    const statuses = pacs002Layout(version).transactionStatuses;
    if (statuses !== null && !statuses.has('RCVD')) return { xml: null };
    const xml = paymentStatusReportXml(
      event,
      { now: occurredAt, newReportId: () => receivedReportId(event.uetr), gatewayBic: options.gatewayBic },
      { status: 'RCVD', reason: undefined, info: undefined },
    );
    return { xml };
  } catch (error) {
    // A report that cannot be written (a malformed ISOGW_BIC, say) must not hold the event back: the status change is
    // still announced, without its report, and the relay logs why.
    return { xml: null, problem: `outbox ${event.outboxId}: cannot build the RCVD pacs.002: ${(error as Error).message}` };
  }
}

/**
 * GrpHdr/MsgId of the RCVD report (Max35Text): derived from the UETR, since a payment has exactly one RCVD event;
 * 24 hex digits keep it within 35 characters and still 90+ random bits of a v4 UUID.
 */
function receivedReportId(uetr: string): string {
  return `ISOGW-RCVD-${uetr.toLowerCase().replaceAll('-', '').slice(0, 24)}`;
}
