/**
 * The event types a webhook endpoint can subscribe to. They are the payment statuses' event names (the outbox
 * writes them, src/payments/status-events.ts), so a subscription can never name an event that is never emitted,
 * and a new status is subscribable the moment it exists.
 */
import { EVENT_TYPE_OF_STATUS } from '../payments/status-events.ts';

/** In status order (received → accepted in process → settled → rejected): the record's own key order. */
export const WEBHOOK_EVENT_TYPES: readonly string[] = Object.freeze(Object.values(EVENT_TYPE_OF_STATUS));

const KNOWN: ReadonlySet<string> = new Set(WEBHOOK_EVENT_TYPES);

export function isWebhookEventType(value: string): boolean {
  return KNOWN.has(value);
}
