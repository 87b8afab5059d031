/**
 * Appending payment status events and their outbox rows: one statement, inside the caller's transaction, so a
 * status change and the webhook that announces it are written together or not at all. The same statement can carry
 * the caller's own writes (statusEventsChain), so a booking finishes in one round trip.
 */
import type { PoolClient } from 'pg';

export type PaymentStatus = 'RCVD' | 'ACSP' | 'ACSC' | 'RJCT';

/** The webhook event type announcing each status (issue 5 relays these). */
export const EVENT_TYPE_OF_STATUS: Readonly<Record<PaymentStatus, string>> = {
  RCVD: 'payment.received',
  ACSP: 'payment.accepted_in_process',
  ACSC: 'payment.settled',
  RJCT: 'payment.rejected',
};

export interface StatusEvent {
  readonly paymentId: bigint;
  readonly sequence: number;
  readonly status: PaymentStatus;
  /** ISO ExternalStatusReason1Code. */
  readonly reason?: string | undefined;
  readonly reasonInfo?: string | undefined;
  /** The ledger entry this change posted. */
  readonly entryId?: bigint | undefined;
  /** The pacs.002 reporting this change, when it is not the message's own answer. */
  readonly reportXml?: string | undefined;
}

export async function appendStatusEvents(client: PoolClient, events: readonly StatusEvent[]): Promise<void> {
  if (events.length === 0) return;
  const chain = statusEventsChain(events, 1);
  await client.query(`with ${chain.sql} select count(*) from status_outbox`, chain.values);
}

/**
 * The events and their outbox rows as a chain of data-modifying CTEs (`status_input`, `status_event`,
 * `status_outbox`), for a caller that writes other rows in the same statement (the booking: one round trip for
 * statuses, events, outbox and the stored answer). Its parameters are numbered from `firstParameter`; `values` go
 * there. Callers skip it when `events` is empty: an outbox insert of no rows would still wake the relays.
 */
export function statusEventsChain(events: readonly StatusEvent[], firstParameter: number): { sql: string; values: unknown[] } {
  const $ = (n: number): string => `$${firstParameter + n - 1}`;
  // The outbox payload is built from the rows just written (and the payment's identifiers, which never change), so
  // what the webhook says is exactly what the database recorded.
  const sql = `status_input as (
       select * from unnest(${$(1)}::bigint[], ${$(2)}::integer[], ${$(3)}::text[], ${$(4)}::text[], ${$(5)}::text[], ${$(6)}::bigint[], ${$(7)}::text[], ${$(8)}::text[])
         as i(payment_id, sequence, status, reason, reason_info, entry_id, report_xml, event_type)
     ), status_event as (
       insert into payment_events (payment_id, sequence, status, reason, reason_info, entry_id, report_xml)
       select payment_id, sequence, status, reason, reason_info, entry_id, report_xml from status_input
       returning id, payment_id, sequence, status, reason, reason_info, at
     ), status_outbox as (
       insert into outbox (event_id, payment_id, sequence, event_type, payload)
       select status_event.id, status_event.payment_id, status_event.sequence, status_input.event_type,
              jsonb_build_object(
                'type', status_input.event_type,
                'uetr', p.uetr,
                'msgId', m.msg_id,
                'messageType', m.message_type,
                'instructionId', p.instruction_id,
                'endToEndId', p.end_to_end_id,
                'txId', p.tx_id,
                'instructingAgent', p.instructing_agent,
                'creditorAgent', p.creditor_agent,
                'amount', jsonb_build_object('currency', p.currency, 'minor', p.amount::text),
                'status', status_event.status,
                'reason', status_event.reason,
                'reasonInfo', status_event.reason_info,
                'sequence', status_event.sequence,
                'occurredAt', status_event.at)
         from status_event
         join status_input using (payment_id, sequence)
         join payments p on p.id = status_event.payment_id
         join messages m on m.id = p.message_id
        order by status_event.payment_id, status_event.sequence
       returning id
     )`;
  const values = [
    events.map((e) => e.paymentId.toString()),
    events.map((e) => e.sequence),
    events.map((e) => e.status),
    events.map((e) => e.reason ?? null),
    events.map((e) => e.reasonInfo ?? null),
    events.map((e) => e.entryId?.toString() ?? null),
    events.map((e) => e.reportXml ?? null),
    events.map((e) => EVENT_TYPE_OF_STATUS[e.status]),
  ];
  return { sql, values };
}
