/**
 * The OpenAPI 3.1 document of the gateway's partner API, built from the code that answers (the intake's
 * INTAKE_STATUS, the error tables of the read side, the webhook API, the rate limit and the OAuth refusals), so it
 * cannot drift: `node scripts/write-openapi.ts` writes docs/openapi.json and test/unit/openapi.test.ts fails when it
 * is stale, when a registered route is missing from it (or it names one that does not exist), or when an error
 * code of those tables is missing from its responses.
 */
import { INTAKE_STATUS } from '../payments/intake.ts';
import { RATE_LIMIT_ERRORS } from '../ratelimit/policy.ts';
import { PAYMENTS_READ_ERRORS } from '../routes/payments-read.ts';
import { WEBHOOK_API_ERRORS } from '../routes/webhooks.ts';
import { OAUTH_ERRORS } from '../security/auth-failure.ts';

type Json = Record<string, unknown>;
type ErrorTable = Readonly<Record<string, { readonly status: number }>>;

/** The authorization server's token endpoint; a deployment substitutes its own. */
export const TOKEN_URL_PLACEHOLDER = 'https://authorization-server.example/token';

const problem = (codes: readonly string[]): Json => ({
  type: 'object',
  required: ['error_description'],
  properties: {
    error: { type: 'string', enum: [...codes] },
    error_description: { type: 'string' },
  },
});

/** Error responses by status from tables, each an enum of its codes; the OAuth refusals and the rate limit too. */
function errorResponses(...tables: ErrorTable[]): Json {
  const byStatus = new Map<number, string[]>();
  for (const table of [...tables, OAUTH_ERRORS, RATE_LIMIT_ERRORS] as ErrorTable[]) {
    for (const [code, { status }] of Object.entries(table)) byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].sort(([a], [b]) => a - b).map(([status, codes]) => [
      String(status),
      {
        description: codes.join(', '),
        ...(status === 429 || status === 503 ? { headers: { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } } } : {}),
        content: { 'application/json': { schema: problem(codes) } },
      },
    ]),
  );
}

const ok = (description: string, schema: Json = { type: 'object' }, status = '200'): Json => ({
  [status]: { description, content: { 'application/json': { schema } } },
});

const uetrParameter = { name: 'uetr', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const idParameter = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const jsonBody = (required: boolean): Json => ({ required, content: { 'application/json': { schema: { type: 'object' } } } });

function operation(summary: string, responses: Json, extra: Json = {}): Json {
  return { summary, ...extra, responses };
}

/** The intake: every INTAKE_STATUS, the pacs.002 ones as XML, the problems as JSON. */
function intakeOperation(): Json {
  const xmlStatuses = new Set<number>([INTAKE_STATUS.accepted, INTAKE_STATUS.rejected, INTAKE_STATUS.notEntitled, INTAKE_STATUS.duplicate]);
  const responses: Json = {};
  for (const [name, status] of Object.entries(INTAKE_STATUS)) {
    const key = String(status);
    const existing = (responses[key] as { description: string; content: Json } | undefined) ?? { description: '', content: {} };
    existing.description = existing.description === '' ? name : `${existing.description}, ${name}`;
    if (xmlStatuses.has(status)) existing.content['application/xml'] = { schema: { $ref: '#/components/schemas/Pacs002' } };
    else existing.content['application/json'] = { schema: problem([]) };
    responses[key] = existing;
  }
  for (const [status, response] of Object.entries(errorResponses())) {
    const existing = responses[status] as { description: string; content: Json } | undefined;
    responses[status] = existing === undefined ? response : { ...existing, description: `${existing.description}, ${(response as { description: string }).description}`, content: { ...existing.content, ...(response as { content: Json }).content } };
  }
  return operation('Send a pacs.008; answered with its pacs.002', responses, {
    parameters: [{ name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string', maxLength: 255 } }],
    requestBody: {
      required: true,
      content: {
        'application/xml': { schema: { $ref: '#/components/schemas/Pacs008' } },
        'text/xml': { schema: { $ref: '#/components/schemas/Pacs008' } },
      },
    },
  });
}

export function openApiDocument(): Json {
  const read = errorResponses(PAYMENTS_READ_ERRORS);
  const webhooks = errorResponses(WEBHOOK_API_ERRORS);
  return {
    openapi: '3.1.0',
    info: {
      title: 'iso20022-gateway partner API',
      version: '0.1.0',
      description: 'Every route but /health/live needs mutual TLS and a sender-constrained access token (DPoP, or bound to the client certificate). Error codes: docs/errors.md.',
    },
    servers: [{ url: 'https://localhost:8443' }],
    security: [{ mutualTLS: [], dpop: [] }, { mutualTLS: [], oauth2: [] }],
    paths: {
      '/health/live': { get: operation('Liveness', ok('live'), { security: [] }) },
      '/partners/me': { get: operation('Who the gateway thinks the caller is', { ...ok('the partner'), ...read }) },
      '/payments/{uetr}': {
        get: operation('A payment and its status history, or its latest pacs.002', {
          ...read,
          '200': {
            description: 'JSON, or the latest pacs.002 when Accept names application/xml or text/xml',
            content: { 'application/json': { schema: { type: 'object' } }, 'application/xml': { schema: { $ref: '#/components/schemas/Pacs002' } } },
          },
        }, { parameters: [uetrParameter] }),
      },
      '/accounts': { get: operation("The caller's accounts with their balances", { ...ok('accounts'), ...read }) },
      '/accounts/{id}/balance': { get: operation('One account balance', { ...ok('balance'), ...read }, { parameters: [idParameter] }) },
      '/webhooks/endpoints': {
        post: operation('Register a webhook endpoint (its signing secrets are shown once)', { ...ok('created', { type: 'object' }, '201'), ...webhooks }, { requestBody: jsonBody(true) }),
        get: operation("The caller's webhook endpoints", { ...ok('endpoints'), ...webhooks }),
      },
      '/webhooks/endpoints/{id}': {
        get: operation('One webhook endpoint', { ...ok('endpoint'), ...webhooks }, { parameters: [idParameter] }),
        patch: operation('Change url, eventTypes, description, enabled', { ...ok('changed'), ...webhooks }, { parameters: [idParameter], requestBody: jsonBody(true) }),
      },
      '/webhooks/endpoints/{id}/rotate-secret': {
        post: operation('New signing keys; the old ones sign for overlapSeconds', { ...ok('new keys'), ...webhooks }, { parameters: [idParameter], requestBody: jsonBody(false) }),
      },
      '/webhooks/endpoints/{id}/deliveries': {
        get: operation('Deliveries of an endpoint, newest first', { ...ok('a page of deliveries'), ...webhooks }, {
          parameters: [
            idParameter,
            { name: 'state', in: 'query', schema: { type: 'string' } },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1 } },
            { name: 'before', in: 'query', schema: { type: 'string' } },
          ],
        }),
      },
      '/webhooks/endpoints/{id}/redeliver-dead': {
        post: operation('Everything dead-lettered for the endpoint, pending again', { ...ok('redelivered', { type: 'object' }, '202'), ...webhooks }, { parameters: [idParameter], requestBody: jsonBody(false) }),
      },
      '/webhooks/deliveries/{id}/redeliver': {
        post: operation('One event again (same webhook-id and body)', { ...ok('redelivered', { type: 'object' }, '202'), ...webhooks }, { parameters: [idParameter], requestBody: jsonBody(false) }),
      },
      '/payments/{uetr}/webhooks': {
        get: operation("A payment's deliveries to the caller's endpoints, with attempts", { ...ok('deliveries'), ...webhooks }, { parameters: [uetrParameter] }),
      },
      '/iso20022/pacs.008': { post: intakeOperation() },
    },
    components: {
      securitySchemes: {
        mutualTLS: { type: 'mutualTLS', description: 'A client certificate issued by the gateway operator\'s CA (TLS 1.3).' },
        dpop: { type: 'http', scheme: 'DPoP', description: 'RFC 9449: `Authorization: DPoP <token>` with a `DPoP` proof header.' },
        oauth2: {
          type: 'oauth2',
          description: 'client_credentials at the authorization server (private_key_jwt, FAPI 2.0); a certificate-bound token is sent as Bearer.',
          flows: { clientCredentials: { tokenUrl: TOKEN_URL_PLACEHOLDER, scopes: { 'payments:write': 'send payments, change webhooks', 'payments:read': 'read payments, accounts, webhooks' } } },
        },
      },
      headers: {
        RetryAfter: { description: 'Seconds to wait before retrying', schema: { type: 'integer', minimum: 0 } },
      },
      schemas: {
        Pacs008: { type: 'string', description: 'An ISO 20022 pacs.008 (any version .001.01–.14), bare or with its AppHdr in an envelope' },
        Pacs002: { type: 'string', description: 'An ISO 20022 pacs.002 status report' },
      },
    },
  };
}
