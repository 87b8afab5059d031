/**
 * Readiness: may a load balancer send this instance traffic? Only if what every payment needs answers: Postgres (the
 * ledger), Redis (DPoP replay: without it every DPoP request is refused 503) and the authorization server's key set
 * (no key set, no token can be verified). Each check runs with a time limit, all at once, and the report names each
 * one, so a 503 says what is missing.
 */
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { Agent, fetch } from 'undici';

export interface ReadinessCheck {
  /** Named in the report: postgres, redis, jwks. */
  readonly name: string;
  /** Resolves when the dependency answered as it should; rejects with the reason otherwise. */
  check(signal: AbortSignal): Promise<void>;
}

export interface ReadinessReport {
  readonly status: 'ready' | 'not_ready';
  readonly checks: Readonly<Record<string, { readonly ok: boolean; readonly durationMs: number; readonly error?: string }>>;
}

/** Runs every check at once, each bounded by `timeoutMs`. */
export async function checkReadiness(checks: readonly ReadinessCheck[], timeoutMs: number): Promise<ReadinessReport> {
  const results = await Promise.all(
    checks.map(async (readiness) => {
      const started = performance.now();
      // The signal stops a check that can be stopped (a fetch); the race ends the wait for one that cannot.
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      const timedOut = new Promise<never>((_, reject) => {
        controller.signal.addEventListener('abort', () => reject(controller.signal.reason as Error), { once: true });
      });
      try {
        await Promise.race([readiness.check(controller.signal), timedOut]);
        return [readiness.name, { ok: true, durationMs: Math.round(performance.now() - started) }] as const;
      } catch (error) {
        return [readiness.name, { ok: false, durationMs: Math.round(performance.now() - started), error: (error as Error).message }] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return { status: results.every(([, result]) => result.ok) ? 'ready' : 'not_ready', checks: Object.fromEntries(results) };
}

/** The ledger database answers a trivial statement over the gateway's own pool (its role, its connection limits). */
export function postgresCheck(pool: Pool): ReadinessCheck {
  return { name: 'postgres', check: async () => void (await pool.query('select 1')) };
}

/** Redis answers PING on the gateway's own client (offline queue off: a disconnected client fails at once). */
export function redisCheck(redis: Redis): ReadinessCheck {
  return {
    name: 'redis',
    async check() {
      const answer = await redis.ping();
      if (answer !== 'PONG') throw new Error(`PING answered ${answer}`);
    },
  };
}

export interface JwksCheckOptions {
  readonly jwksUri: URL;
  /** PEM CA of the AS's TLS certificate; undefined = the system trust store. */
  readonly ca?: string | undefined;
  /** After a successful fetch, no new fetch for this long (OBSERVABILITY_LIMITS.jwksProbeFreshSeconds). */
  readonly freshSeconds: number;
  readonly now?: () => number;
}

/**
 * The authorization server's key set can be fetched (over TLS with our CA, no redirects) and holds at least one key.
 * A success is trusted for `freshSeconds`, so readiness probes every few seconds do not each fetch from the AS;
 * a failure is not remembered (the next probe fetches again).
 */
export function jwksCheck(options: JwksCheckOptions): ReadinessCheck & { close(): Promise<void> } {
  const now = options.now ?? Date.now;
  const dispatcher = new Agent({ connect: options.ca === undefined ? {} : { ca: options.ca } });
  let fetchedAtMs: number | undefined;
  return {
    name: 'jwks',
    async check(signal) {
      if (fetchedAtMs !== undefined && now() - fetchedAtMs < options.freshSeconds * 1000) return;
      const response = await fetch(options.jwksUri, { dispatcher, signal, redirect: 'error', headers: { accept: 'application/json' } });
      if (response.status !== 200) {
        await response.body?.cancel();
        throw new Error(`${options.jwksUri.href} answered ${response.status}`);
      }
      const body = (await response.json()) as { keys?: unknown };
      if (!Array.isArray(body.keys) || body.keys.length === 0) throw new Error(`${options.jwksUri.href} holds no keys`);
      fetchedAtMs = now();
    },
    close: () => dispatcher.close(),
  };
}
