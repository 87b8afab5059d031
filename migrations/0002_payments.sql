-- Payments: the messages we accepted, one payment per transaction, its status history, and the outbox.
--
-- Uniqueness here is the final word on duplicates (Redis is only a fast path in front of it):
--   * a partner's Idempotency-Key is used once, for ever: (client_id, idempotency_key);
--   * a message is accepted once: (instructing agent, MsgId);
--   * a payment is accepted once: its UETR, and (instructing agent, TxId) where TxId is given.
-- A message, its payments, their first status events, the ledger entries and the outbox rows are written in one
-- transaction: either all of it exists or none of it.

create table messages (
  id                bigint generated always as identity primary key,
  -- the partner (OAuth client_id) that sent it, and the Idempotency-Key it sent it with
  client_id         text not null,
  idempotency_key   text not null check (length(idempotency_key) between 1 and 255),
  -- base64url SHA-256 of the exact request body: a retry must resend the same bytes
  fingerprint       text not null,
  instructing_agent text not null,
  msg_id            text not null,
  message_type      text not null check (message_type ~ '^pacs\.008\.001\.[0-9]{2}$'),
  transactions      integer not null check (transactions > 0),
  -- the answer we gave, replayed byte for byte to a retry with the same key (after Redis forgot it, too); written
  -- once, in the same transaction, after the payments were booked (the row comes first: it is what a concurrent
  -- duplicate waits on)
  response_status   smallint,
  response_body     text,
  received_at       timestamptz not null default now(),
  check ((response_status is null) = (response_body is null)),
  unique (client_id, idempotency_key),
  unique (instructing_agent, msg_id)
);

create table payments (
  id                 bigint generated always as identity primary key,
  message_id         bigint not null references messages (id),
  -- 1-based CdtTrfTxInf position in the message
  tx_index           integer not null check (tx_index > 0),
  -- the message's UETR, or one the gateway assigned (versions before UETR existed)
  uetr               uuid not null unique,
  uetr_assigned      boolean not null,
  instructing_agent  text not null,
  instruction_id     text,
  end_to_end_id      text not null,
  tx_id              text,
  debtor_agent       text,
  creditor_agent     text,
  amount             bigint not null check (amount > 0),
  currency           char(3) not null check (currency ~ '^[A-Z]{3}$'),
  -- on_us: both agents are participants, settled at once; onward: held in suspense until the onward leg settles
  route              text check (route in ('on_us', 'onward')),
  debit_account_id   bigint references accounts (id),
  credit_account_id  bigint references accounts (id),
  status             text not null check (status in ('RCVD', 'ACSP', 'ACSC', 'RJCT')),
  status_reason      text,
  -- sequence number of the latest status event
  sequence           integer not null check (sequence > 0),
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now(),
  unique (message_id, tx_index)
);
create unique index payments_instructing_agent_tx_id on payments (instructing_agent, tx_id) where tx_id is not null;
create index payments_message on payments (message_id);
-- operators and reconciliation look for payments still held in suspense
create index payments_in_process on payments (status) where status = 'ACSP';

-- Immutable status events: the history of every payment. payments.status is their projection.
create table payment_events (
  id          bigint generated always as identity primary key,
  payment_id  bigint not null references payments (id),
  sequence    integer not null check (sequence > 0),
  status      text not null check (status in ('RCVD', 'ACSP', 'ACSC', 'RJCT')),
  -- ISO ExternalStatusReason1Code, with its explanation
  reason      text,
  reason_info text,
  -- the ledger entry this change posted, if it moved money
  entry_id    bigint references journal_entries (id),
  -- the pacs.002 reporting this change, when it was not the message's own answer (settle/release later)
  report_xml  text,
  at          timestamptz not null default now(),
  unique (payment_id, sequence)
);

-- The transactional outbox: one row per status event, written in the event's transaction, relayed as webhooks.
create table outbox (
  id          bigint generated always as identity primary key,
  event_id    bigint not null unique references payment_events (id),
  payment_id  bigint not null references payments (id),
  sequence    integer not null,
  event_type  text not null,
  payload     jsonb not null,
  created_at  timestamptz not null default now()
);
create index outbox_payment on outbox (payment_id, sequence);

-- A payment's status only moves forward along RCVD → ACSP → ACSC | RJCT (or RCVD → ACSC | RJCT), one event at a
-- time; the row always says what its latest event says.
create function payments_check_transition() returns trigger language plpgsql as $$
begin
  if new.id <> old.id or new.message_id <> old.message_id or new.uetr <> old.uetr or new.amount <> old.amount
     or new.currency <> old.currency or new.debit_account_id is distinct from old.debit_account_id then
    raise exception 'payment %: only its status may change', old.id using errcode = 'insufficient_privilege';
  end if;
  if new.sequence <> old.sequence + 1 then
    raise exception 'payment %: status sequence must advance by one (% → %)', old.id, old.sequence, new.sequence
      using errcode = 'check_violation';
  end if;
  if not ((old.status = 'RCVD' and new.status in ('ACSP', 'ACSC', 'RJCT'))
       or (old.status = 'ACSP' and new.status in ('ACSC', 'RJCT'))) then
    raise exception 'payment %: % → % is not a status transition', old.id, old.status, new.status
      using errcode = 'check_violation';
  end if;
  return new;
end $$;

create trigger payments_transition before update on payments
  for each row execute function payments_check_transition();

create trigger payment_events_immutable before update or delete on payment_events
  for each row execute function ledger_refuse_change();
create trigger payment_events_no_truncate before truncate on payment_events
  for each statement execute function ledger_refuse_change();
-- A message row is written once; its answer is filled in once, in the same transaction.
create function messages_answer_once() returns trigger language plpgsql as $$
begin
  if old.response_body is not null or new.response_body is null
     or (new.id, new.client_id, new.idempotency_key, new.fingerprint, new.instructing_agent, new.msg_id, new.message_type,
         new.transactions, new.received_at)
        is distinct from
        (old.id, old.client_id, old.idempotency_key, old.fingerprint, old.instructing_agent, old.msg_id, old.message_type,
         old.transactions, old.received_at) then
    raise exception 'message %: only its answer may be written, once', old.id using errcode = 'insufficient_privilege';
  end if;
  return new;
end $$;

create trigger messages_answer_once before update on messages
  for each row execute function messages_answer_once();
create trigger messages_no_delete before delete on messages
  for each row execute function ledger_refuse_change();
create trigger messages_no_truncate before truncate on messages
  for each statement execute function ledger_refuse_change();

grant select, insert on messages, payments, payment_events, outbox to isogw_app;
grant update (status, status_reason, sequence, updated_at) on payments to isogw_app;
grant update (response_status, response_body) on messages to isogw_app;
