/**
 * docs/openapi.json: current with the code, structurally an OpenAPI 3.1 document whose every $ref resolves, naming
 * exactly the routes the gateway registers (collected from buildApp with Fastify's onRoute hook), and listing every
 * error code of the intake, the read side, the webhook API, the rate limit and the OAuth refusals.
 */
import { readFileSync } from 'node:fs';

import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';

import { buildApp } from '../../src/app.ts';
import type { GatewayConfig } from '../../src/config/gateway-config.ts';
import { openApiDocument } from '../../src/openapi/openapi-document.ts';
import { INTAKE_STATUS } from '../../src/payments/intake.ts';
import { RATE_LIMIT_ERRORS } from '../../src/ratelimit/policy.ts';
import { PAYMENTS_READ_ERRORS } from '../../src/routes/payments-read.ts';
import { WEBHOOK_API_ERRORS } from '../../src/routes/webhooks.ts';
import { OAUTH_ERRORS } from '../../src/security/auth-failure.ts';
import { SECURITY_LIMITS } from '../../src/security/limits.ts';

type Json = Record<string, unknown>;
const document = JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8')) as Json & { paths: Record<string, Record<string, Json>> };
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** The parts of the OpenAPI 3.1 shape we rely on (the full meta-schema is not vendored). */
const OPENAPI_SHAPE = {
  type: 'object',
  required: ['openapi', 'info', 'paths', 'components'],
  properties: {
    openapi: { type: 'string', pattern: '^3\\.1\\.\\d+$' },
    info: { type: 'object', required: ['title', 'version'] },
    paths: {
      type: 'object',
      propertyNames: { pattern: '^/' },
      additionalProperties: {
        type: 'object',
        propertyNames: { enum: [...METHODS, 'parameters', 'summary', 'description'] },
        additionalProperties: {
          type: 'object',
          required: ['responses'],
          properties: {
            responses: {
              type: 'object',
              minProperties: 1,
              propertyNames: { pattern: '^([1-5][0-9]{2}|default)$' },
              additionalProperties: { type: 'object', required: ['description'] },
            },
            parameters: { type: 'array', items: { type: 'object', required: ['name', 'in'], properties: { in: { enum: ['path', 'query', 'header', 'cookie'] } } } },
          },
        },
      },
    },
    components: {
      type: 'object',
      properties: {
        securitySchemes: {
          type: 'object',
          additionalProperties: { type: 'object', required: ['type'], properties: { type: { enum: ['apiKey', 'http', 'mutualTLS', 'oauth2', 'openIdConnect'] } } },
        },
      },
    },
  },
};

function refsOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(refsOf);
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, inner]) => (key === '$ref' && typeof inner === 'string' ? [inner] : refsOf(inner)));
}

function resolve(pointer: string): unknown {
  if (!pointer.startsWith('#/')) return undefined;
  return pointer
    .slice(2)
    .split('/')
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce<unknown>((node, part) => (typeof node === 'object' && node !== null ? (node as Json)[part] : undefined), document);
}

/** Routes registered by plugins (seen by onRoute), and whether each documented one exists (hasRoute: buildApp
 * registers some before a test could add the hook). */
async function registeredRoutes(documented: readonly string[]): Promise<{ plugins: string[]; missing: string[] }> {
  const routes: string[] = [];
  const config = { clientCertificate: { source: 'tls' }, tls: { minVersion: 'TLSv1.3' }, limits: SECURITY_LIMITS } as unknown as GatewayConfig;
  const unused = () => {
    throw new Error('not called');
  };
  // Only the routes are wanted: the dependencies are never called, and the app never listens.
  const app = buildApp(config, {
    authenticate: unused,
    intake: unused,
    now: () => new Date(),
    reads: {} as never,
    webhooks: { pool: {} as never, allowInsecureEndpoints: false },
  });
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') routes.push(`${method.toLowerCase()} ${route.url.replace(/:([A-Za-z]+)/g, '{$1}')}`);
  });
  await app.ready();
  const missing = documented.filter((route) => {
    const [method = '', path = ''] = route.split(' ');
    return !app.hasRoute({ method: method.toUpperCase() as 'GET', url: path.replace(/\{([A-Za-z]+)\}/g, ':$1') });
  });
  await app.close();
  return { plugins: routes.sort(), missing };
}

describe('the OpenAPI document', () => {
  it('docs/openapi.json is what the code renders (run `node scripts/write-openapi.ts` after changing a route)', () => {
    expect(document).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
  });

  it('has the shape of an OpenAPI 3.1 document', () => {
    const validate = new Ajv2020({ allErrors: true, strict: false }).compile(OPENAPI_SHAPE);
    expect(validate(document), JSON.stringify(validate.errors)).toBe(true);
  });

  it('resolves every $ref inside itself', () => {
    const unresolved = refsOf(document).filter((ref) => resolve(ref) === undefined);
    expect(unresolved).toEqual([]);
  });

  it('names exactly the routes the gateway registers', async () => {
    const documented = Object.entries(document.paths)
      .flatMap(([path, item]) => Object.keys(item).filter((key) => METHODS.includes(key)).map((method) => `${method} ${path}`))
      .sort();
    const registered = await registeredRoutes(documented);
    expect(registered.missing, 'documented but not registered').toEqual([]);
    expect(registered.plugins.filter((route) => !documented.includes(route)), 'registered but not documented').toEqual([]);
  });

  it('declares mutual TLS, DPoP and OAuth 2 client credentials', () => {
    const schemes = (document.components as { securitySchemes: Record<string, { type: string; scheme?: string; flows?: Json }> }).securitySchemes;
    expect(Object.values(schemes).map((s) => s.type).sort()).toEqual(['http', 'mutualTLS', 'oauth2']);
    expect(Object.values(schemes).find((s) => s.type === 'http')?.scheme).toBe('DPoP');
    expect(Object.values(schemes).find((s) => s.type === 'oauth2')?.flows).toHaveProperty('clientCredentials.tokenUrl');
  });

  it('lists every status of the intake and every error code of the tables its routes answer with', () => {
    const intake = document.paths['/iso20022/pacs.008']?.post?.responses as Json;
    for (const status of Object.values(INTAKE_STATUS)) expect(intake, `intake ${status}`).toHaveProperty(String(status));
    const codesOf = (path: string, method: string): string[] =>
      Object.values(document.paths[path]?.[method]?.responses as Record<string, { content?: Record<string, { schema?: { properties?: { error?: { enum?: string[] } } } }> }>).flatMap(
        (response) => Object.values(response.content ?? {}).flatMap((content) => content.schema?.properties?.error?.enum ?? []),
      );
    const authAndLimit = [...Object.keys(OAUTH_ERRORS), ...Object.keys(RATE_LIMIT_ERRORS)];
    expect(codesOf('/iso20022/pacs.008', 'post')).toEqual(expect.arrayContaining(authAndLimit));
    for (const [path, method] of [['/payments/{uetr}', 'get'], ['/accounts', 'get'], ['/accounts/{id}/balance', 'get']] as const) {
      expect(codesOf(path, method), `${method} ${path}`).toEqual(expect.arrayContaining([...Object.keys(PAYMENTS_READ_ERRORS), ...authAndLimit]));
    }
    for (const [path, item] of Object.entries(document.paths).filter(([path]) => path.startsWith('/webhooks') || path.endsWith('/webhooks'))) {
      for (const method of Object.keys(item)) expect(codesOf(path, method), `${method} ${path}`).toEqual(expect.arrayContaining([...Object.keys(WEBHOOK_API_ERRORS), ...authAndLimit]));
    }
  });
});
