/**
 * The webhook endpoint store: partners' endpoints (migrations/0003_webhooks.sql `webhook_endpoints`) and their
 * signing keys (`webhook_signing_keys`). The API routes register, list, change, disable and rotate through here;
 * the relay asks only for the keys to sign with (signingKeysFor).
 *
 * Secrets are shown once — in the answer to the creation or rotation that made them (RevealedKeys) — and are
 * otherwise only read by the relay to sign. Nothing here decides who may touch which endpoint: the routes compare
 * EndpointView.clientId with the caller.
 *
 * Every function takes a pg Pool or a client (`Queryable`). The two that write several rows (createEndpoint,
 * rotateSigningKeys) run in a transaction of their own on a Pool, and inside the caller's on a client that is in
 * one (as a savepoint), so they are atomic either way.
 */
import pg from 'pg';

import { checkEndpointUrl } from './endpoint-url.ts';
import { isWebhookEventType, WEBHOOK_EVENT_TYPES } from './event-types.ts';
import { WEBHOOK_LIMITS } from './limits.ts';
import { formatPublicKey, formatSecret, generateSigningKeys, type SigningKey } from './signing.ts';

/** A pg Pool, PoolClient or Client. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export type DisabledReason = 'gone' | 'partner' | 'operator';

export interface EndpointView {
  readonly id: string;
  readonly clientId: string;
  readonly url: string;
  readonly eventTypes: readonly string[];
  readonly description: string | null;
  readonly enabled: boolean;
  readonly disabledReason: DisabledReason | null;
  readonly disabledAt: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** What a partner is shown once, at creation and at each rotation: never stored in a readable form elsewhere. */
export interface RevealedKeys {
  /** `whsec_…`: the v1 (HMAC-SHA256) secret. */
  readonly secret: string;
  /** `whpk_…`: the public half of the v1a (Ed25519) key. */
  readonly publicKey: string;
  /** When the keys this rotation replaced stop signing; null at creation. */
  readonly previousKeysExpireAt: string | null;
}

export type EndpointRefusalCode = 'invalid_url' | 'invalid_event_types' | 'invalid_description' | 'too_many_endpoints';

/** A request the store will not carry out, for a reason the partner can fix; nothing was written. */
export class EndpointRefused extends Error {
  override readonly name = 'EndpointRefused';
  readonly code: EndpointRefusalCode;

  constructor(code: EndpointRefusalCode, message: string) {
    super(message);
    this.code = code;
  }
}

export interface EndpointOptions {
  /** Development: plain http to a loopback host is allowed (see endpoint-url.ts). */
  readonly allowInsecureEndpoints: boolean;
}

/** Of a description, in characters (the table's check). */
export const ENDPOINT_DESCRIPTION_MAX_CHARS = 256;

/** RFC 9562 UUID text: the shape of an endpoint id. Anything else names no endpoint (and would be a cast error). */
const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** SQLSTATE no_active_sql_transaction: SAVEPOINT outside a transaction block. */
const NO_ACTIVE_SQL_TRANSACTION = '25P01';

const VIEW_COLUMNS = `id, client_id, url, event_types, description, enabled, disabled_reason, disabled_at, created_at, updated_at`;

/** An endpoint row as pg returns it (operations.ts lists them with counts). */
export interface EndpointRow {
  id: string;
  client_id: string;
  url: string;
  event_types: string[];
  description: string | null;
  enabled: boolean;
  disabled_reason: DisabledReason | null;
  disabled_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export async function createEndpoint(
  db: Queryable,
  input: { readonly clientId: string; readonly url: string; readonly eventTypes?: readonly string[] | undefined; readonly description?: string | null | undefined },
  options: EndpointOptions,
): Promise<{ endpoint: EndpointView; keys: RevealedKeys }> {
  const url = validUrl(input.url, options);
  const eventTypes = input.eventTypes === undefined ? [...WEBHOOK_EVENT_TYPES] : validEventTypes(input.eventTypes);
  const description = validDescription(input.description);
  const keys = generateSigningKeys();
  return inTransaction(db, async (tx) => {
    // The per-partner limit is a count, and two concurrent creations could both count 9: serialise them per client
    // for the rest of the transaction. An advisory lock rather than a lock on some row, because the partner's
    // first endpoint has no row to lock; engines without advisory locks would need a per-client counter row.
    await tx.query(`select pg_advisory_xact_lock(hashtext('isogw.webhook_endpoints:' || $1))`, [input.clientId]);
    const { rows: counted } = await tx.query<{ n: number }>(`select count(*)::int as n from webhook_endpoints where client_id = $1`, [input.clientId]);
    const max = WEBHOOK_LIMITS.endpointsPerPartner;
    if ((counted[0]?.n ?? 0) >= max) throw new EndpointRefused('too_many_endpoints', `A partner may register at most ${max} webhook endpoints.`);
    const { rows } = await tx.query<EndpointRow>(
      `insert into webhook_endpoints (client_id, url, event_types, description) values ($1, $2, $3, $4) returning ${VIEW_COLUMNS}`,
      [input.clientId, url, eventTypes, description],
    );
    const endpoint = endpointView(single(rows, 'inserted endpoint'));
    await insertKeys(tx, endpoint.id, [keys.v1, keys.v1a]);
    return { endpoint, keys: revealed(keys, null) };
  });
}

/** A partner's endpoints, oldest first. */
export async function listEndpoints(db: Queryable, clientId: string): Promise<EndpointView[]> {
  const { rows } = await db.query<EndpointRow>(`select ${VIEW_COLUMNS} from webhook_endpoints where client_id = $1 order by created_at, id`, [clientId]);
  return rows.map(endpointView);
}

/** undefined when there is no such endpoint, including when `id` is not a UUID. */
export async function getEndpoint(db: Queryable, id: string): Promise<EndpointView | undefined> {
  if (!UUID_TEXT.test(id)) return undefined;
  const { rows } = await db.query<EndpointRow>(`select ${VIEW_COLUMNS} from webhook_endpoints where id = $1`, [id]);
  return rows[0] === undefined ? undefined : endpointView(rows[0]);
}

/** Changes what is given (a null description clears it); undefined when there is no such endpoint. */
export async function updateEndpoint(
  db: Queryable,
  id: string,
  change: { readonly url?: string | undefined; readonly eventTypes?: readonly string[] | undefined; readonly description?: string | null | undefined },
  options: EndpointOptions,
): Promise<EndpointView | undefined> {
  const url = change.url === undefined ? null : validUrl(change.url, options);
  const eventTypes = change.eventTypes === undefined ? null : validEventTypes(change.eventTypes);
  const description = change.description === undefined ? undefined : validDescription(change.description);
  if (!UUID_TEXT.test(id)) return undefined;
  if (url === null && eventTypes === null && description === undefined) return getEndpoint(db, id);
  const { rows } = await db.query<EndpointRow>(
    `update webhook_endpoints
        set url = coalesce($2, url),
            event_types = coalesce($3, event_types),
            description = case when $4::boolean then $5 else description end,
            updated_at = now()
      where id = $1
     returning ${VIEW_COLUMNS}`,
    [id, url, eventTypes, description !== undefined, description ?? null],
  );
  return rows[0] === undefined ? undefined : endpointView(rows[0]);
}

/**
 * Enables (clearing the reason and time) or disables an endpoint. Disabling one already disabled keeps its first
 * reason and time: an operator's stop is not turned into a partner's by a later 410, or the other way round.
 * Deliveries to a disabled endpoint stay pending (the relay skips them), so nothing is lost. undefined when there is
 * no such endpoint.
 */
export async function setEndpointEnabled(db: Queryable, id: string, enabled: boolean, reason: DisabledReason): Promise<EndpointView | undefined> {
  if (!UUID_TEXT.test(id)) return undefined;
  // Changes only an endpoint not already in the asked state; otherwise answers it as it is (the outer select reads
  // the statement's snapshot, which is the current row whenever the update changed nothing).
  const { rows } = await db.query<EndpointRow>(
    `with changed as (
       update webhook_endpoints
          set enabled = $2,
              disabled_reason = case when $2 then null else $3 end,
              disabled_at = case when $2 then null else now() end,
              updated_at = now()
        where id = $1 and enabled <> $2
       returning ${VIEW_COLUMNS}
     )
     select ${VIEW_COLUMNS} from changed
     union all
     select ${VIEW_COLUMNS} from webhook_endpoints where id = $1 and not exists (select 1 from changed)`,
    [id, enabled, reason],
  );
  return rows[0] === undefined ? undefined : endpointView(rows[0]);
}

/**
 * New v1 and v1a keys; the current ones keep signing for `overlapSeconds` (0 … WEBHOOK_LIMITS.rotationOverlapMaxSeconds,
 * checked by the caller: a RangeError here is a programmer error), so receivers can switch at leisure. Keys already
 * expiring from an earlier rotation keep their expiry when it is earlier. undefined when there is no such endpoint.
 */
export async function rotateSigningKeys(db: Queryable, id: string, overlapSeconds: number, now: Date = new Date()): Promise<RevealedKeys | undefined> {
  const max = WEBHOOK_LIMITS.rotationOverlapMaxSeconds;
  if (!Number.isSafeInteger(overlapSeconds) || overlapSeconds < 0 || overlapSeconds > max) {
    throw new RangeError(`a rotation overlap is 0 to ${max} whole seconds, got ${overlapSeconds}`);
  }
  if (!UUID_TEXT.test(id)) return undefined;
  const keys = generateSigningKeys();
  const expiresAt = new Date(now.getTime() + overlapSeconds * 1000);
  return inTransaction(db, async (tx) => {
    // Two rotations at once must not both retire the same keys and leave two "current" pairs: one waits for the other.
    const { rows } = await tx.query<{ id: string }>(`select id from webhook_endpoints where id = $1 for update`, [id]);
    if (rows.length === 0) return undefined;
    await tx.query(
      `update webhook_signing_keys set expires_at = least(coalesce(expires_at, $2), $2)
        where endpoint_id = $1 and (expires_at is null or expires_at > $2)`,
      [id, expiresAt],
    );
    await insertKeys(tx, id, [keys.v1, keys.v1a]);
    return revealed(keys, expiresAt.toISOString());
  });
}

/**
 * The keys to sign a delivery with at `now`: the current ones and those whose overlap has not ended, newest first
 * (so the first `v1` and `v1a` in a signature header are the current ones).
 */
export async function signingKeysFor(db: Queryable, endpointId: string, now: Date = new Date()): Promise<SigningKey[]> {
  if (!UUID_TEXT.test(endpointId)) return [];
  const { rows } = await db.query<{ scheme: 'v1' | 'v1a'; secret: Buffer; public_key: Buffer | null }>(
    `select scheme, secret, public_key from webhook_signing_keys
      where endpoint_id = $1 and (expires_at is null or expires_at > $2)
      order by id desc`,
    [endpointId, now],
  );
  return rows.map((row) => (row.public_key === null ? { scheme: row.scheme, secret: row.secret } : { scheme: row.scheme, secret: row.secret, publicKey: row.public_key }));
}

function validUrl(text: string, options: EndpointOptions): string {
  if (typeof text !== 'string') throw new EndpointRefused('invalid_url', 'The URL must be a string.');
  const check = checkEndpointUrl(text, options);
  if (!check.ok) throw new EndpointRefused('invalid_url', check.reason);
  return check.url.href;
}

/** Known types, at least one, duplicates removed, in WEBHOOK_EVENT_TYPES order (so equal sets read the same). */
function validEventTypes(eventTypes: readonly string[]): string[] {
  if (!Array.isArray(eventTypes) || eventTypes.length === 0) {
    throw new EndpointRefused('invalid_event_types', `Subscribe to at least one event type: ${WEBHOOK_EVENT_TYPES.join(', ')}.`);
  }
  const unknown = eventTypes.filter((type) => typeof type !== 'string' || !isWebhookEventType(type));
  if (unknown.length > 0) {
    const shown = unknown.slice(0, 3).map((type) => JSON.stringify(type)).join(', ');
    throw new EndpointRefused('invalid_event_types', `Unknown event type ${shown}; the event types are ${WEBHOOK_EVENT_TYPES.join(', ')}.`);
  }
  const wanted = new Set(eventTypes);
  return WEBHOOK_EVENT_TYPES.filter((type) => wanted.has(type));
}

function validDescription(description: string | null | undefined): string | null {
  if (description === undefined || description === null) return null;
  if (typeof description !== 'string') throw new EndpointRefused('invalid_description', 'The description must be a string or null.');
  // Postgres length() counts characters (code points), not UTF-16 units.
  if ([...description].length > ENDPOINT_DESCRIPTION_MAX_CHARS) {
    throw new EndpointRefused('invalid_description', `The description is longer than ${ENDPOINT_DESCRIPTION_MAX_CHARS} characters.`);
  }
  return description;
}

async function insertKeys(tx: Queryable, endpointId: string, keys: readonly SigningKey[]): Promise<void> {
  await tx.query(
    `insert into webhook_signing_keys (endpoint_id, scheme, secret, public_key)
     select $1, scheme, secret, public_key from unnest($2::text[], $3::bytea[], $4::bytea[]) as k(scheme, secret, public_key)`,
    [endpointId, keys.map((k) => k.scheme), keys.map((k) => Buffer.from(k.secret)), keys.map((k) => (k.publicKey === undefined ? null : Buffer.from(k.publicKey)))],
  );
}

function revealed(keys: { v1: SigningKey; v1a: SigningKey }, previousKeysExpireAt: string | null): RevealedKeys {
  if (keys.v1a.publicKey === undefined) throw new Error('a generated v1a key has a public key');
  return { secret: formatSecret(keys.v1.secret), publicKey: formatPublicKey(keys.v1a.publicKey), previousKeysExpireAt };
}

export function endpointView(row: EndpointRow): EndpointView {
  return {
    id: row.id,
    clientId: row.client_id,
    url: row.url,
    eventTypes: row.event_types,
    description: row.description,
    enabled: row.enabled,
    disabledReason: row.disabled_reason,
    disabledAt: row.disabled_at === null ? null : row.disabled_at.toISOString(),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

function single<T>(rows: readonly T[], what: string): T {
  const [row] = rows;
  if (row === undefined || rows.length !== 1) throw new Error(`expected exactly one ${what}, got ${rows.length}`);
  return row;
}

/**
 * Runs `work` atomically: on a Pool, in a transaction on a connection of its own; on a client already inside a
 * transaction, as a savepoint of the caller's transaction; on a client outside one, in a transaction of its own.
 */
async function inTransaction<T>(db: Queryable, work: (tx: Queryable) => Promise<T>): Promise<T> {
  if (db instanceof pg.Pool) {
    const client = await db.connect();
    let broken: Error | undefined;
    try {
      await client.query('begin');
      const result = await work(client);
      await client.query('commit');
      return result;
    } catch (error) {
      await client.query('rollback').catch((rollbackError: Error) => (broken = rollbackError));
      throw error;
    } finally {
      // A connection that cannot even roll back is discarded, not handed to the next caller.
      client.release(broken);
    }
  }
  try {
    await db.query('savepoint isogw_webhook_endpoints');
  } catch (error) {
    if ((error as { code?: string }).code !== NO_ACTIVE_SQL_TRANSACTION) throw error;
    await db.query('begin');
    try {
      const result = await work(db);
      await db.query('commit');
      return result;
    } catch (workError) {
      await db.query('rollback').catch(() => {});
      throw workError;
    }
  }
  try {
    const result = await work(db);
    await db.query('release savepoint isogw_webhook_endpoints');
    return result;
  } catch (error) {
    await db.query('rollback to savepoint isogw_webhook_endpoints').catch(() => {});
    throw error;
  }
}
