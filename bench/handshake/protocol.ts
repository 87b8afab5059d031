/** What the bench's parent process and its server children (servers.ts) share: settings, messages, constants. */
import type { DevPkiFiles } from '../../src/certs/dev-pki.ts';

export type Role = 'baseline' | 'authz' | 'gateway';

export interface ChildSettings {
  readonly pki: DevPkiFiles;
  readonly redisUrl: string;
  /** Every Redis key this run writes starts with it; removed on close. */
  readonly redisKeyPrefix: string;
  /** The gateway's port, chosen by the parent before anything starts: it is part of the token audience. */
  readonly gatewayPort: number;
  /** The authorization server's issuer (for the gateway role). */
  readonly issuer?: string;
}

export type ReadyMessage =
  | { readonly type: 'ready'; readonly role: 'baseline'; readonly httpsPort: number; readonly plainPort: number }
  | { readonly type: 'ready'; readonly role: 'authz'; readonly issuer: string; readonly tokenEndpoint: string }
  | { readonly type: 'ready'; readonly role: 'gateway'; readonly port: number };

/** The JSON the gateway answers bank-alpha on /partners/me; the baseline answers the same bytes. */
export const PARTNER_SELF_BODY = JSON.stringify({
  clientId: 'bank-alpha',
  name: 'Alpha Bank AG',
  bics: ['DEUTDEFFXXX'],
  scopes: ['payments:read'],
  binding: 'dpop',
});

/** The access-token lifetime the bench asks the AS for (its maximum), so one token lasts the whole run. */
export const BENCH_TOKEN_TTL_SECONDS = 3600;
