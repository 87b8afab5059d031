/**
 * Dispatch: turning outbox rows into deliveries. The outbox is the record of what happened (written in the status
 * change's own transaction); a delivery is the record of one endpoint being told. In ONE transaction, the oldest
 * undispatched rows are locked (SKIP LOCKED: relays in other gateway instances take the next rows instead of
 * waiting), each gets one delivery per endpoint of the payment's sender subscribed to its event type, and the rows
 * are stamped dispatched. Either a row has all its deliveries and its stamp, or neither.
 *
 * Endpoints are matched whether enabled or not: a disabled endpoint's deliveries wait as pending until it is
 * enabled again, so disabling never loses an event. A row nobody subscribed to is stamped and done.
 *
 * Two relays may dispatch two events of one payment in parallel, the later one committing first: the claim
 * (delivery-store.ts) refuses a delivery while an earlier event of its payment is undispatched, so order holds.
 */
import type { Pool } from 'pg';

import { deliveryPayload, type OutboxEvent } from './payload.ts';

export interface DispatchOptions {
  /** Outbox rows per transaction (WEBHOOK_LIMITS.dispatchBatchRows). */
  readonly batchRows: number;
  /** GrpHdr/InstgAgt of the RCVD reports built for payloads. */
  readonly gatewayBic?: string | undefined;
  /** Told when a payload goes out without its pacs.002, and why. */
  readonly warn?: ((message: string) => void) | undefined;
}

interface OutboxRow {
  outbox_id: string;
  payment_id: string;
  sequence: number;
  event_type: string;
  payload: Record<string, unknown>;
  status: string;
  report_xml: string | null;
  response_body: string | null;
  client_id: string;
  uetr: string;
  uetr_assigned: boolean;
  instruction_id: string | null;
  end_to_end_id: string;
  tx_id: string | null;
  instructing_agent: string;
  msg_id: string;
  message_type: string;
  currency: string;
  amount: string;
}

/** Dispatches up to `batchRows` outbox rows; returns how many were dispatched (0: the outbox is drained, or busy). */
export async function dispatchOutbox(pool: Pool, options: DispatchOptions): Promise<number> {
  if (!Number.isSafeInteger(options.batchRows) || options.batchRows < 1) throw new TypeError(`dispatchOutbox: batchRows must be a positive integer, got ${options.batchRows}`);
  const client = await pool.connect();
  // A checked-out client has no error listener of the pool's: a connection cut between two statements (a database
  // restart) would be an uncaught 'error' event, ending the process. The next statement reports it instead.
  client.on('error', ignoreConnectionError);
  let broken: Error | undefined;
  try {
    await client.query('begin');
    // `of o`: only the outbox rows are claimed; the payment, event and message are read as committed.
    const { rows } = await client.query<OutboxRow>(
      `select o.id as outbox_id, o.payment_id, o.sequence, o.event_type, o.payload, e.status, e.report_xml,
              m.response_body, m.client_id, p.uetr, p.uetr_assigned, p.instruction_id, p.end_to_end_id, p.tx_id,
              p.instructing_agent, m.msg_id, m.message_type, p.currency, p.amount
         from outbox o
         join payment_events e on e.id = o.event_id
         join payments p on p.id = o.payment_id
         join messages m on m.id = p.message_id
        where o.dispatched_at is null
        order by o.id
        limit $1
          for update of o skip locked`,
      [options.batchRows],
    );
    if (rows.length === 0) {
      await client.query('commit');
      return 0;
    }
    const clients = [...new Set(rows.map((row) => row.client_id))];
    const endpoints = await client.query<{ id: string; client_id: string; event_types: string[] }>(
      'select id, client_id, event_types from webhook_endpoints where client_id = any($1::text[])',
      [clients],
    );
    const deliveries: { outboxId: string; endpointId: string; paymentId: string; sequence: number; eventType: string; webhookId: string; body: string }[] = [];
    for (const row of rows) {
      const subscribers = endpoints.rows.filter((endpoint) => endpoint.client_id === row.client_id && endpoint.event_types.includes(row.event_type));
      if (subscribers.length === 0) continue;
      // One body per event, shared by its endpoints: what one partner system is told, its other endpoints are too.
      const payload = deliveryPayload(toEvent(row), { gatewayBic: options.gatewayBic });
      if (payload.problem !== undefined) options.warn?.(payload.problem);
      for (const endpoint of subscribers) {
        deliveries.push({ outboxId: row.outbox_id, endpointId: endpoint.id, paymentId: row.payment_id, sequence: row.sequence, eventType: row.event_type, webhookId: payload.webhookId, body: payload.body });
      }
    }
    // Statements only when there is something to write: every statement on webhook_deliveries notifies the relays,
    // even one that changes no row.
    if (deliveries.length > 0) {
      await client.query(
        `insert into webhook_deliveries (outbox_id, endpoint_id, payment_id, sequence, event_type, webhook_id, body)
         select * from unnest($1::bigint[], $2::uuid[], $3::bigint[], $4::integer[], $5::text[], $6::text[], $7::text[])
         on conflict (outbox_id, endpoint_id) do nothing`,
        [
          deliveries.map((d) => d.outboxId),
          deliveries.map((d) => d.endpointId),
          deliveries.map((d) => d.paymentId),
          deliveries.map((d) => d.sequence),
          deliveries.map((d) => d.eventType),
          deliveries.map((d) => d.webhookId),
          deliveries.map((d) => d.body),
        ],
      );
    }
    await client.query('update outbox set dispatched_at = now() where id = any($1::bigint[])', [rows.map((row) => row.outbox_id)]);
    await client.query('commit');
    return rows.length;
  } catch (error) {
    await client.query('rollback').catch((rollbackError: Error) => (broken = rollbackError));
    throw error;
  } finally {
    client.off('error', ignoreConnectionError);
    // A connection that cannot even roll back is discarded, not handed to the next caller.
    client.release(broken);
  }
}

function toEvent(row: OutboxRow): OutboxEvent {
  return {
    ...row,
    outboxId: row.outbox_id,
    paymentId: row.payment_id,
    sequence: row.sequence,
    eventType: row.event_type,
    payload: row.payload,
    status: row.status,
    reportXml: row.report_xml,
    messageAnswer: row.response_body,
    clientId: row.client_id,
  };
}

function ignoreConnectionError(): void {}
