/**
 * Appending payment status events and their outbox rows: one statement, inside the caller's transaction, so a
 * status change and the webhook that announces it are written together or not at all.
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
  // The outbox payload is built from the rows just written (and the payment's identifiers), so what the webhook
  // says is exactly what the database recorded.
  await client.query(
    `with input as (
       select * from unnest($1::bigint[], $2::integer[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[])
         as i(payment_id, sequence, status, reason, reason_info, entry_id, report_xml, event_type)
     ), event as (
       insert into payment_events (payment_id, sequence, status, reason, reason_info, entry_id, report_xml)
       select payment_id, sequence, status, reason, reason_info, entry_id, report_xml from input
       returning id, payment_id, sequence, status, reason, reason_info, at
     )
     insert into outbox (event_id, payment_id, sequence, event_type, payload)
     select event.id, event.payment_id, event.sequence, input.event_type,
            jsonb_build_object(
              'type', input.event_type,
              'uetr', p.uetr,
              'msgId', m.msg_id,
              'messageType', m.message_type,
              'instructionId', p.instruction_id,
              'endToEndId', p.end_to_end_id,
              'txId', p.tx_id,
              'instructingAgent', p.instructing_agent,
              'creditorAgent', p.creditor_agent,
              'amount', jsonb_build_object('currency', p.currency, 'minor', p.amount::text),
              'status', event.status,
              'reason', event.reason,
              'reasonInfo', event.reason_info,
              'sequence', event.sequence,
              'occurredAt', event.at)
       from event
       join input using (payment_id, sequence)
       join payments p on p.id = event.payment_id
       join messages m on m.id = p.message_id
      order by event.payment_id, event.sequence`,
    [
      events.map((e) => e.paymentId.toString()),
      events.map((e) => e.sequence),
      events.map((e) => e.status),
      events.map((e) => e.reason ?? null),
      events.map((e) => e.reasonInfo ?? null),
      events.map((e) => e.entryId?.toString() ?? null),
      events.map((e) => e.reportXml ?? null),
      events.map((e) => EVENT_TYPE_OF_STATUS[e.status]),
    ],
  );
}
