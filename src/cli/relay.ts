/**
 * `isogw relay` — a webhook relay as a process of its own, for deployments that keep delivery out of the gateway
 * processes (ISOGW_WEBHOOK_RELAY=off there) or want more relays than gateways. It reads the gateway's own variables
 * (database, ISOGW_BIC, ISOGW_WEBHOOK_*), relays until SIGTERM or SIGINT, then stops gracefully: no new claims, the
 * sends in flight are finished and recorded. Any number may run beside each other and beside the gateways' relays.
 */
import { parseArgs } from 'node:util';

import { ConfigError, relayConfigFromEnv } from '../config/gateway-config.ts';
import { createDatabasePool } from '../db/pool.ts';
import { createWebhookRelay, type RelayLogEntry } from '../webhooks/relay.ts';
import { createWebhookSender } from '../webhooks/sender.ts';
import { EXIT, type CliIo, UsageError } from './io.ts';

export const RELAY_USAGE = `usage: isogw relay [--quiet] [--relay-id ID] [--lease-seconds N]

Relays the outbox as signed webhooks until SIGTERM or SIGINT (then finishes the deliveries in flight and exits 0).
Prints one line per attempt on stdout (none with --quiet); errors go to stderr.

  --relay-id ID        the name written in leases and the attempt log (default host:pid:random)
  --lease-seconds N    how long a claimed delivery is this relay's before another may take it over (default 60);
                       keep it above the send timeouts (connect 5 s + response 10 s + body 10 s)

Environment: ISOGW_DATABASE_URL or DATABASE_URL, ISOGW_DATABASE_ROLE (default isogw_app), ISOGW_BIC (sending agent
of the RCVD reports in payloads), ISOGW_WEBHOOK_ALLOW_INSECURE (development only), ISOGW_WEBHOOK_CA_FILE,
ISOGW_WEBHOOK_RETRY_SCHEDULE_MS (comma-separated delays, default 5 s … 20 h).
Exit status: 0 stopped by a signal, 2 usage or configuration error, 3 failure.`;

/** A lease shorter than this could expire while a send is still within its timeouts. */
const LEASE_SECONDS_MIN = 1;
/** A day: a lease longer than that would park a crashed relay's deliveries for longer than any retry step is worth. */
const LEASE_SECONDS_MAX = 24 * 60 * 60;
/** Relay ids are written into every lease and attempt row. */
const RELAY_ID_MAX_CHARS = 128;

export async function runRelay(args: string[], io: CliIo, env: NodeJS.ProcessEnv = process.env, signals: NodeJS.Process = process): Promise<number> {
  const values = options(args);
  if (values.help) {
    io.out(RELAY_USAGE);
    return EXIT.ok;
  }
  let leaseSeconds: number | undefined;
  if (values['lease-seconds'] !== undefined) {
    leaseSeconds = Number(values['lease-seconds']);
    if (!Number.isSafeInteger(leaseSeconds) || leaseSeconds < LEASE_SECONDS_MIN || leaseSeconds > LEASE_SECONDS_MAX) {
      throw new UsageError(`--lease-seconds must be a whole number of seconds from ${LEASE_SECONDS_MIN} to ${LEASE_SECONDS_MAX}`);
    }
  }
  const relayId = values['relay-id'];
  if (relayId !== undefined && (relayId.length < 1 || relayId.length > RELAY_ID_MAX_CHARS || /[^\x21-\x7e]/.test(relayId))) {
    throw new UsageError(`--relay-id must be 1 to ${RELAY_ID_MAX_CHARS} printable characters without spaces`);
  }
  let config;
  try {
    config = relayConfigFromEnv(env);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message.replace(/:\n {2}- /, ': ').replaceAll('\n  - ', '; '), { cause: error });
    throw error;
  }

  const pool = createDatabasePool({ url: config.database.url, role: config.database.role });
  const sender = createWebhookSender({ allowInsecureEndpoints: config.webhooks.allowInsecureEndpoints, ca: config.webhooks.ca });
  const log = (entry: RelayLogEntry): void => {
    if (entry.kind === 'attempt') {
      if (!values.quiet) io.out(attemptLine(entry));
      return;
    }
    const detail = entry.kind === 'error' ? `: ${entry.error instanceof Error ? entry.error.message : String(entry.error)}` : '';
    io.err(`isogw relay: ${entry.kind}: ${entry.message}${detail}`);
  };
  const relay = createWebhookRelay({
    pool,
    databaseUrl: config.database.url,
    databaseRole: config.database.role,
    sender,
    relayId,
    retryScheduleMs: config.webhooks.retryScheduleMs,
    ...(leaseSeconds === undefined ? {} : { limits: { leaseSeconds } }),
    gatewayBic: config.gatewayBic,
    log,
  });
  const stopped = new Promise<string>((resolve) => {
    signals.once('SIGTERM', () => resolve('SIGTERM'));
    signals.once('SIGINT', () => resolve('SIGINT'));
  });
  try {
    await relay.start();
    io.out(`isogw relay ${relay.relayId} running`);
    const signal = await stopped;
    io.err(`isogw relay: ${signal}: finishing the deliveries in flight`);
    await relay.stop();
    io.err('isogw relay: stopped');
    return EXIT.ok;
  } finally {
    await sender.close();
    await pool.end();
  }
}

function attemptLine(entry: Extract<RelayLogEntry, { kind: 'attempt' }>): string {
  const retry = entry.retryInMs === undefined ? '' : ` retry in ${(entry.retryInMs / 1000).toFixed(1)} s`;
  const why = entry.error === undefined ? '' : ` (${entry.error})`;
  return `${new Date().toISOString()} ${entry.outcome} ${entry.webhookId} attempt ${entry.attempt} ${entry.status ?? '-'} ${entry.durationMs} ms ${entry.url}${retry}${why}`;
}

function options(args: string[]) {
  try {
    const { values } = parseArgs({
      args,
      options: {
        quiet: { type: 'boolean', short: 'q' },
        'relay-id': { type: 'string' },
        'lease-seconds': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
    });
    return values;
  } catch (error) {
    // parseArgs explains over several lines; a usage error is one
    throw new UsageError((error as Error).message.replaceAll('\n', ' '), { cause: error });
  }
}
