/**
 * The partners' webhook API (issue 5): register endpoints, see what was delivered, send events again.
 *
 *   POST   /webhooks/endpoints                          register one; its signing secrets are shown in this answer only
 *   GET    /webhooks/endpoints                          the caller's endpoints (never their secrets)
 *   GET    /webhooks/endpoints/{id}                     one of them
 *   PATCH  /webhooks/endpoints/{id}                     change url, eventTypes, description; enabled pauses or resumes
 *   POST   /webhooks/endpoints/{id}/rotate-secret       new keys; the old ones keep signing for overlapSeconds
 *   GET    /webhooks/endpoints/{id}/deliveries          its deliveries, newest first, keyset pages
 *   POST   /webhooks/endpoints/{id}/redeliver-dead      everything dead-lettered for it, pending again
 *   POST   /webhooks/deliveries/{id}/redeliver          one event again (same webhook-id and body)
 *   GET    /payments/{uetr}/webhooks                    a payment's deliveries to the caller's endpoints, with attempts
 *
 * Every request is authenticated like any protected route, then needs its scope (payments:write to change
 * anything, payments:read to look) before its path or body is looked at; the body is read only then (JSON only,
 * small, unknown fields refused). A partner sees and changes only its own endpoints and their deliveries: anything
 * else is answered exactly like something that does not exist. The database failing is never the caller's fault:
 * 503 with Retry-After, never a 500. Thin on purpose: the SQL is in webhooks/endpoints.ts and webhooks/operations.ts.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type pg from 'pg';

import { type PaymentReads, UUID_TEXT } from '../payments/read-model.ts';
import { type IntakeResponse, problemResponse } from '../payments/responses.ts';
import type { Caller } from '../security/authenticate.ts';
import {
  createEndpoint,
  EndpointRefused,
  type EndpointRefusalCode,
  type EndpointView,
  getEndpoint,
  listEndpoints,
  rotateSigningKeys,
  setEndpointEnabled,
  updateEndpoint,
} from '../webhooks/endpoints.ts';
import { WEBHOOK_LIMITS } from '../webhooks/limits.ts';
import {
  type AttemptView,
  deliveriesOfEndpoint,
  deliveriesOfPayment,
  deliveryIdOf,
  type DeliveryView,
  DELIVERY_STATES,
  isDeliveryState,
  redeliver,
  redeliverDead,
  WEBHOOK_OPERATION_LIMITS,
} from '../webhooks/operations.ts';
import { answer, authorisedCaller, type CallerGateOptions } from './authorised-caller.ts';
import { json, maySee, READ_SCOPE } from './payments-read.ts';
import { readJsonBody, WEBHOOK_API_BODY_LIMITS } from './webhooks-json-body.ts';

/** The scope every change needs (the same as sending payments: whoever may send may say where to be told). */
export const WEBHOOK_WRITE_SCOPE = 'payments:write';

/** Seconds a client should wait before retrying a request the database could not answer. */
export const WEBHOOKS_UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

const ENDPOINT = '/webhooks/endpoints/{id}';
const BODY_ROUTES = 'POST /webhooks/endpoints, PATCH /webhooks/endpoints/{id}, POST …/rotate-secret, POST …/redeliver, POST …/redeliver-dead';

/**
 * What these routes answer besides their success and the authentication refusals; docs/errors.md is generated from
 * it. Bodies are `{error, error_description}` JSON, `Cache-Control: no-store`.
 */
export const WEBHOOK_API_ERRORS = {
  unsupported_media_type: {
    status: 415,
    route: BODY_ROUTES,
    when: 'A body was sent that is not `application/json` (a `charset` other than utf-8 counts as another type). Actions without arguments may send no body at all.',
  },
  payload_too_large: {
    status: 413,
    route: BODY_ROUTES,
    when: `The body is longer than ${WEBHOOK_API_BODY_LIMITS.bodyBytesMax} bytes.`,
  },
  body_timeout: {
    status: 408,
    route: BODY_ROUTES,
    when: `The body did not arrive within ${WEBHOOK_API_BODY_LIMITS.bodyReadMs / 1000} s.`,
  },
  incomplete_body: {
    status: 400,
    route: BODY_ROUTES,
    when: 'The body broke off before its end.',
  },
  invalid_json: {
    status: 400,
    route: BODY_ROUTES,
    when: 'The body is not UTF-8 JSON, or not a JSON object, or is missing where one is required (POST /webhooks/endpoints, PATCH).',
  },
  unknown_field: {
    status: 400,
    route: BODY_ROUTES,
    when: 'The body has a field the route does not take; the description names it and lists the accepted ones. Nothing was changed.',
  },
  invalid_url: {
    status: 400,
    route: `POST /webhooks/endpoints, PATCH ${ENDPOINT}`,
    when: `\`url\` is missing (on creation), not a string, not an absolute URL, longer than ${WEBHOOK_LIMITS.urlMaxChars} characters, not https (plain http only to a loopback host, and only on a development gateway), with a user name, password or fragment, or naming a host that is not public (an IP literal in a private, loopback or link-local range, \`localhost\`, \`*.local\`, \`*.internal\`, a single-label name).`,
  },
  invalid_event_types: {
    status: 400,
    route: `POST /webhooks/endpoints, PATCH ${ENDPOINT}`,
    when: '`eventTypes` is not a non-empty array of known event types (payment.received, payment.accepted_in_process, payment.settled, payment.rejected). Omit it on creation to receive every type.',
  },
  invalid_description: {
    status: 400,
    route: `POST /webhooks/endpoints, PATCH ${ENDPOINT}`,
    when: '`description` is neither a string of at most 256 characters nor null.',
  },
  invalid_enabled: {
    status: 400,
    route: `PATCH ${ENDPOINT}`,
    when: '`enabled` is not true or false.',
  },
  nothing_to_change: {
    status: 400,
    route: `PATCH ${ENDPOINT}`,
    when: 'The body names none of url, eventTypes, description, enabled.',
  },
  invalid_overlap: {
    status: 400,
    route: `POST ${ENDPOINT}/rotate-secret`,
    when: `\`overlapSeconds\` is not a whole number from 0 to ${WEBHOOK_LIMITS.rotationOverlapMaxSeconds} (7 days); omitted, it is ${WEBHOOK_LIMITS.rotationOverlapDefaultSeconds} (24 h).`,
  },
  invalid_query: {
    status: 400,
    route: `GET ${ENDPOINT}/deliveries`,
    when: `A query parameter other than \`state\` (${DELIVERY_STATES.join(', ')}), \`limit\` (1 to ${WEBHOOK_OPERATION_LIMITS.deliveriesPageMax}, default ${WEBHOOK_OPERATION_LIMITS.deliveriesPageDefault}) and \`before\` (a delivery id, from \`nextBefore\`), one of them twice, or a value outside those.`,
  },
  invalid_uetr: {
    status: 400,
    route: 'GET /payments/{uetr}/webhooks',
    when: 'The UETR is not a UUID (8-4-4-4-12 hexadecimal digits, either case).',
  },
  endpoint_not_found: {
    status: 404,
    route: `${ENDPOINT}, ${ENDPOINT}/*`,
    when: 'No endpoint with this id belongs to the caller. Another partner’s endpoint, and an id that is not a UUID, get exactly this answer.',
  },
  delivery_not_found: {
    status: 404,
    route: 'POST /webhooks/deliveries/{id}/redeliver',
    when: 'No delivery with this id went to one of the caller’s endpoints (another partner’s, and an id that is not a positive integer, get exactly this answer).',
  },
  payment_not_found: {
    status: 404,
    route: 'GET /payments/{uetr}/webhooks',
    when: 'No payment with this UETR that the caller may see (the rule of GET /payments/{uetr}); one it may not see gets exactly this answer.',
  },
  too_many_endpoints: {
    status: 409,
    route: 'POST /webhooks/endpoints',
    when: `The caller already has ${WEBHOOK_LIMITS.endpointsPerPartner} endpoints (disabled ones count).`,
  },
  endpoint_disabled_by_operator: {
    status: 409,
    route: `PATCH ${ENDPOINT}`,
    when: 'The body sets `enabled`, but the gateway’s operators disabled the endpoint: only they can enable it again. Its deliveries wait, none is lost.',
  },
  delivery_in_flight: {
    status: 409,
    route: 'POST /webhooks/deliveries/{id}/redeliver',
    when: 'The delivery is being sent right now; its outcome will be in its attempts. Retry when it is no longer in_flight.',
  },
  webhooks_unavailable: {
    status: 503,
    route: '/webhooks/*, GET /payments/{uetr}/webhooks',
    when: 'The database cannot be reached right now (down, timed out); nothing was changed. Retry-After says when to try again.',
  },
} as const;
export type WebhookApiError = keyof typeof WEBHOOK_API_ERRORS;

/** What the routes need besides authentication: the database (as the app role) and the endpoint URL rules. */
export interface WebhookApiDependencies {
  readonly pool: pg.Pool;
  /** Development only: plain http endpoints on loopback (see webhooks/endpoint-url.ts). */
  readonly allowInsecureEndpoints: boolean;
}

export interface WebhookRouteOptions extends WebhookApiDependencies, CallerGateOptions {
  readonly reads: PaymentReads;
}

const ENDPOINT_FIELDS = ['url', 'eventTypes', 'description'] as const;
const PATCH_FIELDS = [...ENDPOINT_FIELDS, 'enabled'] as const;
const QUERY_PARAMETERS: ReadonlySet<string> = new Set(['state', 'limit', 'before']);
const PAGE_LIMIT_TEXT = /^[1-9][0-9]{0,3}$/;

type Params = { Params: { id: string } };
type Work = (caller: Caller) => Promise<FastifyReply>;

export async function webhooksRoute(app: FastifyInstance, options: WebhookRouteOptions): Promise<void> {
  const { pool, reads } = options;
  const endpointOptions = { allowInsecureEndpoints: options.allowInsecureEndpoints };

  // Bodies are handed over unread, whatever their declared type: authentication and the scope come first, then
  // readJsonBody reads them with its own limits (the intake does the same). Scoped to this plugin.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  /**
   * Authenticates, checks the scope and the partner's `webhooks` rate limit, then runs `work`. An EndpointRefused becomes its documented 4xx; anything
   * else `work` throws is the database failing (no fault of the request): 503 with Retry-After, cause in our log.
   */
  const handle = async (request: FastifyRequest, reply: FastifyReply, scope: string, work: Work): Promise<FastifyReply> => {
    const caller = await authorisedCaller(request, reply, options, scope, 'webhooks');
    if (caller === undefined) return reply;
    try {
      return await work(caller);
    } catch (error) {
      if (error instanceof EndpointRefused) return answer(reply, problem(refusalError(error.code), error.message), caller);
      request.log.error({ err: error }, 'webhook API request failed');
      const response = problem('webhooks_unavailable', 'the webhook store cannot be reached right now; nothing was changed; retry later');
      return answer(reply, { ...response, headers: { ...response.headers, 'retry-after': String(WEBHOOKS_UNAVAILABLE_RETRY_AFTER_SECONDS) } }, caller);
    }
  };

  /** The body as a JSON object with only `fields`; undefined when the refusal has been sent. */
  const bodyOf = async (request: FastifyRequest, reply: FastifyReply, caller: Caller, fields: readonly string[], required: boolean) => {
    const length = request.headers['content-length'];
    const outcome = await readJsonBody(
      {
        contentType: request.headers['content-type'],
        contentLength: length === undefined ? undefined : Number(length),
        body: request.body as AsyncIterable<Uint8Array> | undefined,
      },
      { fields, required },
    );
    if (outcome.kind === 'read') return outcome.fields;
    answer(reply, problem(outcome.error, outcome.description), caller);
    return undefined;
  };

  /** The caller's endpoint with this id, or undefined (and the 404 sent) — the same for another partner's. */
  const ownEndpoint = async (id: string, reply: FastifyReply, caller: Caller): Promise<EndpointView | undefined> => {
    const endpoint = await getEndpoint(pool, id);
    if (endpoint !== undefined && endpoint.clientId === caller.clientId) return endpoint;
    endpointNotFound(reply, caller);
    return undefined;
  };

  app.post('/webhooks/endpoints', (request, reply) => handle(request, reply, WEBHOOK_WRITE_SCOPE, async (caller) => {
    const body = await bodyOf(request, reply, caller, ENDPOINT_FIELDS, true);
    if (body === undefined) return reply;
    if (body.url === undefined) return answer(reply, problem('invalid_url', 'url is required: the https URL to deliver to'), caller);
    const fields = endpointFields(body);
    if (fields.kind === 'refused') return answer(reply, problem(fields.error, fields.description), caller);
    const { endpoint, keys } = await createEndpoint(pool, { clientId: caller.clientId, url: fields.url!, eventTypes: fields.eventTypes, description: fields.description }, endpointOptions);
    return answer(
      reply,
      json(201, { endpoint: endpointJson(endpoint), signing: { secret: keys.secret, publicKey: keys.publicKey } }, { location: `/webhooks/endpoints/${endpoint.id}` }),
      caller,
    );
  }));

  app.get('/webhooks/endpoints', (request, reply) => handle(request, reply, READ_SCOPE, async (caller) => {
    const endpoints = await listEndpoints(pool, caller.clientId);
    return answer(reply, json(200, { endpoints: endpoints.map(endpointJson) }), caller);
  }));

  app.get<Params>('/webhooks/endpoints/:id', (request, reply) => handle(request, reply, READ_SCOPE, async (caller) => {
    const endpoint = await ownEndpoint(request.params.id, reply, caller);
    if (endpoint === undefined) return reply;
    return answer(reply, json(200, { endpoint: endpointJson(endpoint) }), caller);
  }));

  app.patch<Params>('/webhooks/endpoints/:id', (request, reply) => handle(request, reply, WEBHOOK_WRITE_SCOPE, async (caller) => {
    const body = await bodyOf(request, reply, caller, PATCH_FIELDS, true);
    if (body === undefined) return reply;
    if (Object.keys(body).length === 0) return answer(reply, problem('nothing_to_change', `name at least one of ${PATCH_FIELDS.join(', ')}`), caller);
    const fields = endpointFields(body);
    if (fields.kind === 'refused') return answer(reply, problem(fields.error, fields.description), caller);
    if (body.enabled !== undefined && typeof body.enabled !== 'boolean') return answer(reply, problem('invalid_enabled', 'enabled must be true or false'), caller);
    const enabled = body.enabled as boolean | undefined;
    const outcome = await patchEndpoint(pool, request.params.id, caller.clientId, { url: fields.url, eventTypes: fields.eventTypes, description: fields.description, enabled }, endpointOptions);
    switch (outcome.kind) {
      case 'not_found':
        return endpointNotFound(reply, caller);
      case 'disabled_by_operator':
        return answer(reply, problem('endpoint_disabled_by_operator', 'the gateway’s operators disabled this endpoint; only they can enable or disable it now (its deliveries wait)'), caller);
      case 'changed':
        return answer(reply, json(200, { endpoint: endpointJson(outcome.endpoint) }), caller);
    }
  }));

  app.post<Params>('/webhooks/endpoints/:id/rotate-secret', (request, reply) => handle(request, reply, WEBHOOK_WRITE_SCOPE, async (caller) => {
    const body = await bodyOf(request, reply, caller, ['overlapSeconds'], false);
    if (body === undefined) return reply;
    // Absent means the default; an explicit null is a mistake like any other non-number.
    const overlap = body.overlapSeconds === undefined ? WEBHOOK_LIMITS.rotationOverlapDefaultSeconds : body.overlapSeconds;
    const max = WEBHOOK_LIMITS.rotationOverlapMaxSeconds;
    if (typeof overlap !== 'number' || !Number.isSafeInteger(overlap) || overlap < 0 || overlap > max) {
      return answer(reply, problem('invalid_overlap', `overlapSeconds must be a whole number of seconds from 0 to ${max}`), caller);
    }
    if ((await ownEndpoint(request.params.id, reply, caller)) === undefined) return reply;
    const keys = await rotateSigningKeys(pool, request.params.id, overlap, options.now());
    if (keys === undefined) return endpointNotFound(reply, caller);
    return answer(reply, json(200, { signing: { secret: keys.secret, publicKey: keys.publicKey, previousKeysExpireAt: keys.previousKeysExpireAt } }), caller);
  }));

  app.get<Params & { Querystring: Record<string, unknown> }>('/webhooks/endpoints/:id/deliveries', (request, reply) =>
    handle(request, reply, READ_SCOPE, async (caller) => {
      const page = deliveryPageOf(request.query);
      if (page.kind === 'refused') return answer(reply, problem('invalid_query', page.description), caller);
      if ((await ownEndpoint(request.params.id, reply, caller)) === undefined) return reply;
      const { deliveries, nextBefore } = await deliveriesOfEndpoint(pool, request.params.id, page, caller.clientId);
      return answer(reply, json(200, { deliveries: deliveries.map(deliveryJson), nextBefore: nextBefore?.toString() ?? null }), caller);
    }),
  );

  app.post<Params>('/webhooks/endpoints/:id/redeliver-dead', (request, reply) => handle(request, reply, WEBHOOK_WRITE_SCOPE, async (caller) => {
    const body = await bodyOf(request, reply, caller, [], false);
    if (body === undefined) return reply;
    if ((await ownEndpoint(request.params.id, reply, caller)) === undefined) return reply;
    const { redelivered, more } = await redeliverDead(pool, request.params.id);
    return answer(reply, json(202, { redelivered, more }), caller);
  }));

  app.post<Params>('/webhooks/deliveries/:id/redeliver', (request, reply) => handle(request, reply, WEBHOOK_WRITE_SCOPE, async (caller) => {
    const body = await bodyOf(request, reply, caller, [], false);
    if (body === undefined) return reply;
    const id = deliveryIdOf(request.params.id);
    const notFound = () => answer(reply, problem('delivery_not_found', 'no delivery with this id went to one of this partner’s endpoints'), caller);
    if (id === undefined) return notFound();
    const outcome = await redeliver(pool, id, caller.clientId);
    switch (outcome.kind) {
      case 'not_found':
        return notFound();
      case 'in_flight':
        return answer(reply, problem('delivery_in_flight', 'the delivery is being sent right now; see its attempts, and retry once it is no longer in_flight'), caller);
      case 'redelivered':
        return answer(reply, json(202, { delivery: deliveryJson(outcome.delivery) }), caller);
    }
  }));

  app.get<{ Params: { uetr: string } }>('/payments/:uetr/webhooks', (request, reply) => handle(request, reply, READ_SCOPE, async (caller) => {
    const uetr = request.params.uetr.toLowerCase();
    if (!UUID_TEXT.test(uetr)) return answer(reply, problem('invalid_uetr', 'the UETR must be a UUID such as eb6305c9-1f7f-49de-aed0-16487c27b42d'), caller);
    const payment = await reads.paymentByUetr(uetr);
    if (payment === undefined || !maySee(caller, payment)) {
      return answer(reply, problem('payment_not_found', 'no payment with this UETR is visible to this partner'), caller);
    }
    // Only deliveries to the caller's own endpoints: a creditor agent may see the payment, not where its sender is told.
    const deliveries = await deliveriesOfPayment(pool, uetr, caller.clientId);
    return answer(
      reply,
      json(200, { uetr: payment.uetr, deliveries: deliveries.map((delivery) => ({ ...deliveryJson(delivery), attemptLog: delivery.attemptLog.map(attemptJson) })) }),
      caller,
    );
  }));
}

type EndpointPatch = { url?: string | undefined; eventTypes?: readonly string[] | undefined; description?: string | null | undefined; enabled?: boolean | undefined };
type PatchOutcome = { kind: 'changed'; endpoint: EndpointView } | { kind: 'not_found' } | { kind: 'disabled_by_operator' };

/**
 * One transaction: the endpoint row locked (an operator's disable cannot slip in between the check and the change),
 * ownership and the operator's stop checked, then the fields and the enabled state changed together or not at all.
 * A partner's `enabled: false` is reason `partner`; `true` resumes its waiting deliveries.
 */
async function patchEndpoint(
  pool: pg.Pool,
  id: string,
  clientId: string,
  change: EndpointPatch,
  options: { allowInsecureEndpoints: boolean },
): Promise<PatchOutcome> {
  // Not a UUID: no endpoint has it, and the database would answer the cast with an error.
  if (!UUID_TEXT.test(id)) return { kind: 'not_found' };
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('begin');
    const { rows } = await client.query<{ client_id: string; disabled_reason: string | null }>(
      'select client_id, disabled_reason from webhook_endpoints where id = $1 for update',
      [id],
    );
    const locked = rows[0];
    if (locked === undefined || locked.client_id !== clientId) {
      await client.query('rollback');
      return { kind: 'not_found' };
    }
    if (change.enabled !== undefined && locked.disabled_reason === 'operator') {
      await client.query('rollback');
      return { kind: 'disabled_by_operator' };
    }
    let changed = await updateEndpoint(client, id, { url: change.url, eventTypes: change.eventTypes, description: change.description }, options);
    if (change.enabled !== undefined) changed = await setEndpointEnabled(client, id, change.enabled, 'partner');
    await client.query('commit');
    // The row was locked and is never deleted: it is there.
    if (changed === undefined) throw new Error(`endpoint ${id} vanished while locked`);
    return { kind: 'changed', endpoint: changed };
  } catch (error) {
    await client.query('rollback').catch((rollbackError: Error) => (broken = rollbackError));
    throw error;
  } finally {
    client.release(broken);
  }
}

type EndpointFields =
  | { kind: 'read'; url?: string | undefined; eventTypes?: readonly string[] | undefined; description?: string | null | undefined }
  | { kind: 'refused'; error: WebhookApiError; description: string };

/** The JSON types of the endpoint fields; their content (URL rules, known types, length) is endpoints.ts's to check. */
function endpointFields(body: Readonly<Record<string, unknown>>): EndpointFields {
  const { url, eventTypes, description } = body;
  if (url !== undefined && typeof url !== 'string') return { kind: 'refused', error: 'invalid_url', description: 'url must be a string' };
  if (eventTypes !== undefined && (!Array.isArray(eventTypes) || !eventTypes.every((type) => typeof type === 'string'))) {
    return { kind: 'refused', error: 'invalid_event_types', description: 'eventTypes must be an array of event type names' };
  }
  if (description !== undefined && description !== null && typeof description !== 'string') {
    return { kind: 'refused', error: 'invalid_description', description: 'description must be a string or null' };
  }
  return { kind: 'read', url, eventTypes: eventTypes as string[] | undefined, description };
}

type DeliveryPageQuery =
  | { kind: 'read'; state?: (typeof DELIVERY_STATES)[number] | undefined; limit: number; before?: bigint | undefined }
  | { kind: 'refused'; description: string };

function deliveryPageOf(query: Record<string, unknown>): DeliveryPageQuery {
  const refuse = (description: string): DeliveryPageQuery => ({ kind: 'refused', description });
  for (const [name, value] of Object.entries(query)) {
    if (!QUERY_PARAMETERS.has(name)) return refuse(`unknown query parameter ${JSON.stringify(name)}; accepted: state, limit, before`);
    if (typeof value !== 'string') return refuse(`${name} may be given once`);
  }
  const { state, limit, before } = query as Record<string, string | undefined>;
  if (state !== undefined && !isDeliveryState(state)) return refuse(`state must be one of ${DELIVERY_STATES.join(', ')}`);
  const max = WEBHOOK_OPERATION_LIMITS.deliveriesPageMax;
  const pageLimit = limit === undefined ? WEBHOOK_OPERATION_LIMITS.deliveriesPageDefault : PAGE_LIMIT_TEXT.test(limit) ? Number(limit) : Number.NaN;
  if (!(pageLimit >= 1 && pageLimit <= max)) return refuse(`limit must be a whole number from 1 to ${max}`);
  const beforeId = before === undefined ? undefined : deliveryIdOf(before);
  if (before !== undefined && beforeId === undefined) return refuse('before must be a delivery id (a positive integer, as in nextBefore)');
  return { kind: 'read', state, limit: pageLimit, before: beforeId };
}

function refusalError(code: EndpointRefusalCode): WebhookApiError {
  return code;
}

function problem(error: WebhookApiError, description: string): IntakeResponse {
  return problemResponse(WEBHOOK_API_ERRORS[error].status, error, description);
}

function endpointNotFound(reply: FastifyReply, caller: Caller): FastifyReply {
  return answer(reply, problem('endpoint_not_found', 'no webhook endpoint with this id belongs to this partner'), caller);
}

/** The partner's view: its own client id is implied, the secrets are never part of it. */
function endpointJson(endpoint: EndpointView): Record<string, unknown> {
  return {
    id: endpoint.id,
    url: endpoint.url,
    eventTypes: endpoint.eventTypes,
    description: endpoint.description,
    enabled: endpoint.enabled,
    disabledReason: endpoint.disabledReason,
    disabledAt: endpoint.disabledAt,
    createdAt: endpoint.createdAt,
    updatedAt: endpoint.updatedAt,
  };
}

/** Bigint ids as strings; `nextAttemptAt` only while the delivery still has a next attempt. */
function deliveryJson(delivery: DeliveryView): Record<string, unknown> {
  const open = delivery.state === 'pending' || delivery.state === 'in_flight';
  return {
    id: delivery.id.toString(),
    endpointId: delivery.endpointId,
    webhookId: delivery.webhookId,
    eventType: delivery.eventType,
    uetr: delivery.uetr,
    sequence: delivery.sequence,
    state: delivery.state,
    attempts: delivery.attempts,
    nextAttemptAt: open ? delivery.nextAttemptAt : null,
    lastStatus: delivery.lastStatus,
    lastError: delivery.lastError,
    deliveredAt: delivery.deliveredAt,
    deadAt: delivery.deadAt,
    createdAt: delivery.createdAt,
  };
}

/** Which relay made an attempt is ours to know. */
function attemptJson(attempt: AttemptView): Record<string, unknown> {
  return {
    attempt: attempt.attempt,
    startedAt: attempt.startedAt,
    finishedAt: attempt.finishedAt,
    outcome: attempt.outcome,
    httpStatus: attempt.httpStatus,
    error: attempt.error,
    retryAfterSeconds: attempt.retryAfterSeconds,
  };
}
