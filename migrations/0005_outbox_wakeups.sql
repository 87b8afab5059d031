-- Relays are no longer woken by a trigger on every outbox insert: a NOTIFY inside the booking transaction takes the
-- global notification lock at its commit and queues every booking's commit behind the others'. Committed bookings
-- and onward settlements now send one coalesced NOTIFY after their commits (src/payments/outbox-wakeup.ts); relays
-- still poll, so a lost wake-up costs latency, never an event.
drop trigger outbox_notify on outbox;
drop function webhooks_notify();
