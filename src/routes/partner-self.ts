/**
 * `GET /partners/me` — the connectivity check a partner's integration team runs first: it goes through the whole
 * authentication stack (mTLS, token, binding, DPoP, replay) and answers who we think the caller is. No scope is
 * needed beyond a valid token; nothing about other partners is ever shown.
 */
import type { FastifyInstance } from 'fastify';

import { FAPI_SIGNING_ALGORITHMS } from '../partners/registry.ts';
import { authFailureResponse } from '../payments/responses.ts';
import { isAuthFailure } from '../security/auth-failure.ts';
import type { Authenticator } from '../security/authenticate.ts';
import { authRequestOf } from './intake.ts';

export interface PartnerSelfRouteOptions {
  readonly authenticate: Authenticator;
  readonly now: () => Date;
}

export async function partnerSelfRoute(app: FastifyInstance, options: PartnerSelfRouteOptions): Promise<void> {
  app.get('/partners/me', async (request, reply) => {
    const caller = await options.authenticate(authRequestOf(request, options.now()));
    if (isAuthFailure(caller)) {
      const response = authFailureResponse(caller, FAPI_SIGNING_ALGORITHMS);
      return reply.code(response.status).headers(response.headers).send(response.body);
    }
    if (caller.dpopNonce !== undefined) reply.header('dpop-nonce', caller.dpopNonce);
    return reply.header('cache-control', 'no-store').send({
      clientId: caller.clientId,
      name: caller.partner.name,
      bics: caller.partner.bics,
      scopes: [...caller.scopes],
      binding: caller.binding,
    });
  });
}
