-- Status webhooks: partners' endpoints and their signing keys, one delivery per (outbox event, endpoint), and an
-- append-only log of every attempt. The outbox stays the record of what happened; deliveries are the record of
-- who was told, when, and what they answered.
--
-- Flow: the relay "dispatches" outbox rows in id order (creates a delivery for every endpoint of the payment's
-- sender subscribed to the event type, then stamps outbox.dispatched_at, one transaction), then claims due
-- deliveries with FOR UPDATE SKIP LOCKED under a lease, sends them, and records each attempt. A delivery for a
-- disabled endpoint stays pending until the endpoint is enabled again: disabling never loses an event.

-- Outbox rows are dispatched once; nothing else about them ever changes.
alter table outbox add column dispatched_at timestamptz;
create index outbox_undispatched on outbox (id) where dispatched_at is null;

create function outbox_dispatch_once() returns trigger language plpgsql as $$
begin
  if old.dispatched_at is not null or new.dispatched_at is null
     or (new.id, new.event_id, new.payment_id, new.sequence, new.event_type, new.payload, new.created_at)
        is distinct from (old.id, old.event_id, old.payment_id, old.sequence, old.event_type, old.payload, old.created_at) then
    raise exception 'outbox %: only dispatched_at may be set, once', old.id using errcode = 'insufficient_privilege';
  end if;
  return new;
end $$;

create trigger outbox_dispatch_once before update on outbox
  for each row execute function outbox_dispatch_once();
create trigger outbox_no_delete before delete on outbox
  for each row execute function ledger_refuse_change();
create trigger outbox_no_truncate before truncate on outbox
  for each statement execute function ledger_refuse_change();

-- Wakes relays (LISTEN isogw_webhooks) when there is something to do; they also poll, so a lost notification only
-- costs latency. One notification per statement, not per row; identical payloads in a transaction fold into one.
create function webhooks_notify() returns trigger language plpgsql as $$
begin
  perform pg_notify('isogw_webhooks', tg_table_name);
  return null;
end $$;

create trigger outbox_notify after insert on outbox
  for each statement execute function webhooks_notify();

create table webhook_endpoints (
  id               uuid primary key default gen_random_uuid(),
  -- the OAuth client (partner) that registered it and receives its payments' events
  client_id        text not null,
  url              text not null check (length(url) <= 2048),
  -- the event types it receives (at least one; the API fills in all of them when none are given)
  event_types      text[] not null check (cardinality(event_types) >= 1),
  description      text check (length(description) <= 256),
  enabled          boolean not null default true,
  -- why it is disabled: 'gone' (it answered 410), 'partner', 'operator'
  disabled_reason  text check (disabled_reason in ('gone', 'partner', 'operator')),
  disabled_at      timestamptz,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  check (enabled = (disabled_reason is null) and enabled = (disabled_at is null))
);
create index webhook_endpoints_client on webhook_endpoints (client_id, created_at);

-- An endpoint enabled again has deliveries waiting: wake the relays.
create function webhooks_notify_if_enabled() returns trigger language plpgsql as $$
begin
  if exists (select from changed where enabled) then
    perform pg_notify('isogw_webhooks', tg_table_name);
  end if;
  return null;
end $$;

create trigger webhook_endpoints_notify after update on webhook_endpoints
  referencing new table as changed for each statement execute function webhooks_notify_if_enabled();

-- Signing keys. `v1`: an HMAC-SHA256 secret (Standard Webhooks `whsec_`), `v1a`: an Ed25519 private key (PKCS#8
-- DER) with its public key (raw 32 bytes, given to the partner as `whpk_`). Rotation adds a new pair and gives the
-- old ones an expiry: until then every delivery is signed by old and new, so receivers can switch at leisure.
create table webhook_signing_keys (
  id           bigint generated always as identity primary key,
  endpoint_id  uuid not null references webhook_endpoints (id),
  scheme       text not null check (scheme in ('v1', 'v1a')),
  secret       bytea not null,
  public_key   bytea,
  created_at   timestamptz not null default now(),
  -- null while current; after a rotation, the end of the overlap
  expires_at   timestamptz,
  check ((scheme = 'v1a') = (public_key is not null))
);
create index webhook_signing_keys_endpoint on webhook_signing_keys (endpoint_id, created_at);

create table webhook_deliveries (
  id               bigint generated always as identity primary key,
  outbox_id        bigint not null references outbox (id),
  endpoint_id      uuid not null references webhook_endpoints (id),
  payment_id       bigint not null references payments (id),
  sequence         integer not null,
  event_type       text not null,
  -- Standard Webhooks `webhook-id`: the same on every attempt and redelivery, so receivers can deduplicate
  webhook_id       text not null,
  -- the exact bytes sent on every attempt (JSON, with the pacs.002), frozen when the delivery was created
  body             text not null,
  state            text not null default 'pending' check (state in ('pending', 'in_flight', 'delivered', 'dead')),
  -- attempts started so far; the fencing token of the current claim
  attempts         integer not null default 0 check (attempts >= 0),
  -- the value of `attempts` when the current retry schedule began: 0, or where a redelivery restarted it (attempts
  -- keep their numbers; the schedule's step is attempts - schedule_start)
  schedule_start   integer not null default 0 check (schedule_start >= 0 and schedule_start <= attempts),
  next_attempt_at  timestamptz not null default now(),
  lease_owner      text,
  lease_until      timestamptz,
  last_status      integer,
  last_error       text,
  delivered_at     timestamptz,
  dead_at          timestamptz,
  created_at       timestamptz not null default now(),
  unique (outbox_id, endpoint_id),
  check ((state = 'in_flight') = (lease_until is not null))
);
-- what is due (pending by time, in flight by lease) and what blocks a payment's later events for one endpoint
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where state = 'pending';
create index webhook_deliveries_leased on webhook_deliveries (lease_until) where state = 'in_flight';
create index webhook_deliveries_order on webhook_deliveries (endpoint_id, payment_id, sequence) where state in ('pending', 'in_flight');
create index webhook_deliveries_payment on webhook_deliveries (payment_id, sequence);
create index webhook_deliveries_endpoint on webhook_deliveries (endpoint_id, state, id);

-- Deliveries wake relays only when a statement made one due now (dispatch, redelivery): claims and recorded
-- outcomes do not, or relays would keep waking one another for nothing. An UPDATE statement trigger fires even when
-- no row changed, hence the transition tables.
create function webhooks_notify_if_due() returns trigger language plpgsql as $$
begin
  if exists (select from changed where state = 'pending' and next_attempt_at <= now()) then
    perform pg_notify('isogw_webhooks', tg_table_name);
  end if;
  return null;
end $$;

create trigger webhook_deliveries_notify_insert after insert on webhook_deliveries
  referencing new table as changed for each statement execute function webhooks_notify_if_due();
create trigger webhook_deliveries_notify_update after update on webhook_deliveries
  referencing new table as changed for each statement execute function webhooks_notify_if_due();

-- One row per attempt, written when it ends (an attempt cut short by a crash leaves none: its claim's lease
-- expires and the next claim counts a new attempt). Unique (delivery, attempt): two relays can never both record
-- the same attempt, whatever their clocks say.
create table webhook_attempts (
  id              bigint generated always as identity primary key,
  delivery_id     bigint not null references webhook_deliveries (id),
  attempt         integer not null check (attempt >= 1),
  relay           text not null,
  started_at      timestamptz not null,
  finished_at     timestamptz not null,
  -- delivered: 2xx · retry: will be tried again · gone: 410, endpoint disabled · dead: retries exhausted
  outcome         text not null check (outcome in ('delivered', 'retry', 'gone', 'dead')),
  http_status     integer,
  error           text,
  -- the Retry-After the endpoint asked for, in seconds, when it sent one we honoured
  retry_after_seconds integer,
  unique (delivery_id, attempt)
);

create trigger webhook_attempts_immutable before update or delete on webhook_attempts
  for each row execute function ledger_refuse_change();
create trigger webhook_attempts_no_truncate before truncate on webhook_attempts
  for each statement execute function ledger_refuse_change();

grant update (dispatched_at) on outbox to isogw_app;
grant select, insert on webhook_endpoints, webhook_signing_keys, webhook_deliveries, webhook_attempts to isogw_app;
grant update (url, event_types, description, enabled, disabled_reason, disabled_at, updated_at) on webhook_endpoints to isogw_app;
grant update (expires_at) on webhook_signing_keys to isogw_app;
grant update (state, attempts, schedule_start, next_attempt_at, lease_owner, lease_until, last_status, last_error, delivered_at, dead_at)
  on webhook_deliveries to isogw_app;
