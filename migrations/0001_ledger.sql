-- The double-entry ledger: participants, their accounts, journal entries and postings.
--
-- Conventions (see src/ledger/README in the code comments):
--   * amounts are bigint minor units of the account's ISO 4217 currency, always > 0; `direction` says D or C;
--   * an account's `balance` is credits minus debits, kept in the row and updated in the same transaction as the
--     postings, so a balance read is one row, whatever the history length;
--   * an entry's postings balance per currency (sum of debits = sum of credits), checked at commit by a deferred
--     constraint trigger: the database refuses an unbalanced entry even if the application has a bug;
--   * entries and postings are immutable: corrections are new entries.

create table participants (
  id          bigint generated always as identity primary key,
  bic         text not null unique check (bic ~ '^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$'),
  name        text not null check (length(name) between 1 and 140),
  created_at  timestamptz not null default now()
);

create table accounts (
  id                 bigint generated always as identity primary key,
  -- null for the gateway's own accounts (suspense, fees)
  participant_id     bigint references participants (id),
  -- settlement: a participant's funds with the gateway, one per currency;
  -- suspense: the gateway's in-flight account, holding payments accepted in process (two-phase, see 0002);
  -- clearing: the gateway's position towards the onward settlement system, where settled outbound payments go;
  -- funding: the source of dev/ops funding entries (overdraft allowed: it mirrors money brought in from outside);
  -- fees: the gateway's income
  kind               text not null check (kind in ('settlement', 'suspense', 'clearing', 'funding', 'fees')),
  currency           char(3) not null check (currency ~ '^[A-Z]{3}$'),
  balance            bigint not null default 0,
  overdraft_allowed  boolean not null default false,
  created_at         timestamptz not null default now(),
  unique (participant_id, kind, currency),
  -- lets postings reference (account, currency) so a posting can never be in another currency than its account
  unique (id, currency),
  check (overdraft_allowed or balance >= 0),
  check (participant_id is not null or kind <> 'settlement')
);
-- one gateway-owned account per kind and currency (the unique constraint above ignores null participant_id)
create unique index accounts_own_kind_currency on accounts (kind, currency) where participant_id is null;

create table journal_entries (
  id           bigint generated always as identity primary key,
  kind         text not null check (kind in ('transfer', 'hold', 'hold_post', 'hold_void', 'funding', 'correction')),
  -- the business reference: a payment (by its id in the payments table of a later migration) or a dev funding
  reference    text not null check (length(reference) between 1 and 140),
  created_at   timestamptz not null default now()
);

create table postings (
  id          bigint generated always as identity primary key,
  entry_id    bigint not null references journal_entries (id),
  account_id  bigint not null,
  currency    char(3) not null,
  direction   char(1) not null check (direction in ('D', 'C')),
  amount      bigint not null check (amount > 0),
  foreign key (account_id, currency) references accounts (id, currency)
);
create index postings_entry on postings (entry_id);
create index postings_account on postings (account_id);

-- Every entry: at least two postings, debits = credits per currency. Deferred to commit, so the postings of one
-- entry can be inserted one by one; a violation aborts the whole transaction (balances included).
create function ledger_assert_entry_balanced() returns trigger language plpgsql as $$
declare
  unbalanced record;
  postings_count integer;
begin
  select count(*) into postings_count from postings where entry_id = new.entry_id;
  if postings_count < 2 then
    raise exception 'journal entry % has % posting(s); an entry needs at least two', new.entry_id, postings_count
      using errcode = 'check_violation';
  end if;
  select currency,
         sum(case when direction = 'D' then amount else 0 end) as debits,
         sum(case when direction = 'C' then amount else 0 end) as credits
    into unbalanced
    from postings where entry_id = new.entry_id
    group by currency
    having sum(case when direction = 'D' then amount else -amount end) <> 0
    limit 1;
  if found then
    raise exception 'journal entry % is unbalanced in %: debits % <> credits %',
      new.entry_id, unbalanced.currency, unbalanced.debits, unbalanced.credits
      using errcode = 'check_violation';
  end if;
  return null;
end $$;

create constraint trigger postings_balanced
  after insert on postings
  deferrable initially deferred
  for each row execute function ledger_assert_entry_balanced();

-- Immutability: no UPDATE, DELETE or TRUNCATE of entries or postings, whoever asks (privileges below stop the
-- application role earlier; these triggers stop everyone else, owners and superusers included).
create function ledger_refuse_change() returns trigger language plpgsql as $$
begin
  raise exception '% on % is not allowed: the ledger is append-only, corrections are new entries', tg_op, tg_table_name
    using errcode = 'insufficient_privilege';
end $$;

create trigger journal_entries_immutable before update or delete on journal_entries
  for each row execute function ledger_refuse_change();
create trigger journal_entries_no_truncate before truncate on journal_entries
  for each statement execute function ledger_refuse_change();
create trigger postings_immutable before update or delete on postings
  for each row execute function ledger_refuse_change();
create trigger postings_no_truncate before truncate on postings
  for each statement execute function ledger_refuse_change();

-- The application's role: it may read everything, append to the ledger and update balances, nothing more.
do $$
begin
  if not exists (select from pg_roles where rolname = 'isogw_app') then
    create role isogw_app nologin;
  end if;
exception
  -- roles are cluster-wide: another database's migration may have created it a moment ago
  when duplicate_object or unique_violation then null;
end $$;
grant usage on schema public to isogw_app;
grant select on participants, accounts, journal_entries, postings to isogw_app;
grant insert on participants, accounts, journal_entries, postings to isogw_app;
grant update (balance) on accounts to isogw_app;
revoke update, delete, truncate on journal_entries, postings from isogw_app;
