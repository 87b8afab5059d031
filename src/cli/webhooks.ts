/**
 * `isogw webhooks list|deliveries|redeliver|disable|enable` — operators' view of and hand on webhook deliveries in
 * the database named by DATABASE_URL (required, like `isogw payments`):
 *
 *   list        endpoints (all, or one partner's) with their state and how many deliveries wait or are dead;
 *   deliveries  a payment's deliveries, or an endpoint's (newest first), each with its attempts;
 *   redeliver   one delivery, or every dead one of an endpoint, sent again (same webhook-id and body, fresh schedule);
 *   disable     stop deliveries to an endpoint (reason `operator`: the partner cannot re-enable it); nothing is lost;
 *   enable      resume them, whatever disabled the endpoint (a 410, the partner, an operator).
 *
 * The same queries as the partners' API (webhooks/operations.ts, webhooks/endpoints.ts), without the partner filter.
 * Readable tables by default, `--json` for scripts.
 */
import { parseArgs } from 'node:util';

import pg from 'pg';

import { type EndpointView, setEndpointEnabled } from '../webhooks/endpoints.ts';
import { WEBHOOK_EVENT_TYPES } from '../webhooks/event-types.ts';
import {
  attemptsOfDeliveries,
  type AttemptView,
  deliveriesOfEndpoint,
  deliveriesOfPayment,
  deliveryIdOf,
  type DeliveryView,
  DELIVERY_STATES,
  endpointsForOperators,
  isDeliveryState,
  redeliver,
  redeliverDead,
  WEBHOOK_OPERATION_LIMITS,
} from '../webhooks/operations.ts';
import { UUID_TEXT } from '../payments/read-model.ts';
import { EXIT, type CliIo, UsageError } from './io.ts';
import { operatorDatabasePool } from './operator-database.ts';

export const WEBHOOKS_USAGE = `usage: DATABASE_URL=postgres://user@host:5432/db isogw webhooks <subcommand> [options] [--json]

subcommands:
  list [--client CLIENT_ID]
        endpoints (of one partner with --client), with their state, event types and how many deliveries are
        pending or dead
  deliveries --payment UETR
  deliveries --endpoint ENDPOINT_ID [--state ${DELIVERY_STATES.join('|')}] [--limit N] [--before DELIVERY_ID]
        a payment's deliveries in event order, or an endpoint's newest first (N at most ${WEBHOOK_OPERATION_LIMITS.deliveriesPageMax},
        default ${WEBHOOK_OPERATION_LIMITS.deliveriesPageDefault}), each with its attempts
  redeliver --delivery DELIVERY_ID
        send one delivery again, whatever its state but in flight: same webhook-id and body, a fresh retry schedule
  redeliver --endpoint ENDPOINT_ID --dead
        the same for the endpoint's dead deliveries, oldest first, at most ${WEBHOOK_OPERATION_LIMITS.redeliverDeadPerCallMax} per run
  disable --endpoint ENDPOINT_ID
        stop deliveries to the endpoint (reason operator: the partner cannot enable it again); they wait, none is lost
  enable --endpoint ENDPOINT_ID
        resume deliveries to the endpoint, whatever disabled it

--json prints one JSON document instead of a table.
Exit status: 0 done, 1 refused (no such payment, endpoint or delivery; a delivery in flight: nothing was changed),
2 usage error, 3 the database failed (nothing was changed).`;

const SUBCOMMANDS = ['list', 'deliveries', 'redeliver', 'disable', 'enable'] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

type Values = ReturnType<typeof options>;
/** What each subcommand accepts besides --json and --help. */
const ACCEPTED: Record<Subcommand, readonly (keyof Values)[]> = {
  list: ['client'],
  deliveries: ['payment', 'endpoint', 'state', 'limit', 'before'],
  redeliver: ['delivery', 'endpoint', 'dead'],
  disable: ['endpoint'],
  enable: ['endpoint'],
};

/** A checked request, before the database is opened: every usage error is found first. */
type Request =
  | { readonly kind: 'list'; readonly clientId: string | undefined }
  | { readonly kind: 'payment-deliveries'; readonly uetr: string }
  | { readonly kind: 'endpoint-deliveries'; readonly endpointId: string; readonly state: DeliveryView['state'] | undefined; readonly limit: number; readonly before: bigint | undefined }
  | { readonly kind: 'redeliver'; readonly deliveryId: bigint }
  | { readonly kind: 'redeliver-dead'; readonly endpointId: string }
  | { readonly kind: 'enable' | 'disable'; readonly endpointId: string };

export async function runWebhooks(args: string[], io: CliIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [subcommand, ...rest] = args;
  if (subcommand === undefined || subcommand === '--help' || subcommand === '-h' || subcommand === 'help') {
    io.out(WEBHOOKS_USAGE);
    return subcommand === undefined ? EXIT.usage : EXIT.ok;
  }
  if (!(SUBCOMMANDS as readonly string[]).includes(subcommand)) {
    throw new UsageError(`unknown webhooks subcommand "${subcommand}" (${SUBCOMMANDS.join(', ')})`);
  }
  const command = subcommand as Subcommand;
  const values = options(rest);
  if (values.help) {
    io.out(WEBHOOKS_USAGE);
    return EXIT.ok;
  }
  const request = requestOf(command, values);
  const pool = operatorDatabasePool(env);
  const print = values.json ? (document: unknown) => io.out(JSON.stringify(document, bigintAsString)) : undefined;
  try {
    return await perform(pool, request, io, print);
  } catch (error) {
    const changes = command === 'redeliver' || command === 'enable' || command === 'disable';
    io.err(`isogw webhooks ${command}: the database failed${changes ? ', nothing was changed' : ''}: ${(error as Error).message}`);
    return EXIT.failure;
  } finally {
    await pool.end();
  }
}

async function perform(pool: pg.Pool, request: Request, io: CliIo, print: ((document: unknown) => void) | undefined): Promise<number> {
  const refused = (message: string) => {
    io.err(`isogw webhooks: ${message}`);
    return EXIT.rejected;
  };
  switch (request.kind) {
    case 'list': {
      const { endpoints, truncated } = await endpointsForOperators(pool, request.clientId);
      if (print !== undefined) print({ endpoints, truncated });
      else {
        if (endpoints.length === 0) io.out(request.clientId === undefined ? 'no webhook endpoints' : `no webhook endpoints for ${request.clientId}`);
        else for (const line of table([['ENDPOINT', 'CLIENT', 'STATE', 'PENDING', 'DEAD', 'EVENTS', 'URL'], ...endpoints.map((e) => [e.id, e.clientId, stateOf(e), String(e.pendingDeliveries), String(e.deadDeliveries), eventsOf(e.eventTypes), e.url])])) io.out(line);
        if (truncated) io.out(`(only the first ${WEBHOOK_OPERATION_LIMITS.operatorEndpointsListMax}; use --client to narrow the list)`);
      }
      return EXIT.ok;
    }
    case 'payment-deliveries': {
      const deliveries = await deliveriesOfPayment(pool, request.uetr);
      if (deliveries.length === 0) {
        const { rowCount } = await pool.query('select 1 from payments where uetr = $1::uuid', [request.uetr]);
        if (rowCount === 0) return refused(`no payment has UETR ${request.uetr}`);
      }
      if (print !== undefined) print({ uetr: request.uetr, deliveries });
      else showDeliveries(io, deliveries, new Map(deliveries.map((d) => [d.id, d.attemptLog])), `no deliveries for payment ${request.uetr} (no endpoint of its sender subscribed, or not dispatched yet)`);
      return EXIT.ok;
    }
    case 'endpoint-deliveries': {
      const { rowCount } = await pool.query('select 1 from webhook_endpoints where id = $1', [request.endpointId]);
      if (rowCount === 0) return refused(`no webhook endpoint ${request.endpointId}`);
      const { deliveries, nextBefore } = await deliveriesOfEndpoint(pool, request.endpointId, request);
      const attempts = await attemptsOfDeliveries(pool, deliveries.map((d) => d.id));
      if (print !== undefined) print({ deliveries: deliveries.map((d) => ({ ...d, attemptLog: attempts.get(d.id) ?? [] })), nextBefore: nextBefore ?? null });
      else {
        showDeliveries(io, deliveries, attempts, `no ${request.state === undefined ? '' : `${request.state} `}deliveries for endpoint ${request.endpointId}`);
        if (nextBefore !== undefined) io.out(`(more: --before ${nextBefore})`);
      }
      return EXIT.ok;
    }
    case 'redeliver': {
      const outcome = await redeliver(pool, request.deliveryId);
      if (outcome.kind === 'not_found') return refused(`no delivery ${request.deliveryId}; nothing was changed`);
      if (outcome.kind === 'in_flight') return refused(`delivery ${request.deliveryId} is being sent right now; nothing was changed (try again once it is no longer in flight)`);
      if (print !== undefined) print({ delivery: outcome.delivery });
      else io.out(`delivery ${request.deliveryId} (${outcome.delivery.webhookId}) is pending again, due now, with a fresh retry schedule`);
      return EXIT.ok;
    }
    case 'redeliver-dead': {
      const { rowCount } = await pool.query('select 1 from webhook_endpoints where id = $1', [request.endpointId]);
      if (rowCount === 0) return refused(`no webhook endpoint ${request.endpointId}; nothing was changed`);
      const { redelivered, more } = await redeliverDead(pool, request.endpointId);
      if (print !== undefined) print({ redelivered, more });
      else io.out(`${redelivered} dead deliveries of endpoint ${request.endpointId} are pending again${more ? '; more remain: run the command again' : ''}`);
      return EXIT.ok;
    }
    case 'enable':
    case 'disable': {
      const endpoint = await setEndpointEnabled(pool, request.endpointId, request.kind === 'enable', 'operator');
      if (endpoint === undefined) return refused(`no webhook endpoint ${request.endpointId}; nothing was changed`);
      if (print !== undefined) print({ endpoint });
      else io.out(`endpoint ${endpoint.id} (${endpoint.clientId}) is ${stateOf(endpoint)}`);
      return EXIT.ok;
    }
  }
}

function requestOf(command: Subcommand, values: Values): Request {
  for (const name of Object.keys(values) as (keyof Values)[]) {
    if (name === 'json' || name === 'help' || values[name] === undefined) continue;
    if (!ACCEPTED[command].includes(name)) throw new UsageError(`webhooks ${command} takes no --${name}`);
  }
  const endpointId = values.endpoint === undefined ? undefined : endpointIdOf(values.endpoint);
  switch (command) {
    case 'list':
      return { kind: 'list', clientId: values.client };
    case 'deliveries': {
      if ((values.payment === undefined) === (endpointId === undefined)) throw new UsageError('webhooks deliveries needs exactly one of --payment UETR and --endpoint ENDPOINT_ID');
      if (values.payment !== undefined) {
        for (const name of ['state', 'limit', 'before'] as const) {
          if (values[name] !== undefined) throw new UsageError(`--${name} goes with --endpoint, not --payment (a payment's deliveries are few)`);
        }
        if (!UUID_TEXT.test(values.payment)) throw new UsageError(`"${values.payment}" is not a UETR (a UUID such as 8a562c67-ca16-48ba-b074-65581be6f001)`);
        return { kind: 'payment-deliveries', uetr: values.payment.toLowerCase() };
      }
      if (values.state !== undefined && !isDeliveryState(values.state)) throw new UsageError(`--state must be one of ${DELIVERY_STATES.join(', ')}`);
      const max = WEBHOOK_OPERATION_LIMITS.deliveriesPageMax;
      const limit = values.limit === undefined ? WEBHOOK_OPERATION_LIMITS.deliveriesPageDefault : /^[1-9][0-9]{0,3}$/.test(values.limit) ? Number(values.limit) : Number.NaN;
      if (!(limit >= 1 && limit <= max)) throw new UsageError(`--limit must be a whole number from 1 to ${max}`);
      const before = values.before === undefined ? undefined : deliveryIdOf(values.before);
      if (values.before !== undefined && before === undefined) throw new UsageError(`--before "${values.before}" is not a delivery id (a positive integer)`);
      return { kind: 'endpoint-deliveries', endpointId: endpointId!, state: values.state as DeliveryView['state'] | undefined, limit, before };
    }
    case 'redeliver': {
      if (values.delivery !== undefined) {
        if (endpointId !== undefined || values.dead) throw new UsageError('webhooks redeliver takes either --delivery ID or --endpoint ID --dead, not both');
        const deliveryId = deliveryIdOf(values.delivery);
        if (deliveryId === undefined) throw new UsageError(`--delivery "${values.delivery}" is not a delivery id (a positive integer)`);
        return { kind: 'redeliver', deliveryId };
      }
      if (endpointId === undefined) throw new UsageError('webhooks redeliver needs --delivery ID, or --endpoint ID --dead');
      // Spelled out on purpose: "redeliver everything of this endpoint" must never be what a forgotten flag means.
      if (!values.dead) throw new UsageError('webhooks redeliver --endpoint redelivers dead deliveries only: add --dead');
      return { kind: 'redeliver-dead', endpointId };
    }
    case 'enable':
    case 'disable':
      if (endpointId === undefined) throw new UsageError(`webhooks ${command} needs --endpoint ENDPOINT_ID`);
      return { kind: command, endpointId };
  }
}

function endpointIdOf(text: string): string {
  if (!UUID_TEXT.test(text)) throw new UsageError(`--endpoint "${text}" is not an endpoint id (a UUID, as isogw webhooks list shows)`);
  return text.toLowerCase();
}

function options(args: string[]) {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: {
        client: { type: 'string' },
        payment: { type: 'string' },
        endpoint: { type: 'string' },
        delivery: { type: 'string' },
        state: { type: 'string' },
        limit: { type: 'string' },
        before: { type: 'string' },
        dead: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}" (every value goes with its option, e.g. --endpoint ID)`);
    return values;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    // parseArgs explains over several lines; a usage error is one
    throw new UsageError((error as Error).message.replaceAll('\n', ' '), { cause: error });
  }
}

/** `all` for a subscription to every event type (the usual case), else the types. */
function eventsOf(eventTypes: readonly string[]): string {
  return WEBHOOK_EVENT_TYPES.every((type) => eventTypes.includes(type)) ? 'all' : eventTypes.join(',');
}

function stateOf(endpoint: Pick<EndpointView, 'enabled' | 'disabledReason' | 'disabledAt'>): string {
  return endpoint.enabled ? 'enabled' : `disabled (${endpoint.disabledReason ?? '?'}, ${endpoint.disabledAt ?? '?'})`;
}

/** One line per delivery, then its attempts indented under it. */
function showDeliveries(io: CliIo, deliveries: readonly DeliveryView[], attempts: ReadonlyMap<bigint, readonly AttemptView[]>, none: string): void {
  if (deliveries.length === 0) {
    io.out(none);
    return;
  }
  const rows: string[][] = [['DELIVERY', 'UETR', 'SEQ', 'EVENT', 'STATE', 'ATTEMPTS', 'WHEN', 'ENDPOINT', 'WEBHOOK-ID']];
  const under = new Map<number, string[]>();
  for (const delivery of deliveries) {
    const when =
      delivery.state === 'delivered'
        ? `delivered ${delivery.deliveredAt ?? ''}`
        : delivery.state === 'dead'
          ? `dead ${delivery.deadAt ?? ''}`
          : `next ${delivery.nextAttemptAt}`;
    rows.push([delivery.id.toString(), delivery.uetr, String(delivery.sequence), delivery.eventType, delivery.state, String(delivery.attempts), when, delivery.endpointId, delivery.webhookId]);
    under.set(
      rows.length - 1,
      (attempts.get(delivery.id) ?? []).map(
        (a) =>
          `    attempt ${a.attempt}  ${a.startedAt}  ${a.outcome}${a.httpStatus === null ? '' : `  HTTP ${a.httpStatus}`}${a.retryAfterSeconds === null ? '' : `  Retry-After ${a.retryAfterSeconds}s`}${a.error === null ? '' : `  ${JSON.stringify(a.error)}`}  (${a.relay})`,
      ),
    );
  }
  table(rows).forEach((line, index) => {
    io.out(line);
    for (const attemptLine of under.get(index) ?? []) io.out(attemptLine);
  });
}

/** Left-aligned columns, two spaces apart, the last one unpadded. */
function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '));
}

function bigintAsString(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
