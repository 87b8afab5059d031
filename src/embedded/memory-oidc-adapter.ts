/**
 * oidc-provider's storage adapter in this process's memory, for a single authorization server instance without
 * Redis (the embedded default). It keeps the Redis adapter's rules (src/authz/redis-adapter.ts), so the provider
 * behaves the same on both:
 *   - every record has a lifetime, at most recordTtlMaxSeconds; a record without one, too large, or with an
 *     unacceptable id is refused loudly (RecordRejectedError), never kept for ever;
 *   - ReplayDetection lookups are find-or-claim: of any number of lookups of one id, exactly one sees "not found";
 *   - consume marks only a record that exists; a rewrite forgets the mark; destroy and revokeByGrantId remove
 *     records and their grant index, which lives as long as its longest-lived record.
 * Client records are never asked for here: the provider answers them from the partner registry (provider.ts).
 *
 * All models of one store share it, like one Redis prefix. Each method runs without awaiting between its reads and
 * writes, which makes it atomic within the process (what MULTI does in Redis). A full store refuses writes and
 * replay claims (an error, so the request fails) instead of forgetting records a replay check depends on.
 */
import type { Adapter, AdapterPayload } from 'oidc-provider';

import {
  GRANT_MEMBERS_MAX,
  RECORD_BYTES_MAX,
  RECORD_ID_CHARS_MAX,
  RECORD_TTL_MAX_SECONDS,
  RecordRejectedError,
  REPLAY_CLAIM_TTL_SECONDS,
} from '../authz/redis-adapter.ts';
import { ExpiringMap } from './expiring-map.ts';
import { EMBEDDED_LIMITS } from './limits.ts';

/** Models whose records hang off a grant (as in the Redis adapter). */
const GRANTABLE_MODELS = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode']);
/** Models whose find is find-or-claim (as in the Redis adapter). */
const FIND_OR_CLAIM_MODELS = new Set(['ReplayDetection']);

export interface MemoryOidcStoreOptions {
  readonly recordTtlMaxSeconds?: number | undefined;
  readonly recordsMax?: number | undefined;
  readonly now?: (() => number) | undefined;
}

type Stored =
  | { readonly kind: 'record'; readonly json: string; readonly consumed?: number; readonly grantId?: string }
  | { readonly kind: 'grant'; readonly members: ReadonlySet<string> }
  | { readonly kind: 'index'; readonly id: string };

export class OidcStoreFull extends Error {
  override readonly name = 'OidcStoreFull';
}

/** One authorization server's state: `adapterFactory` is the provider's `adapter` option. */
export class MemoryOidcStore {
  readonly #entries: ExpiringMap<Stored>;
  readonly #ttlMaxSeconds: number;
  readonly #recordsMax: number;
  readonly #now: () => number;

  constructor(options: MemoryOidcStoreOptions = {}) {
    this.#recordsMax = options.recordsMax ?? EMBEDDED_LIMITS.oidcRecordsMax;
    this.#now = options.now ?? Date.now;
    this.#entries = new ExpiringMap({ entriesMax: this.#recordsMax, now: this.#now });
    this.#ttlMaxSeconds = options.recordTtlMaxSeconds ?? RECORD_TTL_MAX_SECONDS;
  }

  readonly adapterFactory = (model: string): Adapter => new MemoryAdapter(model, this);

  /** Whole seconds `model`'s record `id` has left to live (Redis TTL); undefined when there is none. */
  ttlSeconds(model: string, id: string): number | undefined {
    const ms = this.#entries.ttlMs(recordName(model, id));
    return ms === undefined ? undefined : Math.ceil(ms / 1000);
  }

  upsert(model: string, id: string, payload: AdapterPayload, expiresIn: number | undefined): void {
    assertId(id);
    if (expiresIn === undefined || !Number.isSafeInteger(expiresIn) || expiresIn <= 0) {
      throw new RecordRejectedError(`${model} record without a positive integer lifetime (got ${expiresIn})`);
    }
    if (expiresIn > this.#ttlMaxSeconds) {
      throw new RecordRejectedError(`${model} record asks to live ${expiresIn}s, more than ${this.#ttlMaxSeconds}s`);
    }
    const json = JSON.stringify(payload);
    if (Buffer.byteLength(json) > RECORD_BYTES_MAX) throw new RecordRejectedError(`${model} record is larger than ${RECORD_BYTES_MAX} bytes`);
    const name = recordName(model, id);
    const grantId = GRANTABLE_MODELS.has(model) && typeof payload.grantId === 'string' ? payload.grantId : undefined;
    const grant = grantId === undefined ? undefined : this.#grant(grantId);
    if (grantId !== undefined && (grant?.members.size ?? 0) >= GRANT_MEMBERS_MAX && !grant?.members.has(name)) {
      throw new RecordRejectedError(`grant ${grantId} already indexes ${GRANT_MEMBERS_MAX} records`);
    }
    const ttlMs = expiresIn * 1000;
    // A fresh entry: a `consumed` mark of an earlier version of the record does not survive the rewrite.
    this.#write(name, { kind: 'record', json, ...(grantId === undefined ? {} : { grantId }) }, ttlMs);
    if (grantId !== undefined) {
      // The index lives as long as its longest-lived member.
      const members = new Set(grant?.members);
      members.add(name);
      this.#write(grantName(grantId), { kind: 'grant', members }, Math.max(ttlMs, this.#entries.ttlMs(grantName(grantId)) ?? 0));
    }
    if (typeof payload.userCode === 'string') this.#write(indexName('userCode', payload.userCode), { kind: 'index', id }, ttlMs);
    if (model === 'Session' && typeof payload.uid === 'string') this.#write(indexName('uid', payload.uid), { kind: 'index', id }, ttlMs);
  }

  find(model: string, id: string): AdapterPayload | undefined {
    if (!isAcceptableId(id)) return undefined;
    if (FIND_OR_CLAIM_MODELS.has(model) && this.#claim(model, id)) return undefined;
    const stored = this.#entries.get(recordName(model, id));
    if (stored?.kind !== 'record') return undefined;
    const payload = JSON.parse(stored.json) as AdapterPayload;
    if (stored.consumed !== undefined) payload.consumed = stored.consumed;
    return payload;
  }

  findByIndex(model: string, index: 'uid' | 'userCode', value: string): AdapterPayload | undefined {
    if (!isAcceptableId(value)) return undefined;
    const stored = this.#entries.get(indexName(index, value));
    return stored?.kind === 'index' ? this.find(model, stored.id) : undefined;
  }

  consume(model: string, id: string): void {
    if (!isAcceptableId(id)) return;
    const name = recordName(model, id);
    const stored = this.#entries.get(name);
    // Only a record that still exists, keeping its lifetime: consuming an expired id never creates a record.
    if (stored?.kind === 'record') this.#entries.replace(name, { ...stored, consumed: Math.floor(this.#now() / 1000) });
  }

  destroy(model: string, id: string): void {
    if (!isAcceptableId(id)) return;
    const name = recordName(model, id);
    const stored = this.#entries.get(name);
    this.#entries.delete(name);
    if (stored?.kind !== 'record' || stored.grantId === undefined) return;
    const grant = this.#grant(stored.grantId);
    if (grant === undefined) return;
    const members = new Set(grant.members);
    members.delete(name);
    this.#entries.replace(grantName(stored.grantId), { kind: 'grant', members });
  }

  revokeByGrantId(grantId: string): void {
    if (!isAcceptableId(grantId)) return;
    for (const member of this.#grant(grantId)?.members ?? []) this.#entries.delete(member);
    this.#entries.delete(grantName(grantId));
  }

  /** True when this call created the placeholder (nobody had claimed the id); see FIND_OR_CLAIM_MODELS. */
  #claim(model: string, id: string): boolean {
    const now = Math.floor(this.#now() / 1000);
    // A payload oidc-provider accepts as a live record, so a later finder treats the id as seen.
    const placeholder = JSON.stringify({ jti: id, kind: model, iat: now, exp: now + REPLAY_CLAIM_TTL_SECONDS });
    const outcome = this.#entries.setIfAbsent(recordName(model, id), { kind: 'record', json: placeholder }, REPLAY_CLAIM_TTL_SECONDS * 1000);
    // Fail closed: without room to remember the id, it cannot be called new.
    if (outcome === 'full') throw new OidcStoreFull(`the authorization server's store holds ${this.#recordsMax} live records`);
    return outcome === 'set';
  }

  #grant(grantId: string): Extract<Stored, { kind: 'grant' }> | undefined {
    const stored = this.#entries.get(grantName(grantId));
    return stored?.kind === 'grant' ? stored : undefined;
  }

  #write(name: string, value: Stored, ttlMs: number): void {
    if (!this.#entries.set(name, value, ttlMs)) throw new OidcStoreFull(`the authorization server's store holds ${this.#recordsMax} live records`);
  }
}

/** An oidc-provider `adapter` option backed by a fresh in-memory store. */
export function memoryAdapterFactory(options: MemoryOidcStoreOptions = {}): (model: string) => Adapter {
  return new MemoryOidcStore(options).adapterFactory;
}

class MemoryAdapter implements Adapter {
  readonly #model: string;
  readonly #store: MemoryOidcStore;

  constructor(model: string, store: MemoryOidcStore) {
    this.#model = model;
    this.#store = store;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    this.#store.upsert(this.#model, id, payload, expiresIn);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return this.#store.find(this.#model, id);
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.#store.findByIndex(this.#model, 'uid', uid);
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.#store.findByIndex(this.#model, 'userCode', userCode);
  }

  async consume(id: string): Promise<void> {
    this.#store.consume(this.#model, id);
  }

  async destroy(id: string): Promise<void> {
    this.#store.destroy(this.#model, id);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    this.#store.revokeByGrantId(grantId);
  }
}

/** Names as in Redis; ':' cannot be confused across kinds because each kind has its own leading word. */
const recordName = (model: string, id: string): string => `record:${model}:${id}`;
const grantName = (grantId: string): string => `grant:${grantId}`;
const indexName = (index: 'uid' | 'userCode', value: string): string => `${index}:${value}`;

function isAcceptableId(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= RECORD_ID_CHARS_MAX;
}

function assertId(id: string): void {
  if (!isAcceptableId(id)) throw new RecordRejectedError(`record id must be 1..${RECORD_ID_CHARS_MAX} characters`);
}
