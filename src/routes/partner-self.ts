/**
 * `GET /partners/me` — the connectivity check a partner's integration team runs first: it goes through the whole
 * authentication stack (mTLS, token, binding, DPoP, replay) and answers who we think the caller is. No scope is
 * needed beyond a valid token; nothing about other partners is ever shown.
 */
import type { FastifyInstance } from 'fastify';

import { authorisedCaller, type CallerGateOptions } from './authorised-caller.ts';

export type PartnerSelfRouteOptions = CallerGateOptions;

export async function partnerSelfRoute(app: FastifyInstance, options: PartnerSelfRouteOptions): Promise<void> {
  app.get('/partners/me', async (request, reply) => {
    // No scope beyond a valid token; it counts against the partner's `read` rate limit.
    const caller = await authorisedCaller(request, reply, options, undefined, 'read');
    if (caller === undefined) return reply;
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
