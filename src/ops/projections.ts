/**
 * The projection rebuild (issue 7 §3): the read models are projections of immutable history, and this proves it.
 *
 *   payment status   payments.status, status_reason and sequence are what the payment's latest status event
 *                    (payment_events, highest sequence) says;
 *   account balances accounts.balance — the operators' balances view, by participant BIC, kind and currency — is the
 *                    credits minus the debits of the account's postings.
 *
 * Both are rebuilt from the history alone into temporary tables, inside one REPEATABLE READ transaction (the live
 * rows and the history are read in the same snapshot, so a booking committing meanwhile cannot make them differ),
 * compared row by row with the live tables, and the transaction is rolled back: nothing is ever written. There is
 * no `--apply`: the live projections are maintained in the very transaction that appends the history (booking,
 * settle, release), so a difference is not staleness to repair but a fault to investigate — reconcile classifies it.
 *
 * reconcile's checks cover the same two equalities as invariants; this module is the rebuild itself, materialised
 * the way an operator restoring the read models would build them, with the live and rebuilt values side by side.
 */
import type pg from 'pg';

export const PROJECTION_LIMITS = {
  /** Differences listed per projection (all of them are counted). */
  differencesPerProjectionMax: 100,
} as const;

export interface ProjectionRebuildOptions {
  /** Differences listed per projection; the counts are always complete. Default PROJECTION_LIMITS.differencesPerProjectionMax. */
  readonly differencesPerProjectionMax?: number;
}

export type ProjectionName = 'payment_status' | 'account_balances';

export interface ProjectionDifference {
  /** Which row: `{ payment }`, or `{ account, owner, kind, currency }` (owner: the participant's BIC, or `gateway`). */
  readonly key: Readonly<Record<string, string | null>>;
  /** The live row's projected values; null when only the history has the row. */
  readonly live: Readonly<Record<string, string | number | null>> | null;
  /** The values rebuilt from the history; null when the history has nothing for a live row. */
  readonly rebuilt: Readonly<Record<string, string | number | null>> | null;
}

export interface ProjectionComparison {
  readonly name: ProjectionName;
  /** The history it was rebuilt from. */
  readonly rebuiltFrom: 'payment_events' | 'postings';
  /** Rows compared: the live rows and the rebuilt ones, matched by key. */
  readonly compared: number;
  readonly differing: number;
  /** The first differences, by key (at most differencesPerProjectionMax). */
  readonly differences: readonly ProjectionDifference[];
}

export interface ProjectionRebuildReport {
  /** True when every rebuilt row equals its live row. */
  readonly matches: boolean;
  /** The database's clock at the snapshot (ISO 8601). */
  readonly asOf: string;
  readonly projections: readonly ProjectionComparison[];
}

/** Temporary tables of this session, dropped before returning (and with the transaction). */
const REBUILT_PAYMENT_STATUS = 'isogw_rebuilt_payment_status';
const REBUILT_ACCOUNT_BALANCES = 'isogw_rebuilt_account_balances';

/** Rebuilds and compares in a transaction of its own, always rolled back. */
export async function rebuildProjections(pool: pg.Pool, options: ProjectionRebuildOptions = {}): Promise<ProjectionRebuildReport> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    // Not READ ONLY: PostgreSQL refuses CREATE TEMP TABLE there. The rollback below is what guarantees no writes.
    await client.query('begin isolation level repeatable read');
    return await rebuildProjectionsIn(client, options);
  } finally {
    await client.query('rollback').catch((rollbackError: Error) => (broken = rollbackError));
    // A connection that cannot even roll back is discarded, not handed to the next caller.
    client.release(broken);
  }
}

/**
 * The same on a connection the caller holds, which must be inside a transaction (temporary tables and the snapshot
 * live there); the caller ends it — rolling back leaves no trace.
 */
export async function rebuildProjectionsIn(client: pg.ClientBase, options: ProjectionRebuildOptions = {}): Promise<ProjectionRebuildReport> {
  const listed = options.differencesPerProjectionMax ?? PROJECTION_LIMITS.differencesPerProjectionMax;
  if (!Number.isSafeInteger(listed) || listed < 0) throw new RangeError(`projections: differencesPerProjectionMax must be a whole number ≥ 0, got ${listed}`);
  const { rows } = await client.query<{ as_of: Date }>('select now() as as_of');

  let done = false;
  try {
    await client.query(
      `create temporary table ${REBUILT_PAYMENT_STATUS} as
         select distinct on (payment_id) payment_id, status, reason as status_reason, sequence
           from payment_events order by payment_id, sequence desc`,
    );
    await client.query(
      // numeric, not bigint: a sum beyond bigint is a difference to report, not an error that hides the others
      `create temporary table ${REBUILT_ACCOUNT_BALANCES} as
         select account_id, sum(case direction when 'C' then amount else -amount end) as balance
           from postings group by account_id`,
    );
    const paymentStatus = await compare(client, 'payment_status', 'payment_events', listed, {
      rows: `from payments p full join ${REBUILT_PAYMENT_STATUS} r on r.payment_id = p.id`,
      differs: `row(p.status, p.status_reason, p.sequence) is distinct from row(r.status, r.status_reason, r.sequence)`,
      key: `jsonb_build_object('payment', coalesce(p.id, r.payment_id)::text)`,
      live: `case when p.id is null then null else jsonb_build_object('status', p.status, 'statusReason', p.status_reason, 'sequence', p.sequence) end`,
      rebuilt: `case when r.payment_id is null then null else jsonb_build_object('status', r.status, 'statusReason', r.status_reason, 'sequence', r.sequence) end`,
      order: 'coalesce(p.id, r.payment_id)',
    });
    // An account without postings has a rebuilt balance of zero: accounts are entities, only their balance is projected.
    const accountBalances = await compare(client, 'account_balances', 'postings', listed, {
      rows: `from accounts a full join ${REBUILT_ACCOUNT_BALANCES} r on r.account_id = a.id left join participants pt on pt.id = a.participant_id`,
      differs: 'a.id is null or a.balance <> coalesce(r.balance, 0)',
      key: `jsonb_build_object('account', coalesce(a.id, r.account_id)::text, 'owner', coalesce(pt.bic, case when a.id is null then null else 'gateway' end),
                               'kind', a.kind, 'currency', a.currency)`,
      live: `case when a.id is null then null else jsonb_build_object('balance', a.balance::text) end`,
      rebuilt: `jsonb_build_object('balance', coalesce(r.balance, 0)::text)`,
      order: 'coalesce(a.id, r.account_id)',
    });
    const projections = [paymentStatus, accountBalances];
    done = true;
    return { matches: projections.every((projection) => projection.differing === 0), asOf: rows[0]!.as_of.toISOString(), projections };
  } finally {
    const drop = client.query(`drop table if exists ${REBUILT_PAYMENT_STATUS}, ${REBUILT_ACCOUNT_BALANCES}`);
    // After a failure the transaction is aborted and refuses the drop; its rollback drops the tables anyway, and the
    // error worth reporting is the first one.
    if (done) await drop;
    else await drop.catch(() => {});
  }
}

interface ComparisonSql {
  /** `from … join …` pairing live (p/a) and rebuilt (r) rows by key. */
  readonly rows: string;
  readonly differs: string;
  readonly key: string;
  readonly live: string;
  readonly rebuilt: string;
  readonly order: string;
}

async function compare(
  client: pg.ClientBase,
  name: ProjectionName,
  rebuiltFrom: ProjectionComparison['rebuiltFrom'],
  listed: number,
  sql: ComparisonSql,
): Promise<ProjectionComparison> {
  const counted = await client.query<{ compared: number; differing: number }>(
    `select count(*)::int as compared, (count(*) filter (where ${sql.differs}))::int as differing ${sql.rows}`,
  );
  const { rows } = await client.query<ProjectionDifference>(
    `select ${sql.key} as key, ${sql.live} as live, ${sql.rebuilt} as rebuilt ${sql.rows} where ${sql.differs} order by ${sql.order} limit $1`,
    [listed],
  );
  return { name, rebuiltFrom, compared: counted.rows[0]!.compared, differing: counted.rows[0]!.differing, differences: rows };
}
