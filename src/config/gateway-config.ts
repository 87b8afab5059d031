/**
 * The gateway's settings: one shape, validated once at boot, frozen. Tests build it directly; `server.ts` reads it
 * from the environment with `gatewayConfigFromEnv`, which names the variable behind every mistake.
 */
import { readFileSync } from 'node:fs';

import { LOG_LEVELS, type LogLevel } from '../observability/logger.ts';
import { DEFAULT_RATE_LIMIT_POLICIES, RATE_LIMIT_LIMITS, type RateLimitPolicies, ROUTE_CLASSES } from '../ratelimit/policy.ts';
import { SECURITY_LIMITS, type SecurityLimits } from '../security/limits.ts';

export type TlsMinVersion = 'TLSv1.3' | 'TLSv1.2';

export interface GatewayConfig {
  readonly listen: { readonly host: string; readonly port: number };
  /** How partners reach us, e.g. `https://gateway.example.com:8443`: the base of every DPoP htu, and our audience. */
  readonly externalOrigin: URL;
  readonly tls: {
    readonly certificate: string;
    readonly privateKey: string;
    /** CA(s) whose client certificates we accept (PEM). */
    readonly clientCa: string;
    /** TLS 1.3 by default; TLS 1.2 only with the BCP 195 (RFC 9325) AEAD suites below. */
    readonly minVersion: TlsMinVersion;
  };
  /** `tls`: verified at the handshake. `proxy-header`: a TLS-terminating proxy forwards it (RFC 9440). */
  readonly clientCertificate:
    | { readonly source: 'tls' }
    | { readonly source: 'proxy-header'; readonly header: string; readonly trustedProxies: readonly string[] };
  readonly authorizationServer: {
    readonly issuer: string;
    readonly jwksUri: URL;
    /** PEM CA for the AS's TLS certificate; undefined = system trust store. */
    readonly ca?: string | undefined;
  };
  /** The `aud` our access tokens must carry (the AS's resource indicator for us). */
  readonly audience: string;
  readonly partnersFile: string;
  readonly redisUrl: string;
  readonly database: {
    readonly url: string;
    /** The role every gateway connection switches to (SET ROLE): it may append to the ledger, never rewrite it. */
    readonly role: string | undefined;
    /**
     * Every connection shares one database session (PGlite behind its socket server, src/embedded/): the gateway
     * then uses a single connection, shared with its relay, which polls instead of LISTENing. Not for production.
     */
    readonly singleSession?: boolean | undefined;
  };
  readonly dpopNonce?: { readonly secret: Uint8Array; readonly required: boolean } | undefined;
  /** The gateway's own BIC, InstgAgt of the pacs.002 we send (optional). */
  readonly gatewayBic?: string | undefined;
  readonly limits: SecurityLimits;
  readonly webhooks: WebhookSettings;
  /**
   * The plain-HTTP operations listener (GET /metrics, /health/live, /health/ready); undefined = none. Port 0 picks a
   * free one (tests). `operatorTokenSha256` (32 bytes, the SHA-256 of the operator token) turns on the operator's
   * page under /ops/ (src/operator/); undefined = /ops/* is a 404.
   */
  readonly operations?: { readonly host: string; readonly port: number; readonly operatorTokenSha256?: Uint8Array | undefined } | undefined;
  /** JSON log lines on stdout from this level up; undefined = none (a config built in code: tests, tools). */
  readonly logLevel?: LogLevel | undefined;
  /**
   * Per-partner rate limits by route class (src/ratelimit/policy.ts); undefined = DEFAULT_RATE_LIMIT_POLICIES,
   * 'off' = none (a benchmark measuring the gateway's own ceiling).
   */
  readonly rateLimits?: RateLimitPolicies | 'off' | undefined;
  /** How long a shutdown waits for in-flight requests before destroying their connections; undefined = 25 s. */
  readonly shutdownDeadlineMs?: number | undefined;
}

export interface WebhookSettings {
  /** Run a relay in this gateway process (`ISOGW_WEBHOOK_RELAY=off` leaves it to `isogw relay` processes). */
  readonly relay: boolean;
  /**
   * Development only: accept `http://` endpoints on loopback and deliver to loopback and private addresses. In
   * production endpoints are https and resolve to public addresses only (no SSRF into our own network).
   */
  readonly allowInsecureEndpoints: boolean;
  /** Extra CA certificates (PEM) trusted for endpoints' TLS, e.g. a development PKI; undefined = system store only. */
  readonly ca?: string | undefined;
  /** Delays before each retry, in milliseconds; undefined = the documented schedule (5 s … about 3 days). */
  readonly retryScheduleMs?: readonly number[] | undefined;
}

/** The default: a relay in every gateway process, production endpoint rules. */
export const DEFAULT_WEBHOOK_SETTINGS: WebhookSettings = Object.freeze({ relay: true, allowInsecureEndpoints: false });

/** RFC 9325 §4.2 recommended TLS 1.2 suites (ECDHE + AEAD); TLS 1.3 suites are all acceptable. */
export const TLS12_BCP195_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** A local PostgreSQL with trust authentication (development, CI); the gateway assumes the app role on top. */
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Reads `ISOGW_*` variables; every problem names its variable. Files are read here, once. */
export function gatewayConfigFromEnv(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const problems: string[] = [];
  const required = (name: string): string => {
    const value = env[name];
    if (value === undefined || value.trim() === '') {
      problems.push(`${name} is required`);
      return '';
    }
    return value.trim();
  };
  const file = (name: string): string => {
    const path = required(name);
    if (path === '') return '';
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      problems.push(`${name}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      return '';
    }
  };
  const url = (name: string, fallback?: string): URL => {
    const text = env[name]?.trim() || fallback || required(name);
    const parsed = URL.parse(text);
    if (parsed === null || parsed.protocol !== 'https:') problems.push(`${name} must be an https URL (got "${text}")`);
    return parsed ?? new URL('https://invalid.invalid');
  };

  const port = Number(env.ISOGW_PORT ?? '8443');
  if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push('ISOGW_PORT must be a port number');
  const externalOrigin = url('ISOGW_EXTERNAL_URL');
  if (externalOrigin.pathname !== '/' || externalOrigin.search !== '') problems.push('ISOGW_EXTERNAL_URL must be an origin (no path or query)');
  const minVersion = (env.ISOGW_TLS_MIN_VERSION ?? 'TLSv1.3') as TlsMinVersion;
  if (minVersion !== 'TLSv1.3' && minVersion !== 'TLSv1.2') problems.push('ISOGW_TLS_MIN_VERSION must be TLSv1.3 or TLSv1.2');
  const issuer = required('ISOGW_AS_ISSUER');
  const certHeader = env.ISOGW_CLIENT_CERT_HEADER?.trim().toLowerCase();
  const proxies = (env.ISOGW_TRUSTED_PROXIES ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (certHeader !== undefined && certHeader !== '' && proxies.length === 0) {
    problems.push('ISOGW_CLIENT_CERT_HEADER needs ISOGW_TRUSTED_PROXIES (the proxies allowed to send it)');
  }
  let dpopNonce: GatewayConfig['dpopNonce'];
  if (env.ISOGW_DPOP_NONCE_SECRET !== undefined) {
    const secret = Buffer.from(env.ISOGW_DPOP_NONCE_SECRET, 'base64url');
    if (secret.length < 32) problems.push('ISOGW_DPOP_NONCE_SECRET must be at least 32 bytes, base64url');
    dpopNonce = { secret, required: env.ISOGW_DPOP_NONCE_REQUIRED === 'true' };
  }

  const config: GatewayConfig = {
    listen: { host: env.ISOGW_HOST ?? '127.0.0.1', port },
    externalOrigin,
    tls: {
      certificate: file('ISOGW_TLS_CERT_FILE'),
      privateKey: file('ISOGW_TLS_KEY_FILE'),
      clientCa: file('ISOGW_CLIENT_CA_FILE'),
      minVersion,
    },
    clientCertificate: certHeader ? { source: 'proxy-header', header: certHeader, trustedProxies: proxies } : { source: 'tls' },
    authorizationServer: {
      issuer,
      jwksUri: url('ISOGW_AS_JWKS_URI', issuer === '' ? undefined : `${issuer.replace(/\/$/, '')}/jwks`),
      ca: env.ISOGW_AS_CA_FILE === undefined ? undefined : file('ISOGW_AS_CA_FILE'),
    },
    audience: env.ISOGW_AUDIENCE?.trim() || externalOrigin.origin,
    partnersFile: required('ISOGW_PARTNERS_FILE'),
    redisUrl: env.ISOGW_REDIS_URL ?? env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    database: {
      url: env.ISOGW_DATABASE_URL ?? env.DATABASE_URL ?? DEFAULT_DATABASE_URL,
      role: databaseRole(env.ISOGW_DATABASE_ROLE, problems),
    },
    dpopNonce,
    gatewayBic: env.ISOGW_BIC,
    limits: SECURITY_LIMITS,
    webhooks: webhookSettings(env, file, problems),
    operations: operationsListener(env, problems),
    logLevel: logLevel(env.ISOGW_LOG_LEVEL, problems),
    rateLimits: rateLimits(env, problems),
    shutdownDeadlineMs: shutdownDeadlineMs(env.ISOGW_SHUTDOWN_DEADLINE_MS, problems),
  };
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  return Object.freeze(config);
}

/** ISOGW_SHUTDOWN_DEADLINE_MS: whole milliseconds, up to 10 minutes; unset = the default (server.ts). */
function shutdownDeadlineMs(value: string | undefined, problems: string[]): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  const ms = Number(text);
  if (!/^\d+$/.test(text) || ms > SHUTDOWN_DEADLINE_MAX_MS) problems.push(`ISOGW_SHUTDOWN_DEADLINE_MS must be whole milliseconds from 0 to ${SHUTDOWN_DEADLINE_MAX_MS}`);
  return ms;
}

/** A shutdown longer than this is a hang, not a drain. */
const SHUTDOWN_DEADLINE_MAX_MS = 10 * 60 * 1000;

/**
 * ISOGW_RATE_LIMIT=on|off (on), and per route class ISOGW_RATE_LIMIT_<INTAKE|READ|WEBHOOKS>_PER_SECOND and
 * …_BURST (requests; defaults in DEFAULT_RATE_LIMIT_POLICIES).
 */
function rateLimits(env: NodeJS.ProcessEnv, problems: string[]): RateLimitPolicies | 'off' {
  const switchText = env.ISOGW_RATE_LIMIT?.trim() || 'on';
  if (switchText !== 'on' && switchText !== 'off') problems.push('ISOGW_RATE_LIMIT must be on or off');
  const setting = (name: string, fallback: number): number => {
    const text = env[name]?.trim();
    if (!text) return fallback;
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < 1 || value > RATE_LIMIT_LIMITS.settingMax) {
      problems.push(`${name} must be a whole number of requests from 1 to ${RATE_LIMIT_LIMITS.settingMax}`);
      return fallback;
    }
    return value;
  };
  const policies = Object.fromEntries(
    ROUTE_CLASSES.map((routeClass) => {
      const prefix = `ISOGW_RATE_LIMIT_${routeClass.toUpperCase()}`;
      const defaults = DEFAULT_RATE_LIMIT_POLICIES[routeClass];
      return [routeClass, Object.freeze({ perSecond: setting(`${prefix}_PER_SECOND`, defaults.perSecond), burst: setting(`${prefix}_BURST`, defaults.burst) })];
    }),
  ) as unknown as RateLimitPolicies;
  return switchText === 'off' ? 'off' : Object.freeze(policies);
}

/**
 * ISOGW_OPS_PORT turns the operations listener on; it binds to ISOGW_OPS_HOST, loopback unless set.
 * ISOGW_OPERATOR_TOKEN_SHA256 (64 hex digits: the SHA-256 of the operator token, so no secret sits in the
 * configuration) turns on the operator's page on it.
 */
function operationsListener(env: NodeJS.ProcessEnv, problems: string[]): GatewayConfig['operations'] {
  const portText = env.ISOGW_OPS_PORT?.trim();
  const host = env.ISOGW_OPS_HOST?.trim();
  const tokenHex = env.ISOGW_OPERATOR_TOKEN_SHA256?.trim();
  if (!portText) {
    if (host) problems.push('ISOGW_OPS_HOST needs ISOGW_OPS_PORT (the operations listener is off without a port)');
    if (tokenHex) problems.push('ISOGW_OPERATOR_TOKEN_SHA256 needs ISOGW_OPS_PORT (the operator page is served by the operations listener)');
    return undefined;
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) problems.push('ISOGW_OPS_PORT must be a port number');
  let operatorTokenSha256: Uint8Array | undefined;
  if (tokenHex) {
    if (/^[0-9a-fA-F]{64}$/.test(tokenHex)) operatorTokenSha256 = Buffer.from(tokenHex, 'hex');
    else problems.push('ISOGW_OPERATOR_TOKEN_SHA256 must be 64 hex digits (the SHA-256 of the operator token, e.g. from `printf %s "$TOKEN" | sha256sum`)');
  }
  return { host: host || '127.0.0.1', port, operatorTokenSha256 };
}

/** info unless ISOGW_LOG_LEVEL says otherwise. */
function logLevel(value: string | undefined, problems: string[]): LogLevel {
  const level = value?.trim().toLowerCase() || 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) problems.push(`ISOGW_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
  return level as LogLevel;
}

/** `isogw_app` unless set; `none` connects as the URL's user without SET ROLE (a deployment that logs in as the app role). */
function databaseRole(value: string | undefined, problems: string[]): string | undefined {
  const role = value?.trim() || 'isogw_app';
  if (role === 'none') return undefined;
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(role)) problems.push('ISOGW_DATABASE_ROLE must be a plain lower-case role name (or none)');
  return role;
}

function webhookSettings(env: NodeJS.ProcessEnv, file: (name: string) => string, problems: string[]): WebhookSettings {
  const relay = env.ISOGW_WEBHOOK_RELAY?.trim() || 'on';
  if (relay !== 'on' && relay !== 'off') problems.push('ISOGW_WEBHOOK_RELAY must be on or off');
  const insecure = env.ISOGW_WEBHOOK_ALLOW_INSECURE?.trim() || 'false';
  if (insecure !== 'true' && insecure !== 'false') problems.push('ISOGW_WEBHOOK_ALLOW_INSECURE must be true or false');
  let retryScheduleMs: number[] | undefined;
  const schedule = env.ISOGW_WEBHOOK_RETRY_SCHEDULE_MS?.trim();
  if (schedule) {
    retryScheduleMs = schedule.split(',').map((s) => Number(s.trim()));
    if (retryScheduleMs.some((ms) => !Number.isSafeInteger(ms) || ms < 0)) {
      problems.push('ISOGW_WEBHOOK_RETRY_SCHEDULE_MS must be comma-separated whole milliseconds');
    }
  }
  return {
    relay: relay === 'on',
    allowInsecureEndpoints: insecure === 'true',
    ca: env.ISOGW_WEBHOOK_CA_FILE === undefined ? undefined : file('ISOGW_WEBHOOK_CA_FILE'),
    retryScheduleMs,
  };
}

/** What an `isogw relay` process needs: the database, the gateway's BIC and the webhook settings (no TLS, AS or Redis). */
export interface RelayConfig {
  readonly database: GatewayConfig['database'];
  readonly gatewayBic?: string | undefined;
  readonly webhooks: WebhookSettings;
}

/** The relay's part of gatewayConfigFromEnv: the same variables, read and checked the same way. */
export function relayConfigFromEnv(env: NodeJS.ProcessEnv = process.env): RelayConfig {
  const problems: string[] = [];
  const file = (name: string): string => {
    const path = env[name]?.trim() ?? '';
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      problems.push(`${name}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      return '';
    }
  };
  const config: RelayConfig = {
    database: { url: env.ISOGW_DATABASE_URL ?? env.DATABASE_URL ?? DEFAULT_DATABASE_URL, role: databaseRole(env.ISOGW_DATABASE_ROLE, problems) },
    // Unset and empty both mean "no BIC": the reports then simply have no InstgAgt.
    gatewayBic: env.ISOGW_BIC?.trim() || undefined,
    webhooks: webhookSettings(env, file, problems),
  };
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  return Object.freeze(config);
}
