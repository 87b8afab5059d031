/**
 * Finding (and, where the gateway owns them, creating) ledger accounts.
 *
 * Participants are identified by their BIC in its 11-character form: a BIC8 and the same BIC with branch `XXX`
 * are one institution (ISO 9362), so `DEUTDEFF` and `DEUTDEFFXXX` must reach the same account.
 */
import type { PoolClient } from 'pg';

export type GatewayAccountKind = 'suspense' | 'clearing' | 'funding' | 'fees';

/** `DEUTDEFF` → `DEUTDEFFXXX`; BIC11 unchanged; upper case. */
export function normalizeBic(bic: string): string {
  const upper = bic.trim().toUpperCase();
  return upper.length === 8 ? `${upper}XXX` : upper;
}

export interface SettlementAccount {
  readonly accountId: bigint;
  readonly participantId: bigint;
  readonly bic: string;
}

/** The settlement accounts in `currency` of the participants among `bics` (normalized), keyed by normalized BIC. */
export async function settlementAccountsFor(client: PoolClient, bics: readonly string[], currency: string): Promise<Map<string, SettlementAccount>> {
  const wanted = [...new Set(bics.map(normalizeBic))];
  const found = new Map<string, SettlementAccount>();
  if (wanted.length === 0) return found;
  const { rows } = await client.query<{ account_id: string; participant_id: string; bic: string }>(
    `select a.id as account_id, p.id as participant_id, p.bic
       from participants p join accounts a on a.participant_id = p.id and a.kind = 'settlement' and a.currency = $2
      where p.bic = any($1::text[])`,
    [wanted, currency],
  );
  for (const row of rows) found.set(row.bic, { accountId: BigInt(row.account_id), participantId: BigInt(row.participant_id), bic: row.bic });
  return found;
}

/**
 * The gateway's own account of `kind` in `currency`, created on first use. Only `funding` may go negative: it
 * mirrors money brought in from outside the ledger, so its balance is minus everything funded.
 */
export async function gatewayAccount(client: PoolClient, kind: GatewayAccountKind, currency: string): Promise<bigint> {
  const existing = await client.query<{ id: string }>('select id from accounts where participant_id is null and kind = $1 and currency = $2', [kind, currency]);
  if (existing.rows[0] !== undefined) return BigInt(existing.rows[0].id);
  await client.query(
    `insert into accounts (participant_id, kind, currency, overdraft_allowed) values (null, $1, $2, $3)
     on conflict (kind, currency) where participant_id is null do nothing`,
    [kind, currency, kind === 'funding'],
  );
  const created = await client.query<{ id: string }>('select id from accounts where participant_id is null and kind = $1 and currency = $2', [kind, currency]);
  return BigInt(created.rows[0]!.id);
}

/** A participant's settlement account in `currency`, creating the participant and the account when absent. */
export async function ensureSettlementAccount(client: PoolClient, participant: { bic: string; name: string }, currency: string): Promise<SettlementAccount> {
  const bic = normalizeBic(participant.bic);
  await client.query('insert into participants (bic, name) values ($1, $2) on conflict (bic) do nothing', [bic, participant.name]);
  const { rows } = await client.query<{ id: string }>('select id from participants where bic = $1', [bic]);
  const participantId = BigInt(rows[0]!.id);
  await client.query(
    `insert into accounts (participant_id, kind, currency) values ($1, 'settlement', $2)
     on conflict (participant_id, kind, currency) do nothing`,
    [participantId.toString(), currency],
  );
  const account = await client.query<{ id: string }>(`select id from accounts where participant_id = $1 and kind = 'settlement' and currency = $2`, [participantId.toString(), currency]);
  return { accountId: BigInt(account.rows[0]!.id), participantId, bic };
}
