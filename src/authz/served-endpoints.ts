/**
 * The endpoints a machine-only authorization server answers. oidc-provider always mounts more (the authorization
 * endpoint, end_session, interaction resume) even with every related feature off; anything not listed here is
 * answered 404 before oidc-provider sees it, so unused code paths are unreachable rather than merely unconfigured.
 *
 * The mTLS listener is an RFC 8705 §5 alias for the token endpoint only: metadata and keys are published on the
 * issuer listener, where no client certificate is asked for.
 */
import type { Socket } from 'node:net';

import type { KoaContextWithOIDC } from 'oidc-provider';

import { PARTNER_SCOPES } from '../partners/registry.ts';

export const TOKEN_PATH = '/token';
export const JWKS_PATH = '/jwks';

const DISCOVERY_PATHS = new Set(['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']);
const ISSUER_ENDPOINTS = new Set([
  ...[...DISCOVERY_PATHS].map((path) => `GET ${path}`),
  `GET ${JWKS_PATH}`,
  `POST ${TOKEN_PATH}`,
]);
const MTLS_ALIAS_ENDPOINTS = new Set([`POST ${TOKEN_PATH}`]);

export function servedEndpointsOnly(isMtlsConnection: (socket: Socket) => boolean) {
  return async function servedEndpoint(ctx: KoaContextWithOIDC, next: () => Promise<unknown>): Promise<void> {
    const served = isMtlsConnection(ctx.req.socket) ? MTLS_ALIAS_ENDPOINTS : ISSUER_ENDPOINTS;
    // HEAD rides on GET in oidc-provider's router; answer it the same way.
    const method = ctx.method === 'HEAD' ? 'GET' : ctx.method;
    if (!served.has(`${method} ${ctx.path}`)) {
      ctx.status = 404;
      ctx.body = { error: 'not_found', error_description: 'this authorization server does not serve that endpoint' };
      return;
    }
    await next();
  };
}

/**
 * Metadata oidc-provider always publishes about the authorization endpoint, which we do not serve (RFC 8414 makes
 * authorization_endpoint optional when no grant type uses it). Advertising it would point clients at a 404.
 */
const AUTHORIZATION_ENDPOINT_METADATA = [
  'authorization_endpoint',
  'authorization_response_iss_parameter_supported',
  'claim_types_supported',
  'claims_parameter_supported',
  'claims_supported',
  'code_challenge_methods_supported',
  'request_uri_parameter_supported',
  'response_modes_supported',
] as const;

/** Trims discovery to what is served: no authorization endpoint, and only the scopes a partner can be granted. */
export function advertiseServedEndpointsOnly() {
  return async function servedMetadata(ctx: KoaContextWithOIDC, next: () => Promise<unknown>): Promise<void> {
    await next();
    if (!DISCOVERY_PATHS.has(ctx.path) || ctx.status !== 200 || typeof ctx.body !== 'object' || ctx.body === null) return;
    const metadata = ctx.body as Record<string, unknown>;
    for (const member of AUTHORIZATION_ENDPOINT_METADATA) delete metadata[member];
    // oidc-provider always adds "openid"; partners cannot be granted it (their client scope excludes it).
    metadata.scopes_supported = [...PARTNER_SCOPES];
  };
}
