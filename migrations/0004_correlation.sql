-- The correlation id (the x-fapi-interaction-id of the request that brought the message in) kept with the message:
-- log lines written long after the request — the webhook relay's attempts, hours later on another instance — name
-- it, so an operator can follow a payment from the partner's request to the partner's webhook endpoint. Null for
-- messages booked before this column existed, or by callers that had no request (tools, tests).
alter table messages add column correlation_id text check (length(correlation_id) <= 64);

-- Written with the row, never changed afterwards: the answer-once guard now covers it too.
create or replace function messages_answer_once() returns trigger language plpgsql as $$
begin
  if old.response_body is not null or new.response_body is null
     or (new.id, new.client_id, new.idempotency_key, new.fingerprint, new.instructing_agent, new.msg_id, new.message_type,
         new.transactions, new.received_at, new.correlation_id)
        is distinct from
        (old.id, old.client_id, old.idempotency_key, old.fingerprint, old.instructing_agent, old.msg_id, old.message_type,
         old.transactions, old.received_at, old.correlation_id) then
    raise exception 'message %: only its answer may be written, once', old.id using errcode = 'insufficient_privilege';
  end if;
  return new;
end $$;
